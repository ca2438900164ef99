"""Where the time of a recorded event goes: HTTP, JSON, classification, SQLite (issue 14, target 2).

The HTTP figure comes from bench_api (the real server over a socket); this one takes the same
100-event batches apart in process, stage by stage, as ``POST /api/v1/events`` runs them:

- JSON in: ``orjson.loads`` of the request body;
- classify: validate + classify + decide each event (``parse_event``, ``Classifier``, ``policy``);
- SQLite: ``Store.record`` of the batch (one transaction, committed with ``synchronous=FULL``:
  the fsync that makes "acknowledged" mean "on disk" is inside this figure), with the check that an
  event was not recorded before and the move of its stream's mark (storage/delivered.py): the events
  are numbered as the extension numbers them, a stream per round (each round a worker start);
- JSON out: the short answer the extension asks for (``web.api.short_results`` + ``orjson.dumps``;
  the full answer's dump is printed beside it);
- rules version: the per-batch check whether the browser's rules changed.

Stages run in rotation batch after batch (the machine is shared: noise falls on every stage
alike), repeated ``ROUNDS`` times for wall time and ``ROUNDS`` times for this thread's CPU time; the
median per-event microseconds of each stage are printed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from common import load_corpus

ROUNDS = 3
STAGES = ("JSON in", "classify", "SQLite", "JSON out", "rules version")


def run(quick: bool) -> None:
    import os

    from companion.policy import decide
    from companion.service import Companion, parse_event
    from companion.storage import RecordedEvent, now_ms
    from companion.web import create_app
    from companion.web.api import short_results

    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in load_corpus(6000 if quick else 30_000) if r["type"] != "main_frame"]
    batches = [events[i:i + 100] for i in range(0, len(events) - 99, 100)]

    # Each event with its place in a stream, as the extension queues them. A round's stream is put in
    # by replacing the bytes of this one (a fixed width): the events made again as objects every round
    # would leave garbage the collector then spends the timed stages' time on.
    seq = iter(range(1, len(events) + 1))
    numbered = [orjson.dumps({"events": [dict(e, stream="round-0", seq=next(seq)) for e in b], "answer": "short"})
                for b in batches]
    with tempfile.TemporaryDirectory() as tmp:
        companion = Companion(Path(tmp) / "data")
        app = create_app({"COMPANION": companion, "PORT": 8737})
        dnr = app.extensions["crumbs_dnr"]
        companion.report(batches[0])
        dnr.version()
        clocks = {"wall": time.perf_counter, "CPU": time.thread_time}
        per_stage = {(clock, k): [] for clock in clocks for k in STAGES}
        full_out = {clock: [] for clock in clocks}
        for round_ in range(ROUNDS * 2):
            # Rounds alternate the clock read: wall time (what the answer waits for, the fsync included)
            # and this thread's CPU time (what the machine's load inflates least).
            clock_name = "wall" if round_ % 2 == 0 else "CPU"
            clock = clocks[clock_name]
            # new events: the same ones again would be recorded once
            bodies = [b.replace(b'"round-0"', f'"round-{round_}"'.encode()) for b in numbered]
            spent = dict.fromkeys(STAGES, 0.0)
            spent_full = 0.0
            n = 0
            for body in bodies[1:]:
                t0 = clock()
                raw = orjson.loads(body)["events"]
                t1 = clock()
                now = now_ms()
                choices = companion.choices()
                recorded, results = [], []
                for item in raw:
                    event = parse_event(item, now)
                    verdict = decide(companion.classifier.classify(event.url, event.page_url, event.type), choices, now)
                    recorded.append(RecordedEvent(verdict, event.time, event.browser_blocked, event.outcome_reported,
                                                  event.stream, event.seq))
                    results.append({"ok": True, "verdict": verdict})
                t2 = clock()
                companion.store.record(recorded)
                t3 = clock()
                short, about = short_results(results)
                orjson.dumps({"results": short, "about": about, "tabs": {}, "rules_version": "x"})
                t4 = clock()
                dnr.version()
                t5 = clock()
                orjson.dumps({"results": results, "tabs": {}, "rules_version": "x"})  # the full answer, apart
                spent_full += clock() - t5
                for key, a, b in (("JSON in", t0, t1), ("classify", t1, t2), ("SQLite", t2, t3),
                                  ("JSON out", t3, t4), ("rules version", t4, t5)):
                    spent[key] += b - a
                n += len(raw)
            for key in STAGES:
                per_stage[(clock_name, key)].append(spent[key] / n * 1e6)
            full_out[clock_name].append(spent_full / n * 1e6)
        print(f"   per event, 100-event batches, median of {ROUNDS} rounds over {len(bodies) - 1} batches "
              f"(load average {os.getloadavg()[0]:.1f}):")
        print(f"     {'stage':14} {'wall':>9} {'CPU':>9}")
        totals = dict.fromkeys(clocks, 0.0)
        for key in STAGES:
            cells = []
            for clock_name in clocks:
                med = statistics.median(per_stage[(clock_name, key)])
                totals[clock_name] += med
                cells.append(f"{med:7.1f} us")
            print(f"     {key:14} {' '.join(cells)}" + ("  (short answer, as the extension asks; the full one: "
                  + " / ".join(f"{statistics.median(full_out[c]):.1f}" for c in clocks) + " us)"
                  if key == "JSON out" else "") + ("  (the commit's fsync is wall time, not CPU)" if key == "SQLite" else ""))
        print(f"     {'sum':14} {totals['wall']:7.1f} us {totals['CPU']:7.1f} us  = {1e6 / totals['wall']:,.0f} "
              f"events/s before HTTP (HTTP: bench_api's empty-batch floor / 100 per event on top)")
        print(f"   database: {companion.store.count_requests():,} requests")
        companion.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    run("--quick" in sys.argv)
