"""Recording speed: events per second through POST /api/v1/events, over real HTTP, into SQLite.

Starts the real companion (`crumbs serve`, waitress) on a free port with the shipped rules
and a fresh data folder, then sends batches of real requests from the corpus over one
keep-alive connection (http.client; bodies are encoded before the clock starts, as the
browser encodes them, so the figures are the server's). Peer in the same run: the round
trip of an empty batch (HTTP + auth + JSON, nothing classified or written), so the
per-event cost can be told apart from the HTTP floor.
Targets (issue 14): >= 20,000 events/s in 100-event batches; a 100-event batch answered within 20 ms at the median.
Where the time goes per event: bench_record. Before/after on a shared machine: bench/ab_api.py.
"""

from __future__ import annotations

import http.client
import json
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


def run(quick: bool) -> None:
    corpus = load_corpus(20_000 if quick else None)
    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in corpus if r["type"] != "main_frame"]
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, auth = _start(Path(tmp))
        try:
            conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=60)
            headers = {**auth, "Content-Type": "application/json"}

            def post(batch):
                body = json.dumps({"events": batch}).encode()
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
            for size in (100, 1000):
                total = min(len(events), 10_000 if quick else 40_000)
                times = [post(events[i:i + size]) for i in range(0, total - size + 1, size)]
                sent = len(times) * size
                rate = sent / sum(times)
                print(f"  batches of {size:>4}: {rate:>8,.0f} events/s over {sent:,} events "
                      f"(target >= 20,000) | batch median {median(times) * 1000:.1f} ms, "
                      f"p99 {percentile(times, 99) * 1000:.1f} ms"
                      + (f" (target median <= 20 ms) = {median(times) / median(floor):.1f}x the HTTP floor"
                         if size == 100 else ""))
        finally:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    run("--quick" in sys.argv)
