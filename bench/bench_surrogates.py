"""How much of what Crumbs blocks among scripts its stand-ins answer, over the shared request corpus.

Figure: of the third-party *script* requests in the corpus that EasyList+EasyPrivacy or the shipped list
(`rules/crumbs-trackers.txt`) block, the share whose URL a stand-in in `companion/surrogates.py` replaces
(the catalog's own matcher, the same patterns the browser's redirect rules use). Also printed:

- by stand-in, and the share of the pages with a blocked script that have at least one replaced;
- the scripts a replaced library would have fetched itself (gpt.js -> pubads_impl, adsbygoogle.js ->
  show_ads_impl, fbevents.js -> signals/config, gtag.js -> gtag/destination ...): with the stand-in they are
  never requested at all, so a second figure counts them as answered too; labelled apart, as it is inferred
  from the page also having requested the replaced library;
- the most common blocked scripts no stand-in covers, grouped by host and path (digits folded), which is
  where the next stand-ins would come from.

`--quick` takes every 10th request.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import LISTS, load_corpus  # noqa: E402
from companion.engine import Engine  # noqa: E402
from companion.surrogates import find  # noqa: E402
from companion.config import RULES_DIR  # noqa: E402
from companion.sites import registrable_domain  # noqa: E402

SHIPPED = RULES_DIR / "crumbs-trackers.txt"

# Scripts only a replaced library loads (so, with its stand-in, never requested): stand-in -> URL regexes.
_AD_FRAMES = [r"//tpc\.googlesyndication\.com/", r"//pagead2\.googlesyndication\.com/pagead/managed/js/activeview/",
              r"//pagead2\.googlesyndication\.com/pagead/js/r\d+/r\d+/", r"//pagead2\.googlesyndication\.com/bg/"]
LOADED_BY = {
    # The ad library's implementation files, and the scripts of the ad frames it would have created.
    "google-publisher-tag": [r"//securepubads\.g\.doubleclick\.net/pagead/managed/js/gpt/",
                             r"//pagead2\.googlesyndication\.com/pagead/managed/js/gpt/", *_AD_FRAMES],
    "google-adsense": [r"//pagead2\.googlesyndication\.com/pagead/managed/js/adsense/", *_AD_FRAMES],
    "meta-pixel": [r"//connect\.facebook\.net/signals/config/", r"//connect\.facebook\.net/signals/plugins/"],
    # gtag.js loads its destinations, and for Google Ads tags the view-through conversion script.
    "google-gtag": [r"//www\.googletagmanager\.com/gtag/destination",
                    r"//googleads\.g\.doubleclick\.net/pagead/viewthroughconversion/"],
    "amazon-apstag": [r"//c\.amazon-adsystem\.com/aax2/"],
}

def _domain(host: str) -> str:
    """The site of a host, by Crumbs' one site rule (companion/sites.py)."""
    return registrable_domain(host) or host


def _group(url: str) -> str:
    parts = urlsplit(url)
    path = re.sub(r"[0-9a-f]{12,}", "H", re.sub(r"\d+", "N", parts.path))
    return (parts.hostname or "") + path[:60]


def measure(rows: list[dict], engines: list[Engine]) -> dict:
    blocked = covered = dependent = 0
    by_stand_in: Counter[str] = Counter()
    uncovered: Counter[str] = Counter()
    pages_blocked: set[str] = set()
    pages_covered: set[str] = set()
    per_page: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for row in rows:
        if row.get("type") != "script":
            continue
        url, page = row["url"], row.get("source_url") or ""
        host = (urlsplit(url).hostname or "").lower()
        if not host or _domain(host) == _domain((urlsplit(page).hostname or "").lower()):
            continue
        if not any((m := e.match(url, page, "script")) is not None and m.blocked for e in engines):
            continue
        blocked += 1
        pages_blocked.add(page)
        surrogate = find(url, "script")
        per_page[page].append((url, surrogate.name if surrogate else None))
        if surrogate:
            covered += 1
            by_stand_in[surrogate.name] += 1
            pages_covered.add(page)
    for page, items in per_page.items():
        replaced = {name for _, name in items if name}
        for url, name in items:
            if name is None and any(re.search(rx, url) for s in replaced for rx in LOADED_BY.get(s, ())):
                dependent += 1
            elif name is None:
                uncovered[_group(url)] += 1
    return dict(blocked=blocked, covered=covered, dependent=dependent, by_stand_in=by_stand_in,
                uncovered=uncovered, pages_blocked=len(pages_blocked), pages_covered=len(pages_covered))


def report(m: dict) -> None:
    share = m["covered"] / m["blocked"] if m["blocked"] else 0.0
    with_deps = (m["covered"] + m["dependent"]) / m["blocked"] if m["blocked"] else 0.0
    pages = m["pages_covered"] / m["pages_blocked"] if m["pages_blocked"] else 0.0
    print(f"   blocked third-party script requests (EasyList+EasyPrivacy or rules/): {m['blocked']:,}")
    print(f"   answered by a stand-in: {m['covered']:,}/{m['blocked']:,} = {share:.1%}")
    print(f"   ... plus scripts only a replaced library loads (never requested with the stand-in): "
          f"{m['dependent']:,} -> {with_deps:.1%}")
    print(f"   pages with a blocked script where a stand-in answers at least one: "
          f"{m['pages_covered']:,}/{m['pages_blocked']:,} = {pages:.1%}")
    print("   by stand-in: " + ", ".join(f"{n} {c}" for n, c in m["by_stand_in"].most_common()))
    print("   most common blocked scripts without a stand-in: "
          + ", ".join(f"{g} {c}" for g, c in m["uncovered"].most_common(12)))


def run(quick: bool) -> None:
    started = time.perf_counter()
    engines = [Engine.from_files(LISTS), Engine.from_files([SHIPPED])]
    rows = load_corpus()
    if quick:
        rows = rows[::10]
    print(f"   {len(rows):,} corpus requests{' (every 10th)' if quick else ''}; engines ready in "
          f"{time.perf_counter() - started:.1f} s")
    report(measure(rows, engines))


if __name__ == "__main__":
    run("--quick" in sys.argv[1:])
