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
    # What the pages derived from this snapshot (each company's reach counts): the history keeps a
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
    _summary: dict[str, "Reach"] | None = None
    _trackers_seen: set[str] | None = None
    _reached: int | None = None
    # A one-day part (today's) also keeps its pairs by (site id, domain id), in the order the sums
    # gave them, so a recorded batch can be applied to it (History._refreshed) instead of summing the day.
    by_key: dict[tuple[int, int], Pair] | None = None
    # (the part this one was brought up to date from, [(old pair or None, new pair)]): lets a period's
    # reach counts be brought up to date for the companies the batch touched (History.snapshot).
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

    def reach_summary(self) -> dict[str, "Reach"]:
        """Per company (or, owner unknown, domain): where it reached the person and where it tried, and
        its totals, over this part's days (made once). A company's figures over a period are counted
        from its :class:`Reach` in each of the period's parts (:func:`reach_counts`)."""
        if self._summary is None:
            summary: dict[str, Reach] = {}
            for x in self.pairs:  # written out: a year's part has ~100k pairs
                key = x.owner or x.domain
                entry = summary.get(key)
                if entry is None:
                    entry = summary[key] = Reach(set(), set(), set())
                entry.domains.add(x.domain)
                if x.trackers:
                    entry.tracker = True
                if x.owner is not None:
                    entry.is_company = True
                if x.reached > 0:
                    entry.reached_on.add(x.site)
                if x.requests > 0:
                    entry.tried_on.add(x.site)
                entry.requests += x.requests
                entry.blocked += x.blocked
                entry.got_through += x.reached
            self._summary = summary
        return self._summary


@dataclass(slots=True)
class Reach:
    """What one company (or domain without an owner) did over one part of a period, just what its reach
    over the period is counted from: the sites where a request of its got through, the sites it made
    requests on, and its totals. (Its per-site figures are made for its own page only, from the pairs:
    kept per site for every company of every period, they were tens of megabytes; issue 14.)"""

    reached_on: set[str]
    tried_on: set[str]
    domains: set[str]
    requests: int = 0
    blocked: int = 0
    got_through: int = 0
    tracker: bool = False
    is_company: bool = False


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
        """(sites reached, sites stopped on, requests, blocked, reached, sorted domains, tracker, is a company),
        as :func:`reach_counts` gives them, counted in one pass over the sites."""
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
        return reached, stopped, requests, blocked, got_through, sorted(self.domains), self.tracker, self.is_company

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


def reach_counts(parts: list[Reach]) -> tuple:
    """(sites reached, sites stopped on, requests, blocked, reached, sorted domains, tracker, is a company)
    of one company or domain over a period, from its :class:`Reach` in each of the period's parts: a site
    where it reached the person in any part counts once, as reached; a site where every request in every
    part was stopped, as stopped on. Requests from unknown pages count in the totals, never as a site."""
    if len(parts) == 1:
        reached_on, tried_on = parts[0].reached_on, parts[0].tried_on
    else:
        reached_on = set().union(*(r.reached_on for r in parts))
        tried_on = set().union(*(r.tried_on for r in parts))
    stopped_on = tried_on - reached_on
    reached = len(reached_on) - (UNKNOWN_SITE in reached_on)
    stopped = len(stopped_on) - (UNKNOWN_SITE in stopped_on)
    return (reached, stopped, sum(r.requests for r in parts), sum(r.blocked for r in parts),
            sum(r.got_through for r in parts), sorted(set().union(*(r.domains for r in parts))),
            any(r.tracker for r in parts), any(r.is_company for r in parts))


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


def headline_figures(sites_visited: int, requests: int, tracker_requests: int, trackers_seen: int, blocked: int,
                     reached: int) -> dict[str, Any]:
    """The overview's headline figures of a period (``blocked``: requests the browser stopped)."""
    return {
        "sites_visited": sites_visited,
        "third_party_requests": requests,
        "tracker_requests": tracker_requests,
        "trackers_seen": trackers_seen,
        "blocked": blocked,
        "reached": reached,
        "blocked_share": blocked / requests if requests else 0.0,
    }


def reach_order(figures: dict[str, Any]) -> tuple:
    """The overview's order of companies: most sites reached, then most stopped on, most requests, name."""
    return (-figures["sites_reached"], -figures["sites_stopped"], -figures["requests"], figures["name"])


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
