"""Before/after recording speed on a shared machine: two companions, batches alternated between them.

    .venv/bin/python bench/ab_api.py OTHER_TREE [--batches N] [--size 100]

Starts this tree's companion and OTHER_TREE's (a checkout of another commit, e.g. made with
``git archive <commit> | tar -x -C /tmp/base``; it runs with this venv, its own code first on
PYTHONPATH), each on a fresh data folder, then posts the same batches to one and the other in turn
over real HTTP (keep-alive, bodies encoded beforehand), so the machine's load falls on both alike.
Prints events/s and batch medians for both, and the ratio.
"""

from __future__ import annotations

import argparse
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

HERE = Path(__file__).resolve().parents[1]


def start(tree: Path, data_dir: Path) -> tuple[subprocess.Popen, int, dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
    for line in proc.stdout:
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
            break
    else:
        raise RuntimeError(f"the companion of {tree} did not start")
    token = subprocess.run([sys.executable, "-m", "companion", "token", "--data-dir", str(data_dir)],
                           capture_output=True, text=True, check=True, env=env, cwd=tree).stdout.strip()
    return proc, port, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", type=Path)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--answer", choices=("short", "full"), default="short")
    args = parser.parse_args()
    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in load_corpus() if r["type"] != "main_frame"]
    # 'short' is what the extension asks for; a tree that does not know the key ignores it (full answer).
    bodies = [json.dumps({"events": events[i:i + args.size], "answer": args.answer}).encode()
              for i in range(0, min(len(events), args.batches * args.size) - args.size + 1, args.size)]
    trees = {"this tree": HERE, "other": args.other.resolve()}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {name: start(tree, Path(tmp) / name.replace(" ", "_")) for name, tree in trees.items()}
        try:
            conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                     for name, (_p, port, _h) in servers.items()}

            def post(name: str, body: bytes) -> float:
                started = time.perf_counter()
                conns[name].request("POST", "/api/v1/events", body=body, headers=servers[name][2])
                response = conns[name].getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"{name}: HTTP {response.status}")
                return time.perf_counter() - started

            for body in bodies[:20]:
                for name in servers:
                    post(name, body)
            times: dict[str, list[float]] = {name: [] for name in servers}
            for k, body in enumerate(bodies):
                order = list(servers) if k % 2 == 0 else list(reversed(servers))
                for name in order:
                    times[name].append(post(name, body))
            rates = {}
            for name, values in times.items():
                rates[name] = len(values) * args.size / sum(values)
                print(f"  {name:10} {rates[name]:>8,.0f} events/s | batch median {median(values) * 1000:.2f} ms, "
                      f"p99 {percentile(values, 99) * 1000:.1f} ms  ({trees[name]})")
            print(f"  this tree / other: {rates['this tree'] / rates['other']:.2f}x "
                  f"({len(bodies)} batches of {args.size} each, alternated, answer {args.answer!r}; "
                  f"load average {os.getloadavg()[0]:.1f})")
        finally:
            for proc, _port, _h in servers.values():
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
