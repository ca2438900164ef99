"""The extension's own cost per observed request, in the real Chromium (issue 14, target 6).

A page making 500 requests (`many.html?n=500&k=30`: half to 30 tracker domains of the shipped
list, which the browser's rules block, half first-party) is loaded again and again in a headless
Chromium with the unpacked extension, paired with a real companion. For each load:

- handlers: the time spent inside the reporter's own entry points (webRequest started /
  answered / failed, the batch flush up to its network wait, each delivered verdict with its badge
  redraw, each companion answer), wrapped in the worker with performance.now(); divided by the
  requests the browser showed the extension (the page and its 500 sub-requests);
- worker CPU: a CPU profile of the extension's service worker over the same load (DevTools
  protocol, 100 us sampling): every non-idle sample, so it includes what the wrappers cannot see
  (listener glue, JSON, storage writes of the tab state and the queue).

Loads 1..N run one after another, so anything per request that grows with history shows as a
rising cost; the same is then done with the companion stopped (reports pile up in the offline
queue, which is written to storage). Target: < 0.2 ms per request, flat across loads.

    python bench/bench_extension.py [--quick]

The machine is shared (2 cores, other work running): figures are per load, with the load average.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from browser_env import chromium_with_extension, free_port, load_note, wait_until  # noqa: E402

N_REQUESTS = 500
TRACKERS = 30

# Wraps the reporter's entry points (looked up on the instance at call time by the listeners).
INSTRUMENT = """(() => {
  const R = self.crumbs.reporter;
  if (R.__bench) return 'already';
  const acc = (R.__bench = {ms: 0, calls: 0, by: {}, events: 0});
  const wrap = (name) => {
    const f = R[name];
    R[name] = function (...args) {
      const t = performance.now();
      try { return f.apply(this, args); }
      finally {
        const d = performance.now() - t;
        acc.ms += d; acc.calls += 1;
        const b = acc.by[name] || (acc.by[name] = [0, 0]);
        b[0] += d; b[1] += 1;
        if (name === 'started' || name === 'answered' || name === 'failed') acc.events += 1;
      }
    };
  };
  for (const n of ['started', 'answered', 'failed', 'flush', 'onDelivered', 'onAnswer']) wrap(n);
  return 'ok';
})()"""

SNAPSHOT = """(() => { const a = self.crumbs.reporter.__bench;
  const s = JSON.parse(JSON.stringify(a)); a.ms = 0; a.calls = 0; a.by = {}; a.events = 0; return s; })()"""

SETTLED = """(() => { const r = self.crumbs.reporter;
  return r.pending.size === 0 && !r.inFlight && (r.queue.length === 0 || r.nextTryAt > 0)
    ? r.queue.length + 1 : 0; })()"""


class WorkerProfiler:
    """CPU profile of the extension's service worker over the DevTools protocol."""

    def __init__(self, port: int, url_prefix: str) -> None:
        from websockets.sync.client import connect
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        target = next(t for t in targets if t.get("type") == "service_worker"
                      and t.get("url", "").startswith(url_prefix))
        self.ws = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10)  # noqa: SIM115
        self.prefix = url_prefix
        self.n = 0
        self.top: dict[str, float] = {}  # self time by function, over every profile taken
        self.ours: dict[str, float] = {}  # the same samples charged to the extension's own function nearest them
        self.lock = threading.Lock()
        self.call("Profiler.enable")
        self.call("Profiler.setSamplingInterval", interval=100)

    def call(self, method: str, **params):
        with self.lock:
            self.n += 1
            mid = self.n
            self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
            while True:
                msg = json.loads(self.ws.recv(timeout=60))
                if msg.get("id") == mid:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg.get("result", {})

    def start(self) -> None:
        self.call("Profiler.start")

    def stop(self) -> dict[str, float]:
        """Milliseconds of samples by kind: js (including GC) and program, idle left out."""
        prof = self.call("Profiler.stop")["profile"]
        kind = {}
        for node in prof["nodes"]:
            name = node["callFrame"]["functionName"]
            kind[node["id"]] = ("idle" if name == "(idle)" else "program" if name == "(program)"
                                else "gc" if name == "(garbage collector)" else "js")
        where = {n["id"]: f"{n['callFrame']['functionName'] or '(anonymous)'} "
                          f"{n['callFrame']['url'].rsplit('/', 1)[-1]}:{n['callFrame']['lineNumber'] + 1}"
                 for n in prof["nodes"]}
        # Which of the extension's own functions a sample is in or below (a browser call it made, JSON
        # of its storage write): the nearest ancestor whose script is the extension's.
        parent = {c: n["id"] for n in prof["nodes"] for c in n.get("children", [])}
        url = {n["id"]: n["callFrame"]["url"] for n in prof["nodes"]}
        owner: dict[int, str] = {}

        def ours(nid: int) -> str:
            if nid not in owner:
                chain, cur = [], nid
                while cur is not None and cur not in owner and not url.get(cur, "").startswith(self.prefix):
                    chain.append(cur)
                    cur = parent.get(cur)
                found = owner.get(cur, where.get(cur, "?")) if cur is not None else "(browser, outside the extension's code)"
                for c in chain + ([cur] if cur is not None else []):
                    owner[c] = found
            return owner[nid]
        out = {"js": 0.0, "gc": 0.0, "program": 0.0, "idle": 0.0}
        for sid, dt in zip(prof["samples"], prof["timeDeltas"]):
            k = kind.get(sid, "js")
            out[k] += dt / 1000
            if k != "idle":
                self.top[where.get(sid, "?")] = self.top.get(where.get(sid, "?"), 0.0) + dt / 1000
                mine = ours(sid) if k == "js" else f"({k})"
                self.ours[mine] = self.ours.get(mine, 0.0) + dt / 1000
        return out

    def close(self) -> None:
        self.ws.close()


