"""Recording speed: events per second through POST /api/v1/events, over real HTTP, into SQLite.

Starts the real companion (`crumbs serve`, waitress) on a free port with the shipped rules
and a fresh data folder, then sends batches of real requests from the corpus over one
keep-alive connection (http.client; bodies are encoded before the clock starts, as the
browser encodes them, so the figures are the server's), each event numbered (stream, seq) as the extension
numbers it, so the companion's check for a batch sent again is in the figure. Peer in the same run: the round
trip of an empty batch (HTTP + auth + JSON, nothing classified or written), so the
per-event cost can be told apart from the HTTP floor.
Targets (issue 14): >= 20,000 events/s in 100-event batches; a 100-event batch answered within 20 ms at the median.
Batches ask for the short answer, as the extension does; the full answer (an older extension's) is timed
batch by batch in turn with it.
Where the time goes per event: bench_record. Before/after on a shared machine: bench/ab_api.py.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import load_corpus, median, percentile


def _start(data_dir: Path) -> tuple[subprocess.Popen, str, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if found:
            base = found.group(1)
            break
    else:
        raise RuntimeError("the companion did not start")
    token = subprocess.run([sys.executable, "-m", "companion", "token", "--data-dir", str(data_dir)],
                           capture_output=True, text=True, check=True).stdout.strip()
    return proc, base, {"Authorization": f"Bearer {token}"}


def _fsync_floor(folder: Path, times: int) -> list[float]:
    """Seconds per fsync of a 100 kB append in ``folder`` (the data folder's file system): a batch's
    commit cannot be faster on this disk, with this load (other processes write to it too)."""
    path = folder / "fsync-floor.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    spent = []
    try:
        for _ in range(times):
            os.write(fd, b"\0" * 102_400)
            started = time.perf_counter()
            os.fsync(fd)
            spent.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return spent


def run(quick: bool) -> None:
    corpus = load_corpus(20_000 if quick else None)
    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in corpus if r["type"] != "main_frame"]
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, auth = _start(Path(tmp))
        try:
            conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=60)
            headers = {**auth, "Content-Type": "application/json"}

            seqs: dict[str, int] = {}

            def numbered(batch, stream):
                # As the extension numbers its reports (stream, seq), so the resend check is in the figure; one
                # stream per answer and size, so posting the same corpus events twice records them twice.
                first = seqs.get(stream, 0)
                seqs[stream] = first + len(batch)
                return [{**e, "stream": stream, "seq": first + n} for n, e in enumerate(batch, 1)]

            def post(batch, answer="short"):
                # 'short' is what the extension asks for (extension/src/reporting.js); 'full' an older one's answer.
                body = json.dumps({"events": numbered(batch, f"bench-{answer}-{len(batch)}"), "answer": answer}).encode()
                started = time.perf_counter()
                conn.request("POST", "/api/v1/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                return elapsed

            for _ in range(20):  # warm up: engine cache, interning, connection
                post(events[:100])
            floor = [post([]) for _ in range(50 if quick else 200)]
            print(f"  empty batch round trip (HTTP floor): median {median(floor) * 1000:.2f} ms")
            syncs = _fsync_floor(Path(tmp), 30 if quick else 100)
            print(f"  the disk's floor for one commit (append 100 kB, as a batch's WAL frames, then fsync): median "
                  f"{median(syncs) * 1000:.2f} ms, p90 {percentile(syncs, 90) * 1000:.2f} ms = at most "
                  f"{100 / median(syncs):,.0f} events/s in 100-event batches acknowledged on disk, whatever else is done")
            total = min(len(events), 10_000 if quick else 40_000)
            # 100-event batches: the short answer (the extension's) and the full one, batch by batch in turn,
            # so the machine's load falls on both alike.
            times: dict[str, list[float]] = {"short": [], "full": []}
            for k, i in enumerate(range(0, total - 99, 100)):
                for answer in (("short", "full") if k % 2 == 0 else ("full", "short")):
                    times[answer].append(post(events[i:i + 100], answer))
            for answer, values in times.items():
                rate = len(values) * 100 / sum(values)
                print(f"  batches of  100, {answer} answer: {rate:>8,.0f} events/s over {len(values) * 100:,} events "
                      f"(target >= 20,000) | batch median {median(values) * 1000:.1f} ms, "
                      f"p99 {percentile(values, 99) * 1000:.1f} ms (target median <= 20 ms) = "
                      f"{median(values) / median(floor):.1f}x the HTTP floor")
            values = [post(events[i:i + 1000]) for i in range(0, total - 999, 1000)]
            print(f"  batches of 1000, short answer: {len(values) * 1000 / sum(values):>8,.0f} events/s "
                  f"| batch median {median(values) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms")
            print(f"  load average {os.getloadavg()[0]:.1f} (2 cores)")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    run("--quick" in sys.argv)
