"""Memory and start (issue 14, target 5): `crumbs serve` with EasyList + EasyPrivacy and a million requests.

A data folder subscribes to the shared EasyList and EasyPrivacy (local files: nothing is
downloaded) and gets 1,000,000 requests in its history (bench_scale's generator: 5,000 sites,
5,000 third-party hosts, 10 days; ``--quick``: 200,000). Then the real `crumbs serve` runs as a process:

- start: from spawning the process until ``GET /api/v1/health`` answers, and until the first
  ``POST /api/v1/events`` batch is answered (it also compiles the browser's rules), with the
  engine cache warm (a first start, not counted, built it and the bytecode). Target: first answer
  <= 1 s. Peer, measured in turns with it: the bare interpreter running ``import flask, waitress``
  (what any Flask + waitress server pays before its own code runs). Both run with Python's bytecode
  cache on (in a temporary folder), as an installed package has it, whatever PYTHONDONTWRITEBYTECODE says;
- memory: the server's resident set (VmRSS) after start, after recording 200,000 more requests over
  HTTP (``--quick``: 20,000; every URL distinct, so a cache keyed by URL would show), and after the
  history pages (overview of all days, 7 and 30 days, the busiest site, the map over all days and 7 days)
  were opened and the server had finished what they started in the background.
  Target <= 150 MB.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import LISTS, load_corpus  # noqa: E402

TARGET_MB = 150.0
TARGET_START_S = 1.0
STARTS = 5  # serve starts (and peer starts), in turns


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _settle(pid: int, quiet_s: float = 0.5, limit_s: float = 30.0) -> None:
    """Wait until the process has used no CPU for ``quiet_s`` (its background work done), at most ``limit_s``."""
    def cpu() -> int:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks

    deadline = time.monotonic() + limit_s
    last = cpu()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = cpu()
        if now == last:
            return
        last = now


def _load() -> str:
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def _env(tmp: Path) -> dict[str, str]:
    """The subprocesses' environment: bytecode cached (in ``tmp``, not in the tree), as when installed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def _crumbs(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True, check=True,
                          env=env).stdout


def _serve(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int, float]:
    """Spawn `crumbs serve`; returns the process, its port and the spawn time (perf_counter)."""
    spawned = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return proc, int(found.group(1)), spawned
    raise RuntimeError("the companion did not start")