def _one_load(env, profiler: WorkerProfiler | None, page) -> dict:
    sw = env["sw"]
    sw.evaluate(SNAPSHOT)  # start from zero
    if profiler:
        profiler.start()
    started = time.perf_counter()
    page.goto(f"https://bench.example/many.html?n={N_REQUESTS}&k={TRACKERS}&t={time.time()}")
    page.wait_for_function("window.done === true", timeout=120000)
    # Until every report of this load was delivered (or, companion down, is waiting in the queue).
    wait_until(lambda: sw.evaluate(SETTLED), timeout=60, interval=0.05)
    time.sleep(0.8)  # the tab-state write (500 ms after the last change) belongs to this load too
    wall = time.perf_counter() - started
    cpu = profiler.stop() if profiler else None
    snap = sw.evaluate(SNAPSHOT)
    queued = sw.evaluate("self.crumbs.reporter.queue.length")
    return {"snap": snap, "cpu": cpu, "wall": wall, "queued": queued}


def run(quick: bool) -> None:
    """Print the per-request cost of the extension, load after load, companion up then down."""
    loads_up = 3 if quick else 10
    loads_down = 2 if quick else 5
    port = free_port()
    rows = []
    with chromium_with_extension(cdp_port=port) as env:
        sw = env["sw"]
        assert sw.evaluate(INSTRUMENT) in ("ok", "already")
        try:
            profiler = WorkerProfiler(port, f"chrome-extension://{env['extension_id']}/")
        except Exception as exc:  # noqa: BLE001 - the wrappers still measure
            print(f"(no worker CPU profile: {exc})")
            profiler = None
        page = env["ctx"].new_page()
        # One unmeasured load: first use of every code path, and the companion's first answers.
        page.goto(f"https://bench.example/many.html?n={N_REQUESTS}&k={TRACKERS}")
        page.wait_for_function("window.done === true", timeout=120000)
        wait_until(lambda: sw.evaluate(SETTLED), timeout=60)
        for i in range(loads_up):
            rows.append(("up", i + 1, _one_load(env, profiler, page)))
        env["companion"].stop()
        for i in range(loads_down):
            rows.append(("down", i + 1, _one_load(env, profiler, page)))
        env["companion"].start()
        top = sorted(profiler.top.items(), key=lambda kv: -kv[1])[:10] if profiler else []
        ours = sorted(profiler.ours.items(), key=lambda kv: -kv[1])[:12] if profiler else []
        if profiler:
            profiler.close()

    print(load_note())
    print(f"page: {N_REQUESTS} sub-requests ({N_REQUESTS // 2} to {TRACKERS} tracker domains, blocked by "
          f"the browser's rules; the rest first-party), loaded again in the same tab")
    hdr = (f"{'companion':<10}{'load':>5}{'events':>8}{'handlers ms':>13}{'ms/request':>12}"
           f"{'worker JS ms':>14}{'ms/request':>12}{'queued':>8}")
    print(hdr)
    print("-" * len(hdr))
    per_req_up, per_req_down, cpu_up = [], [], []
    for state, i, r in rows:
        snap, cpu = r["snap"], r["cpu"]
        requests = N_REQUESTS + 1  # the page itself and its sub-requests
        h = snap["ms"] / requests
        js = (cpu["js"] + cpu["gc"]) if cpu else float("nan")
        (per_req_up if state == "up" else per_req_down).append(h)
        if state == "up":
            cpu_up.append(js / requests)
        print(f"{state:<10}{i:>5}{snap['events']:>8}{snap['ms']:>13.1f}{h:>12.3f}{js:>14.1f}"
              f"{js / requests:>12.3f}{r['queued']:>8}")
    by = {}
    for state, _, r in rows:
        if state == "up":
            for name, (ms, n) in r["snap"]["by"].items():
                b = by.setdefault(name, [0.0, 0])
                b[0] += ms
                b[1] += n
    print("where the handler time goes (companion up, all loads): " + ", ".join(
        f"{name} {ms / max(1, n) * 1000:.0f} us x {n}" for name, (ms, n) in sorted(by.items(), key=lambda kv: -kv[1][0])))
    if top:
        print("worker self time by function (all loads, companion up and down): " + "; ".join(
            f"{name} {ms:.0f} ms" for name, ms in top))
    if ours:
        print("the same, charged to the extension's own function nearest each sample: " + "; ".join(
            f"{name} {ms:.0f} ms" for name, ms in ours))
    first, last = per_req_up[0], statistics.median(per_req_up[-3:])
    # Issue 14's target is the handlers' time; the worker's CPU also counts the browser's own glue for the
    # extension (each webRequest event's copy, the action API's bindings), shown for what it is, not judged.
    print(f"targets: handlers {statistics.median(per_req_up):.3f} ms/request median (< 0.2); worker CPU "
          f"{statistics.median(cpu_up):.3f} ms/request, the browser's glue included (reported, no target); "
          f"growth over {loads_up} loads: "
          f"{last / first:.2f}x (flat ~1.0); companion down: {statistics.median(per_req_down):.3f} ms/request")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer page loads")
    run(ap.parse_args().quick)
