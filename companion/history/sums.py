"""What a period is made of: per (site, third-party domain) totals read from ``daily``, by span of days."""
from __future__ import annotations

from dataclasses import dataclass, field

from .periods import Period

UNKNOWN_SITE = "(unknown page)"

# Days older than this many days before today are summed once and kept in memory: the
# recorder only adds to today (and, for a batch sent across midnight, yesterday).
LIVE_DAYS = 2


@dataclass(slots=True)
class Pair:
    """Totals of one (site, third-party domain) over some days, from ``daily``, with the domain's owner.

    A snapshot may hold two pairs for the same (site, domain): one for the days summed
    earlier and kept in memory, one for the live days. Whatever sums or counts distinct
    values is unaffected; what lists pairs merges them (:func:`merge_pairs`).
    """

    site: str
    domain: str
    requests: int
    trackers: int
    blocked: int
    first_day: int
    last_day: int
    owner: str | None = None
    category: str | None = None
    text: str = ""  # site, domain and owner in lower case, for search


@dataclass
class Snapshot:
    """The third-party totals of a period, read once and shared by every page."""

    period: Period
    pairs: list[Pair]
    sites_visited: int
    third_party_requests: int
    tracker_requests: int
    blocked: int
    timeline: list[tuple[int, int, int]] = field(default_factory=list)  # (day, blocked, allowed) tracker requests
    parts: list["_Part"] = field(default_factory=list)


@dataclass
class _Part:
    """Named pairs of a span of days, ready for the pages."""

    pairs: list[Pair]
    per_day: dict[int, tuple[int, int]]
    visited: set[int]
    requests: int
    trackers: int
    blocked: int
    _reach: dict[str, list] | None = None

    def reach_index(self) -> dict[str, list]:
        """Per company (or unowned tracker domain): [sites, domains, requests, blocked, owner known], built once."""
        if self._reach is None:
            index: dict[str, list] = {}
            for x in self.pairs:
                if not x.trackers or x.site == UNKNOWN_SITE:
                    continue
                key = x.owner or x.domain
                entry = index.get(key)
                if entry is None:
                    entry = index[key] = [set(), set(), 0, 0, x.owner is not None]
                entry[0].add(x.site)
                entry[1].add(x.domain)
                entry[2] += x.trackers
                entry[3] += min(x.blocked, x.trackers)
            self._reach = index
        return self._reach


@dataclass
class _Totals:
    """``daily`` summed over a span of days, by ids: what a snapshot is made of."""

    pairs: dict[tuple[int, int], tuple[int, int, int, int, int]]  # (site, domain) -> (n, trackers, blocked, first, last)
    per_day: dict[int, tuple[int, int]]  # day -> (blocked tracker requests, tracker requests)
    visited: set[int]


def merge_pairs(pairs) -> list[Pair]:
    """One pair per (site, domain): the kept and the live part of a snapshot added together."""
    merged: dict[tuple[str, str], Pair] = {}
    for x in pairs:
        key = (x.site, x.domain)
        m = merged.get(key)
        if m is None:
            merged[key] = x  # shared with the cache: never modified, replaced below when it needs adding to
        else:
            merged[key] = Pair(x.site, x.domain, m.requests + x.requests, m.trackers + x.trackers,
                               m.blocked + x.blocked, min(m.first_day, x.first_day), max(m.last_day, x.last_day),
                               x.owner, x.category, x.text)
    return list(merged.values())