def _first_answer(port: int) -> None:
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/api/v1/health")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
        except OSError:
            time.sleep(0.002)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def _post(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> None:
    conn.request("POST", "/api/v1/events", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status


def _batches(n: int) -> list[bytes]:
    """``n`` corpus requests in 100-event batches, each URL made distinct by a counter."""
    corpus = [r for r in load_corpus(25_000) if r["type"] != "main_frame"]
    bodies = []
    for start in range(0, n, 100):
        events = []
        for i in range(start, min(start + 100, n)):
            r = corpus[i % len(corpus)]
            sep = "&" if "?" in r["url"] else "?"
            events.append({"url": f"{r['url']}{sep}crumbs_bench={i}", "page_url": r["source_url"], "type": r["type"],
                           "tab_id": 1, "outcome": "reached"})
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (best {min(values):.2f}, worst {max(values):.2f})"


def run(quick: bool) -> None:
    from bench_scale import generate

    from companion.service import Companion
    from companion import history as core
    from companion.storage import now_ms

    n = 200_000 if quick else 1_000_000
    recorded = 20_000 if quick else 200_000
    with tempfile.TemporaryDirectory(dir=os.environ.get("CRUMBS_BENCH_TMP")) as tmp:
        env = _env(Path(tmp))
        data = Path(tmp) / "data"
        data.mkdir()  # commands other than serve refuse a named data folder that does not exist
        for path, name in zip(LISTS, ("easylist", "easyprivacy")):
            _crumbs(env, "lists", "add", str(path), "--name", name, "--data-dir", str(data))
        companion = Companion(data)  # builds the engine cache: later starts are warm
        started = time.perf_counter()
        made = generate(companion.store, n)
        companion.store.set_setting(core.RETENTION_KEY, "365")
        companion.store.set_setting(core.RETENTION_RUN_KEY, str(now_ms()))
        companion.close()
        print(f"   {made['requests']:,} requests in the history ({time.perf_counter() - started:.0f} s to generate); "
              f"EasyList + EasyPrivacy subscribed", flush=True)
        token = _crumbs(env, "token", "--data-dir", str(data)).strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        bodies = _batches(recorded)

        proc, port, _ = _serve(data, env)  # warm-up, not counted: bytecode written, files in the OS cache
        _first_answer(port)
        _stop(proc)
        firsts, batches, peers = [], [], []
        for _ in range(STARTS):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import flask, waitress"], check=True, env=env)
            peers.append(time.perf_counter() - started)
            proc, port, spawned = _serve(data, env)
            try:
                _first_answer(port)
                firsts.append(time.perf_counter() - spawned)
                _post(http.client.HTTPConnection("127.0.0.1", port, timeout=60), bodies[0], headers)
                batches.append(time.perf_counter() - spawned)
            finally:
                _stop(proc)
        first, peer = statistics.median(firsts), statistics.median(peers)
        print(f"   start to first answer (GET /health, engine cache warm): {_spread(firsts)} of {STARTS} "
              f"(target <= {TARGET_START_S:.0f} s: {'within' if first <= TARGET_START_S else 'OVER'}); "
              f"to the first events batch answered: median {statistics.median(batches):.2f} s ({_load()})")
        print(f"   peer: `python -c 'import flask, waitress'`: {_spread(peers)}; crumbs serve / peer: {first / peer:.2f}x")

        proc, port, _spawned = _serve(data, env)
        try:
            _first_answer(port)
            after_start = _rss_mb(proc.pid)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            started = time.perf_counter()
            for body in bodies:
                _post(conn, body, headers)
            rate = recorded / (time.perf_counter() - started)
            after_recording = _rss_mb(proc.pid)
            from companion import auth
            from companion.storage import Store

            store = Store(data / "crumbs.sqlite3")
            code = auth.new_signin_code(store)
            store.close()
            host = {"Host": f"127.0.0.1:{port}"}
            conn.request("GET", f"/signin/{code}", headers=host)
            response = conn.getresponse()
            response.read()
            cookie = response.getheader("Set-Cookie", "").split(";")[0]
            pages = []
            # Every period's sums end up in memory: the overviews (from SQL the first time, their sums then made
            # in the background), a site and the map over all days, the map over 7 days; then the server is
            # left to finish what it does in the background before its memory is read.
            for url in ("/?p=all", "/?p=7d", f"/site/{made['top_site']}?p=all", "/map?p=all", "/?p=30d",
                        "/map?p=7d", "/?p=7d", "/?p=all"):
                conn.request("GET", url, headers={**host, "Cookie": cookie})
                response = conn.getresponse()
                response.read()
                assert response.status == 200, (url, response.status)
                _settle(proc.pid)
                pages.append(f"{url.split('?')[0].split('/')[1] or 'overview'} {url.split('=')[-1]} {_rss_mb(proc.pid):.0f}")
            after_pages = _rss_mb(proc.pid)
        finally:
            _stop(proc)
        worst = max(after_start, after_recording, after_pages)
        print(f"   resident memory: {after_start:.0f} MB after start, {after_recording:.0f} MB after {recorded:,} more "
              f"requests recorded over HTTP ({rate:,.0f}/s), {after_pages:.0f} MB after the history pages "
              f"(target <= {TARGET_MB:.0f} MB: {'within' if worst <= TARGET_MB else 'OVER'}; {_load()})")
        print(f"   after each page (MB): {', '.join(pages)}")


if __name__ == "__main__":
    run("--quick" in sys.argv)
