"""The history's heart: a snapshot of a period, summed from the daily totals and partly kept in memory."""
from __future__ import annotations

import gc
import logging
import threading
from typing import Any, Protocol

from ..memory import give_back_freed
from ..storage import Store
from .data import DataMixin
from .periods import PERIODS, Period, period_ending
from .sums import (LIVE_DAYS, UNKNOWN_SITE, WEEK_DAYS, Pair, Snapshot, _Part, _Totals, counts_figures,
                   headline_figures, reach_counts, reach_order)
from .views import ViewsMixin

log = logging.getLogger("crumbs.history")


class TrackerKnowledge(Protocol):
    """What this module needs of :class:`companion.trackerdb.TrackerDB`."""

    categories: dict[str, dict]

    def facts(self, domain: str) -> Any: ...

    def category_label(self, key: str | None) -> str | None: ...

    def owner_of(self, domain: str) -> str | None: ...


class History(ViewsMixin, DataMixin):
    """Read, export and forget the person's history (the questions are in :mod:`.views`, the
    person's data - export, forget, retention, choices import - in :mod:`.data`)."""

    def __init__(self, store: Store, trackers: TrackerKnowledge) -> None:
        self.store = store
        self.trackers = trackers
        self._owner_cache: dict[str, tuple[str | None, Any, str | None]] = {}
        self._knowledge_rev = getattr(trackers, "rev", 0)
        # (first day, last day) -> (the store's daily_version when summed, the part)
        self._part_cache: dict[tuple[int, int], tuple[tuple[tuple[int, int], int], _Part]] = {}
        self._snapshots: dict[Period, Snapshot] = {}  # the last snapshot of each period, while its parts hold
        self._name_cache: dict[int, str] = {}
        # Guards the caches above, not the database: the sums are read on a connection of their own
        # (Store.daily_sums), so recording goes on while a page sums months of totals.
        self._lock = threading.RLock()
        self._meta_cache: dict[int, tuple[str, str | None, str | None]] = {}
        self._warming: threading.Thread | None = None  # the thread of :meth:`warm`, while it sums
        # Spans being summed right now, by any thread: another thread wanting one waits for it instead of
        # summing it twice. The summing itself runs outside ``_lock``, so a page whose sums are kept is not
        # held up while months are summed for another (the background warm-up of "all" takes seconds).
        self._summing: dict[tuple[int, int], threading.Event] = {}
        self._generation = 0  # moved by invalidate(): a part summed before it must not be kept after it

    # -- knowledge ------------------------------------------------------------------------

    def _follow_knowledge(self) -> None:
        # A knowledge source was added, updated or removed (companion/knowledge.py bumps ``rev``):
        # owners and categories cached here, also in the frozen sums, may have changed.
        rev = getattr(self.trackers, "rev", 0)
        if rev != self._knowledge_rev:
            self.invalidate()
            self._knowledge_rev = rev

    def info(self, domain: str) -> tuple[str | None, Any]:
        """(owner, TrackerInfo or None) for a registrable domain, cached: lookups are per row."""
        if getattr(self.trackers, "rev", 0) != self._knowledge_rev:
            self._follow_knowledge()
        found = self._owner_cache.get(domain)
        if found is None:
            info = self.trackers.facts(domain)
            if info is not None:
                found = (info.owner, info, info.owner_source)
            else:
                owner = self.trackers.owner_of(domain)
                source = getattr(self.trackers, "owner_with_source", lambda d: (owner, "Crumbs" if owner else None))
                found = (owner, None, source(domain)[1])
            self._owner_cache[domain] = found
        return found[0], found[1]

    def owner_source(self, domain: str) -> str | None:
        """Where the owner of ``domain`` came from ("Crumbs" or a knowledge source's label), or None."""
        self.info(domain)
        return self._owner_cache[domain][2]

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

    def _meta(self, domain_id: int, names: dict[int, str]) -> tuple[str, str | None, str | None]:
        """(name, owner, category) of a third-party domain id, looked up once per id (a part has
        tens of thousands of pairs over a few thousand domains)."""
        found = self._meta_cache.get(domain_id)
        if found is None:
            domain = names.get(domain_id, "?")
            owner, info = self.info(domain)
            found = self._meta_cache[domain_id] = (domain, owner, info.category if info is not None else None)
        return found

    def _part(self, lo: int, hi: int, names: dict[int, str]) -> _Part:
        totals = self._sum_days(lo, hi)
        names = self._names_for(totals.pairs, names)
        pairs = []
        append = pairs.append
        meta = self._meta_cache
        requests = trackers = blocked = 0
        for (s, d), (n, t, b, f, l, r) in totals.pairs.items():
            m = meta.get(d) or self._meta(d, names)
            site = names.get(s, UNKNOWN_SITE) if s else UNKNOWN_SITE
            append(Pair(site, m[0], n, t, b, f, l, m[1], m[2], r))
            requests += n
            trackers += t
            blocked += b
        by_key = dict(zip(totals.pairs, pairs)) if lo == hi else None
        return _Part(pairs, totals.per_day, totals.visited, requests, trackers, blocked, by_key=by_key)

    def _refreshed(self, day: int, kept: tuple[tuple[tuple[int, int], int], _Part], version: tuple[tuple[int, int], int],
                   names: dict[int, str]) -> _Part | None:
        """Today's part with the batches recorded since it was summed applied: the rows of ``daily``
        they wrote to are read again (whole rows, so a batch already in the sums counts once), the rest
        of the part is kept. None when the store cannot say which rows changed: sum the day again."""
        old_version, part = kept
        if part.by_key is None or old_version[0] != version[0]:
            return None
        keys = self.store.daily_keys_since(old_version, day)
        if keys is None:
            return None
        rows = self.store.daily_rows(day, keys)
        names = self._names_for(rows, names)
        by_key = dict(part.by_key)
        visited = set(part.visited)
        requests, trackers, blocked = part.requests, part.trackers, part.blocked
        blocked_trackers, day_trackers = part.per_day.get(day, (0, 0))
        added = False
        changes: list[tuple[Pair | None, Pair]] = []
        for (s, d), (n, t, b, r) in rows.items():
            if s:
                visited.add(s)
            if s == d:  # a site's own other hosts: never a pair, only a visit
                continue
            old = by_key.get((s, d))
            if old is None:
                added = True
            else:
                requests, trackers, blocked = requests - old.requests, trackers - old.trackers, blocked - old.blocked
                blocked_trackers -= min(old.blocked, old.trackers)
                day_trackers -= old.trackers
            m = self._meta_cache.get(d) or self._meta(d, names)
            site = names.get(s, UNKNOWN_SITE) if s else UNKNOWN_SITE
            by_key[(s, d)] = new = Pair(site, m[0], n, t, b, day, day, m[1], m[2], r)
            changes.append((old, new))
            requests, trackers, blocked = requests + n, trackers + t, blocked + b
            blocked_trackers += min(b, t)
            day_trackers += t
        if added:  # in the order the sums give (site id, domain id): pages that keep ties in order agree
            by_key = {k: by_key[k] for k in sorted(by_key)}
        per_day = dict(part.per_day)
        if by_key:
            per_day[day] = (blocked_trackers, day_trackers)
        part.source = None  # only the newest part names the one it came from: no chain of old parts kept alive
        refreshed = _Part(list(by_key.values()), per_day, visited, requests, trackers, blocked, by_key=by_key,
                          source=(part, changes))
        return refreshed

    def _names_cached(self) -> dict[int, str]:
        # Names of ids never change; new ids appear as the person browses, deleted ones only by forgetting
        # (which calls invalidate()). So read only the ids above the highest one known.
        names = self._name_cache
        top = max(names, default=0)
        names.update(self.store.domain_names(above=top))
        return names

    def _names_for(self, keys, names: dict[int, str]) -> dict[int, str]:
        """``names``, read again if some (site id, domain id) of ``keys`` is not in it: a batch recorded
        between reading the names and the sums brought new ones."""
        if any((s and s not in names) or d not in names for s, d in keys):
            return self._names_cached()
        return names

    def _spans(self, p: Period) -> list[tuple[int, int]]:
        """The period cut where the recorder writes: today alone, and the days before it.

        A period reaching back before the oldest day recorded starts at that day: a history shorter than
        30 days has one set of sums for "30 days" and "all", not two copies (memory, issue 14). (Cutting
        the week out as a part of its own, shared by 7 days, 30 days and all, was tried: no smaller at a
        million requests over 10 days, and "all" at ten million had 60% more pairs for its pages to walk.)"""
        lo, hi = self._day_range(p)
        oldest = self.store.oldest_day()
        if oldest is not None and lo < oldest:
            lo = min(oldest, hi)
        live_lo = hi - LIVE_DAYS + 1
        return [(lo, hi)] if lo >= live_lo else [(lo, live_lo - 1), (live_lo, hi)]

    def _current_spans(self, day: int) -> set[tuple[int, int]]:
        """Every span some period ending on ``day`` is made of: the parts worth keeping that day."""
        return {span for key in PERIODS for span in self._spans(period_ending(key, day))}

    def _parts(self, p: Period) -> list[_Part]:
        """The period's parts, each summed once and kept in memory until a recorded batch (or a
        deletion) touches one of its days: the store says which (``daily_version``). Recording
        writes to today (and, for a batch sent across midnight, yesterday), so between batches
        every part is reused and after one only today's is summed again."""
        return [self._span_part(span, p.last_day) for span in self._spans(p)]

    def _span_part(self, span: tuple[int, int], last_day: int) -> _Part:
        """The part of days ``span``: the kept one while current, else summed (or, for today's, brought up
        to date) by this thread, or by another already doing it, which this one then waits for."""
        while True:
            with self._lock:
                version = self.store.daily_version(*span)  # before summing: a batch meanwhile shows next time
                found = self._part_cache.get(span)
                if found is not None and found[0] == version:
                    return found[1]
                summing = self._summing.get(span)
                if summing is None:
                    summing = self._summing[span] = threading.Event()
                    generation = self._generation
                    if found is None:
                        # A new day (or a span never asked): drop the parts no period of the day is made of.
                        current = self._current_spans(last_day)
                        self._part_cache = {k: v for k, v in self._part_cache.items() if k in current}
                    break
            summing.wait()  # then look again: its part, or (it failed, or a batch came) sum it here
        try:
            names = self._names_cached()
            part = self._refreshed(span[0], found, version, names) if found is not None else None
            part = part or self._part(*span, names)
            with self._lock:
                if generation == self._generation:  # not invalidated meanwhile (forgetting, new knowledge)
                    self._part_cache[span] = (version, part)
            if span[1] < last_day and len(part.pairs) >= FREEZE_PAIRS:
                _out_of_collectors_sight()
                give_back_freed()  # the rows summed to make it
            return part
        finally:
            with self._lock:
                del self._summing[span]
            summing.set()

    def _past_kept(self, p: Period) -> bool:
        """Whether the period's days before today are summed in memory and still current."""
        with self._lock:
            for span in self._spans(p)[:-1]:
                found = self._part_cache.get(span)
                if found is None or found[0] != self.store.daily_version(*span):
                    return False
            return True

    def overview_page(self, p: Period, limit: int | None = None) -> dict[str, Any]:
        """What the overview page shows of a period: its figures, the companies (and unowned trackers)
        by reach, the first ``limit`` of them, how many there are, and the timeline.

        From the kept sums when the period's past days are summed already, or it is longer than a week.
        Otherwise (the first page after start, after midnight, after forgetting) from
        :meth:`Store.overview_sums`, grouped by company and site in SQLite instead of making the period's
        (site, domain) pairs first: at ten million requests the first 7-day overview took 1.4 s the
        first way (issue 14). The same figures either way (the tests compare them on random histories);
        the pairs the other pages need are then made in the background if the caller asks (:meth:`warm`;
        ``from_sql`` says whether the sums were made)."""
        self._follow_knowledge()
        spans = self._spans(p)
        warming = self._warming is not None and self._warming.is_alive()
        # SQLite groups a week's rows in a fraction of a second, but sorts months of them through temporary
        # files (10M requests: 26 s for all days against 11 s summed here): SQL for a week at most. And
        # while the sums are being made in the background, waiting for them costs less than doing both.
        if self._past_kept(p) or warming or spans[0][0] < p.last_day - WEEK_DAYS + 1:
            snap = self.snapshot(p)
            return {"figures": self.overview(snap), "reach": self.reach(snap, limit),
                    "reach_total": self.reach_count(snap), "timeline": snap.timeline, "from_sql": False}
        return self._overview_from_sql(p, limit)

    def _overview_from_sql(self, p: Period, limit: int | None = None) -> dict[str, Any]:
        """:meth:`overview_page`'s answer grouped in SQLite (:meth:`Store.overview_sums`)."""
        lo, hi = self._spans(p)[0][0], p.last_day
        names = self._names_cached()
        keys: dict[str, int] = {}  # company or domain -> its number in the SQL
        number_of: dict[int, int] = {}  # domain id -> the number of its company or itself
        about: dict[int, list] = {}  # number -> [name, is a company, domains, tracker]

        def key_of(domain_ids: list[int]) -> dict[int, int]:
            nonlocal names
            names = self._names_for(((0, d) for d in domain_ids), names)
            for d in domain_ids:
                domain, owner, _category = self._meta(d, names)
                number = number_of[d] = keys.setdefault(owner or domain, len(keys))
                entry = about.setdefault(number, [owner or domain, False, set(), False])
                entry[1] = entry[1] or owner is not None
                entry[2].add(domain)
            return number_of

        sums = self.store.overview_sums(lo, hi, key_of)
        requests, trackers, blocked, reached = sums["totals"]
        for d, tracker in sums["domains"].items():
            if tracker:
                about[number_of[d]][3] = True
        figures = headline_figures(sums["visited"], requests, trackers, sum(1 for t in sums["domains"].values() if t),
                                   blocked, reached)
        reach = []
        for number, sites_reached, sites_stopped, n, b, r in sums["reach"]:
            name, is_company, domains, tracker = about[number]
            if tracker:  # as the kept sums' reach: whoever was a tracker somewhere in the period
                counts = (sites_reached, sites_stopped, n, b, r, sorted(domains), tracker, is_company)
                reach.append(counts_figures(name, counts, sums["visited"]))
        reach.sort(key=reach_order)
        first = p.first_day if p.first_day is not None else min(sums["per_day"], default=p.last_day)
        timeline = [(day, *_blocked_allowed(sums["per_day"].get(day, (0, 0)))) for day in range(first, p.last_day + 1)]
        return {"figures": figures, "reach": reach[:limit] if limit else reach, "reach_total": len(reach),
                "timeline": timeline, "from_sql": True}

    def warm(self, p: Period) -> None:
        """Sum the period in a background thread (one at a time) for the pages after its overview, then
        the other periods a person may switch to (30 days, all: at ten million requests their first page
        after a start took 2.7 and 7 s to sum, issue 14). The server calls this once the overview is sent:
        summing while the page is still being rendered would share the interpreter with it and slow the
        page it was meant to spare. Pages whose sums are kept meanwhile are not held up (:meth:`_span_part`)."""
        with self._lock:
            if self._warming is not None and self._warming.is_alive():
                return
            self._warming = threading.Thread(target=self._warm_run, args=(p,), name="crumbs-history-warm", daemon=True)
            self._warming.start()

    def _warm_run(self, p: Period) -> None:
        for key in (p.key, *(k for k in PERIODS if k != p.key)):
            try:
                self._reach_counts(self.snapshot(period_ending(key, p.last_day)))
            except Exception:  # noqa: BLE001 - a closed store at shutdown, a damaged file: the next page says so
                log.debug("history: summing %s in the background failed", key, exc_info=True)
                return

    def invalidate(self) -> None:
        """Forget the in-memory sums and names (after anything was deleted)."""
        with self._lock:
            self._generation += 1
            self._part_cache.clear()
            self._snapshots.clear()
            self._name_cache.clear()
            self._owner_cache.clear()
            self._meta_cache.clear()

    def snapshot(self, p: Period) -> Snapshot:
        """Third-party totals per (site, domain) and per day over the period."""
        self._follow_knowledge()
        parts = self._parts(p)
        with self._lock:
            cached = self._snapshots.get(p)
        if cached is not None and len(cached.parts) == len(parts) and all(a is b for a, b in zip(cached.parts, parts)):
            return cached  # nothing recorded in it since: the same sums, and what the pages derived from them
        snap = self._build_snapshot(p, parts)
        if (cached is not None and len(parts) >= 2 and len(cached.parts) == len(parts) and "reach_counts" in cached.memo
                and all(a is b for a, b in zip(cached.parts[:-1], parts[:-1]))):
            source = parts[-1].source
            if source is not None and source[0] is cached.parts[-1]:
                # Only today's part changed, by a known batch: only the companies and domains it touched
                # are counted again (over the parts' tallies; today's index follows the batch, _refreshed).
                counts = dict(cached.memo["reach_counts"])
                summaries = self._summaries(snap)
                for key in {new.owner or new.domain for _old, new in source[1]}:
                    counts[key] = reach_counts([s[key] for s in summaries if key in s])
                snap.memo["reach_counts"] = counts
        with self._lock:
            self._snapshots = {k: v for k, v in self._snapshots.items() if k.last_day == p.last_day}
            self._snapshots[p] = snap
        return snap

    @staticmethod
    def _build_snapshot(p: Period, parts: list[_Part]) -> Snapshot:
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
            timeline.append((day, *_blocked_allowed(per_day.get(day, (0, 0)))))
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


def _blocked_allowed(day: tuple[int, int]) -> tuple[int, int]:
    """(blocked, allowed) tracker requests of a day's (blocked trackers, trackers)."""
    return day[0], day[1] - day[0]


# Past days' sums this big are moved out of the garbage collector's sight (below); small ones
# cost a collection nothing worth a freeze.
FREEZE_PAIRS = 10_000


def _out_of_collectors_sight() -> None:
    """Move what is alive now, the sums of past days just made among it, out of the cyclic garbage
    collector's sight (``gc.freeze``). A year's sums are hundreds of thousands of small objects that
    live until the day ends; every full collection walked them all (~1 s on this machine, in the
    middle of whichever page happened to trigger it). They hold no reference cycles, so reference
    counting still frees them when the history drops them; only cyclic garbage alive at this moment
    is never collected, and this runs a few times a day (past days are summed once per period and day)."""
    gc.freeze()
