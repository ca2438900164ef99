"""Memory and start (issue 14, target 5): `crumbs serve` with EasyList + EasyPrivacy and a million requests.

A data folder subscribes to the shared EasyList and EasyPrivacy (local files: nothing is
downloaded) and gets 1,000,000 recorded requests (bench_scale's generator: 5,000 sites, 5,000
third-party hosts, 10 days; ``--quick``: 200,000). Then the real `crumbs serve` runs as a process:

- start: from spawning the process until ``GET /api/v1/health`` answers, and until the first
  ``POST /api/v1/events`` batch is answered (it also compiles the browser's rules), with the
  engine cache warm (a first start built it). Target: first request <= 1 s. Peer in the same run:
  the bare interpreter importing Flask, waitress and the companion package (what any start pays);
- memory: the server's resident set (VmRSS) after start, after recording 20,000 more events over
  HTTP and after the history pages (overview of all days and 7 days, the busiest site, the map)
  were opened. Target <= 150 MB.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import LISTS, load_corpus  # noqa: E402

TARGET_MB = 150.0
TARGET_START_S = 1.0


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _crumbs(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True, check=True).stdout


def _serve(data: Path) -> tuple[subprocess.Popen, int, float]:
    """Spawn `crumbs serve`; returns the process, its port and the spawn time (perf_counter)."""
    spawned = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return proc, int(found.group(1)), spawned
    raise RuntimeError("the companion did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def run(quick: bool) -> None:
    from bench_scale import generate

    from companion.service import Companion
    from companion import history as core
    from companion.storage import now_ms

    n = 200_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(dir=os.environ.get("CRUMBS_BENCH_TMP")) as tmp:
        data = Path(tmp) / "data"
        for path, name in zip(LISTS, ("easylist", "easyprivacy")):
            _crumbs("lists", "add", str(path), "--name", name, "--data-dir", str(data))
        companion = Companion(data)  # builds the engine cache: later starts are warm
        made = generate(companion.store, n)
        companion.store.set_setting(core.RETENTION_KEY, "365")
        companion.store.set_setting(core.RETENTION_RUN_KEY, str(now_ms()))
        companion.close()
        token = _crumbs("token", "--data-dir", str(data)).strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
                  for r in load_corpus(25_000) if r["type"] != "main_frame"]
        bodies = [json.dumps({"events": events[i:i + 100]}).encode() for i in range(0, 20_000, 100)]

        # Peer: what importing the server's code costs any start.
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import flask, waitress, companion.web, companion.service"], check=True)
        imports = time.perf_counter() - started

        firsts, batches = [], []
        for _ in range(3):
            proc, port, spawned = _serve(data)
            try:
                while True:
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                        conn.request("GET", "/api/v1/health")
                        if conn.getresponse().status == 200:
                            break
                    except OSError:
                        time.sleep(0.005)
                firsts.append(time.perf_counter() - spawned)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/api/v1/events", body=bodies[0], headers=headers)
                response = conn.getresponse()
                response.read()
                assert response.status == 200, response.status
                batches.append(time.perf_counter() - spawned)
            finally:
                _stop(proc)
        print(f"   {made['requests']:,} requests stored; EasyList + EasyPrivacy subscribed (engine cache warm)")
        print(f"   start to first answer (health): {min(firsts):.2f} s best / {sorted(firsts)[1]:.2f} s median of 3 "
              f"(target <= {TARGET_START_S:.0f} s); to first events batch answered: {sorted(batches)[1]:.2f} s | peer: "
              f"importing flask + waitress + companion alone {imports:.2f} s")

        proc, port, _spawned = _serve(data)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", "/api/v1/health")
            conn.getresponse().read()
            after_start = _rss_mb(proc.pid)
            for body in bodies:
                conn.request("POST", "/api/v1/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
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
            for url in ("/?p=all", "/?p=7d", f"/site/{made['top_site']}?p=all", "/map?p=all", "/?p=30d"):
                conn.request("GET", url, headers={**host, "Cookie": cookie})
                response = conn.getresponse()
                response.read()
                assert response.status == 200, (url, response.status)
            after_pages = _rss_mb(proc.pid)
        finally:
            _stop(proc)
        worst = max(after_start, after_recording, after_pages)
        print(f"   resident memory: {after_start:.0f} MB after start, {after_recording:.0f} MB after 20,000 more events, "
              f"{after_pages:.0f} MB after the history pages (target <= {TARGET_MB:.0f} MB: "
              f"{'within' if worst <= TARGET_MB else 'OVER'})")


if __name__ == "__main__":
    run("--quick" in sys.argv)
