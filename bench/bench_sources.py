"""Knowledge sources (issue 13, item 5): of the requests flagged as trackers in the shared corpus, the share that
carries an owner - with Crumbs' shipped knowledge only, and with the person's knowledge sources added.

Setup: the shipped list plus EasyList + EasyPrivacy (the shared copies) in force, every corpus request
classified by the product's own :class:`companion.classify.Classifier`; "flagged" is ``Verdict.tracker``
(a list blocks it, third party, not the page's own company), "carries an owner" is ``Verdict.owner``.

Crumbs ships no source data and this machine is offline, so the sources come only from files the person
points the bench at: ``CRUMBS_DISCONNECT_JSON`` (Disconnect's services.json) and ``CRUMBS_TDS_JSON``
(DuckDuckGo's TDS). Without them the bench says so and prints the shipped-only figure. Target: >= 95%
with both sources added. ``--quick`` classifies every 10th request.
"""
from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import LISTS, load_corpus  # noqa: E402
from companion.classify import Classifier  # noqa: E402
from companion.engine import Engine  # noqa: E402
from companion.knowledge import Knowledge, SourceFacts, SourceFormatError, parse_source  # noqa: E402
from companion.trackerdb import RULES_DIR, TrackerDB  # noqa: E402

TARGET = 0.95
ENV = {"CRUMBS_DISCONNECT_JSON": "Disconnect", "CRUMBS_TDS_JSON": "DuckDuckGo"}


def given_sources() -> list[SourceFacts]:
    """The source files named by the environment, read with the product's parser (a bad file is one line)."""
    out = []
    for var, label in ENV.items():
        path = os.environ.get(var)
        if not path:
            continue
        try:
            out.append(parse_source(Path(path).expanduser().read_bytes(), label))
        except (OSError, SourceFormatError) as exc:
            print(f"   {var}={path}: not used ({exc})")
    return out


def measure(classifier: Classifier, rows: list[dict]) -> dict:
    flagged = owned = 0
    by_source: Counter = Counter()
    unowned: Counter = Counter()
    for row in rows:
        url, page, kind = row["url"], row.get("source_url") or None, row.get("type") or "other"
        try:
            verdict = classifier.classify(url, page, kind)
        except ValueError:
            continue
        if not verdict.tracker:
            continue
        flagged += 1
        if verdict.owner:
            owned += 1
            by_source[verdict.owner_source] += 1
        else:
            unowned[verdict.domain] += 1
    return {"flagged": flagged, "owned": owned, "by_source": by_source, "unowned": unowned}


def report(title: str, m: dict) -> None:
    share = m["owned"] / m["flagged"] if m["flagged"] else float("nan")
    print(f"   {title}: {m['owned']:,} of {m['flagged']:,} flagged requests carry an owner = {share:.1%} "
          f"(target with both sources >= {TARGET:.0%})")
    if m["by_source"]:
        print("     owners from: " + ", ".join(f"{s} {n:,}" for s, n in m["by_source"].most_common()))
    if m["unowned"]:
        print("     most frequent domains without an owner: "
              + ", ".join(f"{d} ({n})" for d, n in m["unowned"].most_common(8)))


def run(quick: bool = False) -> None:
    rows = load_corpus()
    if quick:
        rows = rows[::10]
    started = time.perf_counter()
    engine = Engine.from_files([RULES_DIR / "crumbs-trackers.txt", *LISTS])
    base = TrackerDB.load()
    print(f"   lists: crumbs-trackers + EasyList + EasyPrivacy; {len(rows):,} corpus requests; "
          f"engine built in {time.perf_counter() - started:.1f} s")
    shipped = measure(Classifier(engine, Knowledge(base)), rows)
    report("shipped knowledge only", shipped)
    sources = given_sources()
    if not sources:
        print("   no knowledge source given (set CRUMBS_DISCONNECT_JSON and/or CRUMBS_TDS_JSON to downloaded "
              "files): Crumbs ships none, so only the shipped-only figure is measured")
        return
    names = " + ".join(f"{s.label} ({len(s.trackers):,} entries)" for s in sources)
    report(f"with {names}", measure(Classifier(engine, Knowledge(base, sources)), rows))


if __name__ == "__main__":
    run("--quick" in sys.argv)
