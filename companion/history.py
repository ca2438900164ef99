"""What the history pages show, computed from the database: no Flask here.

Everything over a period reads the ``daily`` totals (a few thousand rows per day at most)
rather than the request detail (millions of rows), so a page over 90 days answers in
milliseconds; the detail is read only where it is needed and small (one site's hosts,
first and last seen). Forgetting and retention delete from the detail *and* the totals
in one transaction, day-aligned, so the totals always equal what the detail they
summarise would give (the tests' ``daily_disagreements`` fixture checks it).

Every SQL statement is in :mod:`companion.storage` (this module asks it questions and
shapes the answers). The tracker knowledge base is duck-typed (``lookup(host)``,
``owner_of(domain)``, ``categories``); choices given for import are checked here with
the site rule of :mod:`companion.sites` before the store applies them.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .sites import NotANetworkURL, site_of
from .policy import ACTIONS
from .storage import DAY_MS, Store, now_ms

PERIODS: dict[str, tuple[str, int | None]] = {
    "today": ("today", 1),
    "7d": ("the last 7 days", 7),
    "30d": ("the last 30 days", 30),
    "all": ("all the time kept", None),
}
DEFAULT_PERIOD = "7d"
DEFAULT_RETENTION_DAYS = 90
RETENTION_CHOICES = (7, 30, 90, 365, 0)  # 0: keep the detail for ever
RETENTION_KEY = "retention_days"
RETENTION_RUN_KEY = "retention_last_run"
UNKNOWN_SITE = "(unknown page)"


class TrackerKnowledge(Protocol):
    """What this module needs of :class:`companion.trackerdb.TrackerDB`."""

    categories: dict[str, dict]

    def lookup(self, host: str) -> Any: ...

    def owner_of(self, domain: str) -> str | None: ...


@dataclass(frozen=True)
class Period:
    """A span of whole UTC days, the unit of the ``daily`` table. ``first_day`` None: from the beginning."""

    key: str
    label: str
    first_day: int | None
    last_day: int

    @property
    def days(self) -> range:
        return range(self.first_day if self.first_day is not None else self.last_day, self.last_day + 1)


def period(key: str | None, now: int | None = None) -> Period:
    """The named period ending today (unknown names fall back to the default)."""
    key = key if key in PERIODS else DEFAULT_PERIOD
    label, days = PERIODS[key]
    today = (now_ms() if now is None else now) // DAY_MS
    return Period(key, label, None if days is None else today - days + 1, today)


def day_to_iso(day: int) -> str:
    import datetime as _dt

    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()


def iso_to_day(text: str) -> int:
    """``YYYY-MM-DD`` → epoch day; raises ValueError with a readable reason."""
    import datetime as _dt

    try:
        return (_dt.date.fromisoformat(text.strip()) - _dt.date(1970, 1, 1)).days
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date like 2026-07-31") from None


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


# Days older than this many days before today are summed once and kept in memory: the
# recorder only adds to today (and, for a batch sent across midnight, yesterday).
LIVE_DAYS = 2


class History:
    """Read, export and forget the person's history."""

    def __init__(self, store: Store, trackers: TrackerKnowledge) -> None:
        self.store = store
        self.trackers = trackers
        self._owner_cache: dict[str, tuple[str | None, Any]] = {}
        self._frozen: dict[tuple[int, int], _Part] = {}
        self._name_cache: dict[int, str] = {}

    # -- knowledge ------------------------------------------------------------------------

    def info(self, domain: str) -> tuple[str | None, Any]:
        """(owner, TrackerInfo or None) for a registrable domain, cached: lookups are per row."""
        found = self._owner_cache.get(domain)
        if found is None:
            info = self.trackers.lookup(domain)
            owner = info.owner if info is not None else self.trackers.owner_of(domain)
            found = self._owner_cache[domain] = (owner, info)
        return found

    def category_of(self, domain: str) -> str | None:
        info = self.info(domain)[1]
        return info.category if info is not None else None

    def _domain_id(self, name: str) -> int | None:
        return self.store.find_domain_id(name)

    @staticmethod
    def _day_range(p: Period) -> tuple[int, int]:
        return (p.first_day if p.first_day is not None else -(2**62), p.last_day)

    # -- the period as a whole ------------------------------------------------------------

    def _sum_days(self, lo: int, hi: int) -> _Totals:
        return _Totals(*self.store.daily_sums(lo, hi))

    def _part(self, lo: int, hi: int, names: dict[int, str]) -> _Part:
        totals = self._sum_days(lo, hi)
        pairs = []
        for (s, d), (n, t, b, f, l) in totals.pairs.items():
            domain = names.get(d, "?")
            owner, info = self.info(domain)
            site = names.get(s, UNKNOWN_SITE) if s else UNKNOWN_SITE
            pairs.append(Pair(site, domain, n, t, b, f, l, owner, info.category if info is not None else None,
                              f"{site}\n{domain}\n{owner or ''}".lower()))
        return _Part(pairs, totals.per_day, totals.visited, sum(x.requests for x in pairs),
                     sum(x.trackers for x in pairs), sum(x.blocked for x in pairs))

    def _names_cached(self) -> dict[int, str]:
        # Names of ids never change; new ids appear as the person browses, deleted ones only by forgetting
        # (which calls invalidate()). So read only the ids above the highest one known.
        names = self._name_cache
        top = max(names, default=0)
        names.update(self.store.domain_names(above=top))
        return names

    def _parts(self, p: Period) -> list[_Part]:
        """The period's parts: past days summed once and kept in memory, the live days fresh from the database."""
        lo, hi = self._day_range(p)
        frozen_hi = hi - LIVE_DAYS
        with self.store.lock:
            names = self._names_cached()
            if lo > frozen_hi:
                return [self._part(lo, hi, names)]
            key = (lo, frozen_hi)
            base = self._frozen.get(key)
            if base is None:
                # A new day freezes another day: drop sums that no longer line up with today.
                self._frozen = {k: v for k, v in self._frozen.items() if k[1] == frozen_hi}
                base = self._frozen[key] = self._part(lo, frozen_hi, names)
            return [base, self._part(frozen_hi + 1, hi, names)]

    def invalidate(self) -> None:
        """Forget the in-memory sums and names (after anything was deleted)."""
        with self.store.lock:
            self._frozen.clear()
            self._name_cache.clear()
            self._owner_cache.clear()

    def snapshot(self, p: Period) -> Snapshot:
        """Third-party totals per (site, domain) and per day over the period."""
        parts = self._parts(p)
        pairs = parts[0].pairs if len(parts) == 1 else [x for part in parts for x in part.pairs]
        per_day: dict[int, tuple[int, int]] = {}
        visited: set[int] = set()
        for part in parts:
            per_day.update(part.per_day)
            visited |= part.visited
        days = sorted(per_day)
        first = p.first_day if p.first_day is not None else (days[0] if days else p.last_day)
        timeline = []
        for day in range(first, p.last_day + 1):
            blocked, trackers = per_day.get(day, (0, 0))
            timeline.append((day, blocked, trackers - blocked))
        return Snapshot(
            period=p,
            pairs=pairs,
            sites_visited=len(visited),
            third_party_requests=sum(part.requests for part in parts),
            tracker_requests=sum(part.trackers for part in parts),
            blocked=sum(part.blocked for part in parts),
            timeline=timeline,
            parts=parts,
        )

    def overview(self, snap: Snapshot) -> dict[str, Any]:
        """The headline figures of a period."""
        tracker_domains: set[str] = set()
        for entry in self._reach_entries(snap).values():
            tracker_domains |= entry[1]
        # Trackers seen only on unknown pages are not in the reach index.
        tracker_domains |= {x.domain for x in snap.pairs if x.site == UNKNOWN_SITE and x.trackers}
        return {
            "sites_visited": snap.sites_visited,
            "third_party_requests": snap.third_party_requests,
            "tracker_requests": snap.tracker_requests,
            "trackers_seen": len(tracker_domains),
            "blocked": snap.blocked,
            "blocked_share": snap.blocked / snap.third_party_requests if snap.third_party_requests else 0.0,
        }

    @staticmethod
    def _reach_entries(snap: Snapshot) -> dict[str, list]:
        parts = snap.parts or [_Part(snap.pairs, {}, set(), 0, 0, 0)]
        if len(parts) == 1:
            return parts[0].reach_index()
        merged: dict[str, list] = {}
        for part in parts:
            for key, (sites, domains, n, b, known) in part.reach_index().items():
                entry = merged.get(key)
                if entry is None:
                    merged[key] = [sites, domains, n, b, known]  # shared: copied before any change below
                else:
                    merged[key] = [entry[0] | sites, entry[1] | domains, entry[2] + n, entry[3] + b, known]
        return merged

    def reach(self, snap: Snapshot, limit: int | None = 10) -> list[dict[str, Any]]:
        """Companies (or, owner unknown, tracker domains) by how many of the person's sites they saw them on."""
        entries = self._reach_entries(snap)
        ranked = sorted(entries, key=lambda k: (-len(entries[k][0]), -entries[k][2], k))
        if limit:
            ranked = ranked[:limit]
        return [
            {
                "name": k,
                "is_company": entries[k][4],
                "sites": len(entries[k][0]),
                "of_sites": snap.sites_visited,
                "domains": sorted(entries[k][1]),
                "requests": entries[k][2],
                "blocked": entries[k][3],
            }
            for k in ranked
        ]

    def categories(self, snap: Snapshot) -> list[dict[str, Any]]:
        """Per tracker category: distinct trackers, requests and sites, for 'What tracking is'."""
        out: dict[str, dict[str, Any]] = {}
        for x in snap.pairs:
            if not x.trackers:
                continue
            key = x.category or "unknown"
            entry = out.setdefault(key, {"category": key, "trackers": set(), "requests": 0, "sites": set()})
            entry["trackers"].add(x.domain)
            entry["requests"] += x.trackers
            if x.site != UNKNOWN_SITE:
                entry["sites"].add(x.site)
        return sorted(
            ({**e, "trackers": len(e["trackers"]), "sites": len(e["sites"])} for e in out.values()),
            key=lambda e: -e["requests"],
        )

    # -- one site -------------------------------------------------------------------------

    # Exact first/last times and host names come from the detail for short periods only:
    # over months the busiest site has tens of thousands of rows, and the day is enough.
    DETAIL_DAYS = 7

    def site(self, site: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """Every third party seen on ``site`` in the period: owner, category, counts, first and last seen."""
        site_id = self._domain_id(site)
        if site_id is None:
            return None
        snap = snap or self.snapshot(p)
        lo, hi = self._day_range(p)
        detail: dict[str, tuple[int, int, str]] = {}
        with_detail = p.first_day is not None and p.last_day - p.first_day < self.DETAIL_DAYS
        first_party, detail = self.store.site_detail(site_id, lo, hi, with_detail)
        parties = []
        for x in merge_pairs(x for x in snap.pairs if x.site == site):
            owner, info = self.info(x.domain)
            first, last, hosts = detail.get(x.domain, (None, None, None))
            parties.append({
                "domain": x.domain,
                "owner": owner,
                "category": info.category if info else None,
                "category_label": info.category_label if info else None,
                "tracker": x.trackers > 0,
                "requests": x.requests,
                "tracker_requests": x.trackers,
                "blocked": x.blocked,
                "allowed": x.requests - x.blocked,
                "first_day": x.first_day,
                "last_day": x.last_day,
                # The exact time where the detail was read; otherwise the day says it.
                "first_seen": first,
                "last_seen": last,
                "hosts": sorted(hosts.split(",")) if hosts else [],
            })
        if not parties and not first_party and not self._seen_as_site(site_id):
            return None
        parties.sort(key=lambda x: (not x["tracker"], -x["requests"], x["domain"]))
        return {
            "site": site,
            "first_party_requests": first_party,
            "third_parties": parties,
            "trackers": sum(1 for x in parties if x["tracker"]),
            "requests": sum(x["requests"] for x in parties),
            "blocked": sum(x["blocked"] for x in parties),
        }

    def _seen_as_site(self, domain_id: int) -> bool:
        return self.store.seen_as_site(domain_id)

    # -- one tracker, one company ---------------------------------------------------------

    def tracker(self, domain: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """A tracker domain: what it is, every site of the person's where it appeared, its hosts."""
        domain_id = self._domain_id(domain)
        if domain_id is None:
            return None
        owner, info = self.info(domain)
        sites = self._sites_of({domain}, snap or self.snapshot(p))
        hosts = self.store.hosts_of_domain(domain_id)
        if not sites and not hosts:
            return None
        return {
            "domain": domain,
            "owner": owner,
            "info": info,
            "learns": self._learns(info),
            "sites": sites,
            "hosts": hosts,
            "requests": sum(s["requests"] for s in sites),
            "blocked": sum(s["blocked"] for s in sites),
        }

    def company(self, owner: str, p: Period, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """A company: its domains that the person met and every site where any of them appeared."""
        snap = snap or self.snapshot(p)
        domains = sorted({x.domain for x in snap.pairs if x.owner == owner})
        if not domains:
            return None
        sites = self._sites_of(set(domains), snap)
        infos = [self.info(d)[1] for d in domains]
        categories = sorted({i.category for i in infos if i is not None and i.category})
        return {
            "owner": owner,
            "domains": domains,
            "sites": sites,
            "categories": [(c, self._category_meta(c)) for c in categories],
            "requests": sum(s["requests"] for s in sites),
            "blocked": sum(s["blocked"] for s in sites),
        }

    @staticmethod
    def _sites_of(domains: set[str], snap: Snapshot) -> list[dict[str, Any]]:
        by_site: dict[str, list[int]] = {}
        for x in snap.pairs:
            if x.domain in domains and x.site not in domains:
                t = by_site.get(x.site)
                if t is None:
                    by_site[x.site] = [x.requests, x.trackers, x.blocked, x.first_day, x.last_day]
                else:
                    t[0] += x.requests
                    t[1] += x.trackers
                    t[2] += x.blocked
                    t[3] = min(t[3], x.first_day)
                    t[4] = max(t[4], x.last_day)
        return sorted(
            ({"site": s, "requests": n, "tracker_requests": t, "blocked": b, "first_day": f, "last_day": l}
             for s, (n, t, b, f, l) in by_site.items()),
            key=lambda r: (-r["requests"], r["site"]),
        )

    def _category_meta(self, key: str | None) -> dict[str, Any]:
        return (self.trackers.categories or {}).get(key or "", {}) if key else {}

    def _learns(self, info: Any) -> str | None:
        if info is None:
            return None
        return getattr(info, "learns", None) or self._category_meta(info.category).get("learns")

    # -- search ---------------------------------------------------------------------------

    def search(self, snap: Snapshot, q: str = "", category: str = "", state: str = "", limit: int = 200) -> dict[str, Any]:
        """(site, third party) rows of the period matching a text (site, tracker or company), a category, a state."""
        q = q.strip().lower()
        found = []
        for x in snap.pairs:
            if category and (x.category or "unknown") != category:
                continue
            if q and q not in x.text:
                continue
            found.append(x)
        merged = merge_pairs(found)
        if state == "blocked":
            merged = [x for x in merged if x.blocked]
        elif state == "allowed":
            merged = [x for x in merged if x.blocked < x.requests]
        elif state == "trackers":
            merged = [x for x in merged if x.trackers]
        merged.sort(key=lambda x: (-x.requests, x.site, x.domain))
        rows = [{"site": x.site, "domain": x.domain, "owner": x.owner, "category": x.category,
                 "requests": x.requests, "trackers": x.trackers, "blocked": x.blocked,
                 "first_day": x.first_day, "last_day": x.last_day} for x in merged[:limit]]
        return {"total": len(merged), "rows": rows, "truncated": len(merged) > limit}

    # -- the map --------------------------------------------------------------------------

    def graph(self, snap: Snapshot, max_sites: int = 200, max_trackers: int = 60) -> dict[str, Any]:
        """Sites and the trackers they share: the busiest sites, and the trackers that reach most of them."""
        site_weight: dict[str, int] = defaultdict(int)
        for x in snap.pairs:
            if x.trackers and x.site != UNKNOWN_SITE:
                site_weight[x.site] += x.trackers
        sites = sorted(site_weight, key=lambda s: (-site_weight[s], s))[:max_sites]
        shown = set(sites)
        reach: dict[str, set[str]] = defaultdict(set)
        weight: dict[tuple[str, str], int] = {}
        blocked: dict[str, int] = defaultdict(int)
        for x in snap.pairs:
            if x.trackers and x.site in shown:
                reach[x.domain].add(x.site)
                weight[(x.site, x.domain)] = weight.get((x.site, x.domain), 0) + x.trackers
                blocked[x.domain] += min(x.blocked, x.trackers)
        trackers = sorted(reach, key=lambda d: (-len(reach[d]), d))[:max_trackers]
        kept = set(trackers)
        return {
            "sites": [{"name": s, "weight": site_weight[s]} for s in sites],
            "trackers": [
                {"name": d, "owner": self.info(d)[0], "category": self.category_of(d), "sites": len(reach[d]),
                 "blocked": blocked[d] > 0}
                for d in trackers
            ],
            "edges": [(s, d, w) for (s, d), w in weight.items() if d in kept],
            "hidden_trackers": len(reach) - len(trackers),
        }

    # -- export ---------------------------------------------------------------------------

    REQUEST_COLUMNS = ("id", "time", "site", "host", "domain", "type", "third_party", "tracker", "blocked",
                       "same_owner", "browser_blocked", "exception", "decided_by", "filter", "list", "flags")
    DAILY_COLUMNS = ("day", "date", "site", "domain", "requests", "trackers", "blocked")

    def iter_requests(self) -> Iterator[dict[str, Any]]:
        """Every stored request, names resolved, flags spelled out (and kept raw), in id order."""
        return self.store.iter_requests()

    def iter_daily(self) -> Iterator[dict[str, Any]]:
        for row in self.store.iter_daily():
            yield {**row, "date": day_to_iso(row["day"])}

    def export_json(self) -> Iterator[str]:
        """Everything stored, as one JSON document produced in pieces (a million rows never sit in memory)."""
        head = {"format": "crumbs-history", "version": 1, "exported": now_ms(),
                "choices": self.store.list_choices(), "settings": self.settings()}
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "requests": ['
        for i, row in enumerate(self.iter_requests()):
            yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
        yield '], "daily": ['
        for i, row in enumerate(self.iter_daily()):
            yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
        yield "]}\n"

    def export_csv(self, table: str = "requests") -> Iterator[str]:
        """One table as CSV; cells a spreadsheet would run as a formula are neutralised."""
        columns, rows = (self.DAILY_COLUMNS, self.iter_daily()) if table == "daily" else \
            (self.REQUEST_COLUMNS, self.iter_requests())
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for i, row in enumerate(rows):
            writer.writerow([csv_cell(row[c]) for c in columns])
            if i % 2000 == 1999:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    # -- forgetting -----------------------------------------------------------------------

    def forget_site(self, site: str) -> dict[str, int]:
        """Delete every request made on ``site`` and its daily totals."""
        return self._after_forget(self.store.forget_site(site))

    def forget_tracker(self, domain: str) -> dict[str, int]:
        """Delete every request to ``domain`` (any of its hosts, on any site) and its daily totals."""
        return self._after_forget(self.store.forget_domain(domain))

    def forget_days(self, first_day: int, last_day: int) -> dict[str, int]:
        """Delete whole days, ``first_day`` to ``last_day`` included (whole days keep the totals exact)."""
        return self._after_forget(self.store.forget_days(first_day, last_day))

    def forget_everything(self) -> dict[str, int]:
        """Delete all history (choices and settings are kept: they are what Crumbs does, not what it saw)."""
        return self._after_forget(self.store.forget_everything())

    def _after_forget(self, removed: dict[str, int]) -> dict[str, int]:
        self.invalidate()
        return removed

    # -- retention ------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {"retention_days": self.retention_days()}

    def retention_days(self) -> int:
        value = self.store.get_setting(RETENTION_KEY)
        try:
            days = int(value) if value is not None else DEFAULT_RETENTION_DAYS
        except ValueError:
            days = DEFAULT_RETENTION_DAYS
        return days if days >= 0 else DEFAULT_RETENTION_DAYS

    def set_retention_days(self, days: int) -> None:
        if days not in RETENTION_CHOICES:
            raise ValueError(f"keep detail for one of {RETENTION_CHOICES} days (0: for ever)")
        self.store.set_setting(RETENTION_KEY, str(days))

    def apply_retention(self, now: int | None = None) -> dict[str, int]:
        """Delete request detail older than the retention (whole days); the daily totals stay."""
        now = now_ms() if now is None else now
        days = self.retention_days()
        removed = {"requests": 0, "hosts": 0, "domains": 0, "filters": 0}
        if days:
            cutoff = (now // DAY_MS - days + 1) * DAY_MS  # keep today and the days-1 before it
            removed.update(self.store.delete_detail_before(cutoff))
        self.store.set_setting(RETENTION_RUN_KEY, str(now))
        return removed

    def retention_due(self, now: int | None = None, every_ms: int = 3_600_000) -> bool:
        now = now_ms() if now is None else now
        last = self.store.get_setting(RETENTION_RUN_KEY)
        return last is None or not last.isdigit() or now - int(last) >= every_ms

    # -- choices import -------------------------------------------------------------------

    def import_choices(self, data: Any) -> int:
        """Apply choices exported by the choices page (the shape of ``Store.list_choices``); all or nothing."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object with site_tracker, everywhere and trusted lists")
        site_tracker = [(_dom(i, "site"), _dom(i, "tracker"), _action(i)) for i in _items(data, "site_tracker")]
        everywhere = [(_dom(i, "tracker"), _action(i)) for i in _items(data, "everywhere")]
        trusted = []
        for item in _items(data, "trusted"):
            until = item.get("until")
            if until is not None and (isinstance(until, bool) or not isinstance(until, int)):
                raise ValueError("'until' must be epoch milliseconds or null")
            trusted.append((_dom(item, "site"), until))
        return self.store.import_choices(site_tracker, everywhere, trusted)


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


# -- checks -------------------------------------------------------------------------------


# -- helpers ------------------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (or tab/CR) gets a leading quote."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return "" if value is None else value


def _items(data: dict, key: str) -> list[dict]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"'{key}' must be a list of objects")
    return items


def _dom(item: dict, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a domain name")
    try:
        return site_of(value)
    except NotANetworkURL as exc:
        raise ValueError(f"{value[:80]!r} is not a domain: {exc}") from None


def _action(item: dict) -> str:
    action = item.get("action")
    if action not in ACTIONS:
        raise ValueError(f"'action' must be one of {', '.join(ACTIONS)}")
    return action
