"""Where the time of a recorded event goes: HTTP, JSON, classification, SQLite (issue 14, target 2).

The HTTP figure comes from bench_api (the real server over a socket); this one takes the same
100-event batches apart in process, stage by stage, as ``POST /api/v1/events`` runs them:

- JSON in: ``orjson.loads`` of the request body;
- classify: validate + classify + decide each event (``parse_event``, ``Classifier``, ``policy``);
- SQLite: ``Store.record`` of the batch (one transaction, committed with ``synchronous=FULL``:
  the fsync that makes "acknowledged" mean "on disk" is inside this figure);
- JSON out: ``orjson.dumps`` of the answer (one verdict per event);
- rules version: the per-batch check whether the browser's rules changed.

Stages run in rotation batch after batch (the machine is shared: noise falls on every stage
alike), repeated ``ROUNDS`` times; the median per-event microseconds of each stage are printed.
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


def run(quick: bool) -> None:
    from companion.policy import decide
    from companion.service import Companion, parse_event
    from companion.storage import RecordedEvent, now_ms
    from companion.web import create_app

    events = [{"url": r["url"], "page_url": r["source_url"], "type": r["type"], "tab_id": 1}
              for r in load_corpus(6000 if quick else 30_000) if r["type"] != "main_frame"]
    batches = [events[i:i + 100] for i in range(0, len(events) - 99, 100)]
    bodies = [orjson.dumps({"events": b}) for b in batches]
    with tempfile.TemporaryDirectory() as tmp:
        companion = Companion(Path(tmp) / "data")
        app = create_app({"COMPANION": companion, "PORT": 8737})
        dnr = app.extensions["crumbs_dnr"]
        companion.report(batches[0])
        dnr.version()
        per_stage: dict[str, list[float]] = {k: [] for k in ("JSON in", "classify", "SQLite", "JSON out", "rules version")}
        for _ in range(ROUNDS):
            spent = dict.fromkeys(per_stage, 0.0)
            n = 0
            for body in bodies[1:]:
                t0 = time.perf_counter()
                raw = orjson.loads(body)["events"]
                t1 = time.perf_counter()
                now = now_ms()
                choices = companion.choices()
                recorded, results = [], []
                for item in raw:
                    event = parse_event(item, now)
                    verdict = decide(companion.classifier.classify(event.url, event.page_url, event.type), choices, now)
                    recorded.append(RecordedEvent(verdict, event.time, event.browser_blocked))
                    results.append({"ok": True, "verdict": verdict})
                t2 = time.perf_counter()
                companion.store.record(recorded)
                t3 = time.perf_counter()
                orjson.dumps({"results": results, "tabs": {}, "rules_version": "x"})
                t4 = time.perf_counter()
                dnr.version()
                t5 = time.perf_counter()
                for key, a, b in (("JSON in", t0, t1), ("classify", t1, t2), ("SQLite", t2, t3),
                                  ("JSON out", t3, t4), ("rules version", t4, t5)):
                    spent[key] += b - a
                n += len(raw)
            for key in per_stage:
                per_stage[key].append(spent[key] / n * 1e6)
        total = 0.0
        print(f"   per event, 100-event batches, median of {ROUNDS} rounds over {len(bodies) - 1} batches:")
        for key, values in per_stage.items():
            med = statistics.median(values)
            total += med
            print(f"     {key:14} {med:7.1f} us")
        print(f"     {'sum':14} {total:7.1f} us  = {1e6 / total:,.0f} events/s before HTTP "
              f"(HTTP: bench_api's empty-batch floor / 100 per event on top)")
        print(f"   database: {companion.store.count_requests():,} requests")
        companion.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    run("--quick" in sys.argv)
