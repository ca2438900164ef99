"""What a period is made of: per (site, third-party domain) totals read from ``daily``, by span of days."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .periods import Period

UNKNOWN_SITE = "(unknown page)"

# A period is summed in two parts, the days before today and today (the last LIVE_DAYS days):
# the recorder adds to today, so after a batch only today's part is summed again (a batch sent
# across midnight also touches yesterday: the store's daily_version says so, and that part is redone).
LIVE_DAYS = 1
# The first overview of a period this short is grouped in SQLite (History.overview_page).
WEEK_DAYS = 7


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
    blocked: int  # requests the browser stopped
    first_day: int
    last_day: int
    owner: str | None = None
    category: str | None = None
    reached: int = 0  # requests that left the browser (requests = reached + blocked for new data)

    @property
    def text(self) -> str:
        """Site, domain and owner in lower case, for search (made when searched: most pages never ask)."""
        return f"{self.site}\n{self.domain}\n{self.owner or ''}".lower()


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
    # What the pages derived from this snapshot (the period's reach index): the history keeps a
    # snapshot while none of its parts changes, and with it these.
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Part:
    """Named pairs of a span of days, ready for the pages."""

    pairs: list[Pair]
    per_day: dict[int, tuple[int, int]]
    visited: set[int]
    requests: int
    trackers: int
    blocked: int
    _reach: dict[str, "Tally"] | None = None
    _trackers_seen: set[str] | None = None
    _reached: int | None = None
    # A one-day part (today's) also keeps its pairs by (site id, domain id), in the order the sums
    # gave them, so a recorded batch can be applied to it (History._refreshed) instead of summing the day.
    by_key: dict[tuple[int, int], Pair] | None = None
    # (the part this one was brought up to date from, [(old pair or None, new pair)]): lets a period's
    # merged reach index be brought up to date the same way (History.snapshot).
    source: tuple["_Part", list] | None = None

    def tracker_domains(self) -> set[str]:
        """The domains that were trackers in this part (made once)."""
        if self._trackers_seen is None:
            self._trackers_seen = {x.domain for x in self.pairs if x.trackers}
        return self._trackers_seen

    def reached(self) -> int:
        """Requests of this part that left the browser (made once)."""
        if self._reached is None:
            self._reached = sum(x.reached for x in self.pairs)
        return self._reached

    def reach_index(self) -> dict[str, "Tally"]:
        """Per company (or, owner unknown, domain): every request to its domains, per site, built once.
        Whoever was a tracker somewhere in the period is listed (``Tally.tracker``, decided over the
        whole period by the caller); its non-tracker requests count too: its servers got them just the same."""
        if self._reach is None:
            index: dict[str, Tally] = {}
            for x in self.pairs:  # Tally.add, written out: a year's part has ~100k pairs
                key = x.owner or x.domain
                entry = index.get(key)
                if entry is None:
                    entry = index[key] = Tally(key, x.owner is not None)
                entry.domains.add(x.domain)
                if x.trackers:
                    entry.tracker = True
                t = entry.per_site.get(x.site)
                if t is None:
                    entry.per_site[x.site] = [x.requests, x.trackers, x.blocked, x.reached, x.first_day, x.last_day]
                else:
                    t[0] += x.requests
                    t[1] += x.trackers
                    t[2] += x.blocked
                    t[3] += x.reached
                    if x.first_day < t[4]:
                        t[4] = x.first_day
                    if x.last_day > t[5]:
                        t[5] = x.last_day
            self._reach = index
        return self._reach


@dataclass
class Tally:
    """What one company or tracker did in a period, per site: THE figures every page shows of it.

    ``per_site``: site -> [requests, tracker requests, blocked, reached, first day, last day].
    It *reached* the person on a site when at least one request got through there; it *tried and
    was stopped* on a site when every request there was blocked. Requests from unknown pages count
    in the totals, never as a site.
    """

    name: str
    is_company: bool
    domains: set[str] = field(default_factory=set)
    per_site: dict[str, list[int]] = field(default_factory=dict)
    tracker: bool = False

    def add(self, x: Pair) -> None:
        self.__dict__.pop("_counts", None)
        self.domains.add(x.domain)
        self.tracker = self.tracker or x.trackers > 0
        t = self.per_site.get(x.site)
        if t is None:
            self.per_site[x.site] = [x.requests, x.trackers, x.blocked, x.reached, x.first_day, x.last_day]
        else:
            t[0] += x.requests
            t[1] += x.trackers
            t[2] += x.blocked
            t[3] += x.reached
            t[4] = min(t[4], x.first_day)
            t[5] = max(t[5], x.last_day)

    def merged(self, other: "Tally") -> "Tally":
        """A new tally of both (the kept and the live part of a period); neither is changed."""
        # A shallow copy: a site both have gets a new list below, so the lists shared with ``self``
        # (kept with the past days' sums) are never changed; copying them all cost most of a page.
        out = Tally(self.name, self.is_company or other.is_company, self.domains | other.domains,
                    dict(self.per_site), self.tracker or other.tracker)
        for site, (n, t, b, r, f, l) in other.per_site.items():
            cur = out.per_site.get(site)
            if cur is None:
                out.per_site[site] = [n, t, b, r, f, l]
            else:
                out.per_site[site] = [cur[0] + n, cur[1] + t, cur[2] + b, cur[3] + r, min(cur[4], f), max(cur[5], l)]
        return out

    @property
    def sites_reached(self) -> list[str]:
        return sorted(s for s, t in self.per_site.items() if t[3] > 0 and s != UNKNOWN_SITE)

    @property
    def sites_stopped(self) -> list[str]:
        return sorted(s for s, t in self.per_site.items() if t[3] == 0 and t[0] > 0 and s != UNKNOWN_SITE)

    @property
    def requests(self) -> int:
        return sum(t[0] for t in self.per_site.values())

    @property
    def blocked(self) -> int:
        return sum(t[2] for t in self.per_site.values())

    @property
    def reached(self) -> int:
        return sum(t[3] for t in self.per_site.values())

    def counts(self) -> tuple:
        """(sites reached, sites stopped on, requests, blocked, reached, sorted domains, tracker, is a company):
        counted in one pass over the sites and kept (a tally is not changed once its index is built,
        and most are shared from batch to batch)."""
        counts = self.__dict__.get("_counts")
        if counts is None:
            reached = stopped = requests = blocked = got_through = 0
            for site, t in self.per_site.items():
                requests += t[0]
                blocked += t[2]
                got_through += t[3]
                if site != UNKNOWN_SITE:
                    if t[3] > 0:
                        reached += 1
                    elif t[0] > 0:
                        stopped += 1
            counts = self.__dict__["_counts"] = (reached, stopped, requests, blocked, got_through,
                                                 sorted(self.domains), self.tracker, self.is_company)
        return counts

    def figures(self, of_sites: int) -> dict[str, Any]:
        """The figures every page shows of this company or tracker, from the same sums."""
        return counts_figures(self.name, self.counts(), of_sites)

    def site_rows(self) -> list[dict[str, Any]]:
        """One row per site (unknown pages included), busiest first."""
        return sorted(
            ({"site": s, "requests": n, "tracker_requests": t, "blocked": b, "reached": r,
              "state": outcome_state(r, b), "first_day": f, "last_day": l}
             for s, (n, t, b, r, f, l) in self.per_site.items()),
            key=lambda row: (row["site"] == UNKNOWN_SITE, -row["requests"], row["site"]),
        )


def reach_counts(tallies: list[Tally]) -> tuple:
    """:meth:`Tally.counts` of one company or domain over a period, from its tally in each of the period's
    parts: a site where it reached the person in any part counts once, as reached; a site where every
    request in every part was stopped, as stopped on (the same as counting a merged tally, without making one)."""
    if len(tallies) == 1:
        return tallies[0].counts()
    reached_on: set[str] = set()
    tried_on: set[str] = set()
    requests = blocked = got_through = 0
    domains: set[str] = set()
    tracker = company = False
    for t in tallies:
        reached_on.update(s for s, v in t.per_site.items() if v[3] > 0)
        tried_on.update(s for s, v in t.per_site.items() if v[0] > 0)
        c = t.counts()
        requests, blocked, got_through = requests + c[2], blocked + c[3], got_through + c[4]
        domains |= t.domains
        tracker, company = tracker or t.tracker, company or t.is_company
    reached_on.discard(UNKNOWN_SITE)
    tried_on.discard(UNKNOWN_SITE)
    return (len(reached_on), len(tried_on - reached_on), requests, blocked, got_through, sorted(domains), tracker, company)


def counts_figures(name: str, counts: tuple, of_sites: int) -> dict[str, Any]:
    """The figures every page shows of a company or tracker, from its :func:`reach_counts`."""
    reached, stopped, requests, blocked, got_through, domains, _tracker, is_company = counts
    return {
        "name": name,
        "is_company": is_company,
        "domains": list(domains),
        "sites": reached,  # the headline: sites where it reached the person
        "sites_reached": reached,
        "sites_stopped": stopped,
        "sites_tried": reached + stopped,
        "of_sites": of_sites,
        "requests": requests,
        "blocked": blocked,
        "reached": got_through,
    }


def outcome_state(reached: int, blocked: int) -> str:
    """'blocked' when none of the requests got through, 'partly-blocked' when some did, 'reached' when none was blocked."""
    if reached == 0 and blocked > 0:
        return "blocked"
    return "partly-blocked" if blocked > 0 else "reached"


@dataclass
class _Totals:
    """``daily`` summed over a span of days, by ids: what a snapshot is made of."""

    pairs: dict[tuple[int, int], tuple[int, int, int, int, int, int]]  # (site, domain) -> (n, trackers, blocked, first, last, reached)
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
                               x.owner, x.category, m.reached + x.reached)
    return list(merged.values())
