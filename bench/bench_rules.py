"""Coverage of the shipped rules (`rules/`) against EasyList + EasyPrivacy over the request corpus.

Figures (targets from the companion issue):
  (a) of the third-party requests EasyList+EasyPrivacy block, the share the shipped list alone flags (>= 85%)
  (b) of all third-party requests, the share the shipped list flags but neither list does (<= 2%)
  (c) of the requests the shipped list flags, the share whose host has owner, category and description (>= 95%)

Third-party: the registrable domains (tldextract, bundled ICANN suffixes, offline) of url and
source_url differ. Matching goes through `companion.engine.Engine`, the product's own matcher.
Knowledge figures (issue 13), from `rules/trackers.json` alone:
  (d) coverage of the top 100 and top 500 of ../shared/data/knowledge/top-trackers.txt: a domain counts when
      the knowledge base names a real owner (a listed company with a homepage), a category and a description
      for it; how many of those owners have a parent company named is printed beside it
  (e) the share of descriptions that say what is done with data: the description contains one of
      companion.trackerdb.DATA_VERBS (records, collects, syncs, fingerprints...), printed with the figure
  (f) the largest number of entries sharing one sentence (target <= 5)

`--quick` takes every 10th request of the corpus.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tldextract  # noqa: E402

from common import LISTS, load_corpus, shared  # noqa: E402
import shared_data  # noqa: E402  (tests/shared_data.py: bench/common.py puts it on the path)
from companion.engine import Engine  # noqa: E402
from companion.trackerdb import DATA_VERBS, RULES_DIR, TrackerDB, says_what_it_does, sentences  # noqa: E402

SHIPPED = RULES_DIR / "crumbs-trackers.txt"
TOP_TRACKERS = shared(shared_data.TOP_TRACKERS)
TARGETS = {"a": 0.85, "b": 0.02, "c": 0.95, "top100": 1.0, "top500": 0.95, "verbs": 1.0, "repeat": 5}

_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _host_and_domain(url: str) -> tuple[str, str]:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return "", ""
    parts = _extract(host)
    return host, (parts.top_domain_under_public_suffix or host)


def _blocks(engine: Engine, url: str, page: str, kind: str) -> bool:
    match = engine.match(url, page, kind)
    return bool(match is not None and match.blocked)


def measure(rows: list[dict], lists: Engine, shipped: Engine, db: TrackerDB) -> dict:
    """Counts behind (a), (b) and (c), plus what the shipped list misses or adds, by domain."""
    third = listed = listed_and_flagged = flagged = flagged_only = explained = 0
    missed, extra, unexplained = Counter(), Counter(), Counter()
    for row in rows:
        url, page, kind = row["url"], row.get("source_url") or "", row.get("type") or "other"
        if not url.startswith(("http://", "https://")):
            continue
        host, domain = _host_and_domain(url)
        _, page_domain = _host_and_domain(page) if page else ("", "")
        if not host or domain == page_domain:
            continue
        third += 1
        by_lists = _blocks(lists, url, page, kind)
        by_rules = _blocks(shipped, url, page, kind)
        listed += by_lists
        if by_rules:
            flagged += 1
            info = db.lookup(host)
            if info is not None and info.owner and info.category and info.description:
                explained += 1
            else:
                unexplained[domain] += 1
        if by_lists and by_rules:
            listed_and_flagged += 1
        elif by_lists:
            missed[domain] += 1
        elif by_rules:
            flagged_only += 1
            extra[domain] += 1
    return dict(third=third, listed=listed, listed_and_flagged=listed_and_flagged, flagged=flagged,
                flagged_only=flagged_only, explained=explained, missed=missed, extra=extra, unexplained=unexplained)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def report(m: dict) -> bool:
    """Print the three figures with their counts and targets; True when all three are met."""
    a = _share(m["listed_and_flagged"], m["listed"])
    b = _share(m["flagged_only"], m["third"])
    c = _share(m["explained"], m["flagged"])
    ok = {"a": a >= TARGETS["a"], "b": b <= TARGETS["b"], "c": c >= TARGETS["c"]}
    mark = {True: "ok", False: "MISSED"}
    print(f"   third-party requests: {m['third']:,}; blocked by EasyList+EasyPrivacy: {m['listed']:,}; "
          f"flagged by rules/: {m['flagged']:,}")
    print(f"   (a) list-blocked requests that rules/ alone flags: {m['listed_and_flagged']:,}/{m['listed']:,} "
          f"= {a:.1%}   target >= {TARGETS['a']:.0%}  [{mark[ok['a']]}]")
    print(f"   (b) flagged by rules/ but by neither list:         {m['flagged_only']:,}/{m['third']:,} "
          f"= {b:.2%}   target <= {TARGETS['b']:.0%}  [{mark[ok['b']]}]")
    print(f"   (c) flagged requests with owner+category+description: {m['explained']:,}/{m['flagged']:,} "
          f"= {c:.1%}   target >= {TARGETS['c']:.0%}  [{mark[ok['c']]}]")
    for title, counter in (("top uncovered domains (lists block, rules/ does not)", m["missed"]),
                           ("top domains flagged by rules/ only", m["extra"]),
                           ("top flagged domains without owner/category", m["unexplained"])):
        if counter:
            print(f"   {title}: " + ", ".join(f"{d} {n}" for d, n in counter.most_common(15)))
    return all(ok.values())


def top_domains(path: Path = TOP_TRACKERS) -> list[str]:
    """The ranked tracker domains (``RANK<TAB>DOMAIN`` lines; comments skipped)."""
    ranked = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rank, _, domain = line.partition("\t")
        if rank.strip().isdigit() and domain.strip():
            ranked.append((int(rank), domain.strip().lower()))
    return [domain for _, domain in sorted(ranked)]


def knowledge(db: TrackerDB, top: list[str]) -> dict:
    """Figures (d), (e) and (f) from the knowledge base alone."""
    companies = db.companies

    def known(domain: str) -> bool:
        info = db.lookup(domain)
        return bool(info and info.category and info.description.strip()
                    and companies.get(info.owner, {}).get("url"))  # a real, named company, not a placeholder

    out = {}
    for n in (100, 500):
        head = top[:n]
        covered = [d for d in head if known(d)]
        out[f"top{n}"] = (len(covered), len(head), sum(1 for d in covered if db.lookup(d).parent),
                          [d for d in head if not known(d)])
    descriptions = db.descriptions()
    out["verbs"] = (sum(1 for text in descriptions.values() if says_what_it_does(text)), len(descriptions),
                    sorted(k for k, text in descriptions.items() if not says_what_it_does(text)))
    shared = Counter(sentence for text in descriptions.values() for sentence in set(sentences(text)))
    out["repeat"] = shared.most_common(1)[0] if shared else ("", 0)
    return out


def report_knowledge(k: dict) -> bool:
    """Print (d), (e) and (f); True when all targets are met."""
    mark = {True: "ok", False: "MISSED"}
    ok = []
    for n in (100, 500):
        got, whole, parents, missing = k[f"top{n}"]
        share = _share(got, whole)
        ok.append(share >= TARGETS[f"top{n}"])
        print(f"   (d) top {n} tracker domains with owner+category+description: {got}/{whole} = {share:.1%}   "
              f"target >= {TARGETS[f'top{n}']:.0%}  [{mark[ok[-1]]}]; parent company named for {parents}")
        if missing:
            print(f"       not yet known: {', '.join(missing[:25])}{' ...' if len(missing) > 25 else ''}")
    good, whole, failing = k["verbs"]
    share = _share(good, whole)
    ok.append(share >= TARGETS["verbs"])
    print(f"   (e) descriptions that say what is done with data: {good}/{whole} = {share:.1%}   "
          f"target {TARGETS['verbs']:.0%}  [{mark[ok[-1]]}]")
    print(f"       rule: the description contains one of these verbs: {', '.join(DATA_VERBS)}")
    if failing:
        print(f"       failing: {', '.join(failing[:15])}{' ...' if len(failing) > 15 else ''}")
    sentence, count = k["repeat"]
    ok.append(count <= TARGETS["repeat"])
    print(f"   (f) largest number of entries sharing one sentence: {count}   target <= {TARGETS['repeat']}  "
          f"[{mark[ok[-1]]}]  ({sentence[:90]!r})")
    return all(ok)


def run(quick: bool) -> None:
    started = time.perf_counter()
    lists = Engine.from_files(LISTS)
    shipped = Engine.from_files([SHIPPED])
    db = TrackerDB.load()
    rows = load_corpus()
    if quick:
        rows = rows[::10]
    print(f"   {len(rows):,} corpus requests{' (every 10th)' if quick else ''}; engines and data ready in "
          f"{time.perf_counter() - started:.1f} s (companion.engine; {len(db)} tracker entries)")
    report(measure(rows, lists, shipped, db))
    report_knowledge(knowledge(db, top_domains()))


if __name__ == "__main__":
    run("--quick" in sys.argv[1:])
