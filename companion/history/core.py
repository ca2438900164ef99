"""The history's heart: a snapshot of a period, summed from the daily totals and partly kept in memory."""
from __future__ import annotations

from typing import Any, Protocol

from ..storage import Store
from .data import DataMixin
from .periods import Period
from .sums import LIVE_DAYS, UNKNOWN_SITE, Pair, Snapshot, _Part, _Totals
from .views import ViewsMixin


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
        self._owner_cache: dict[str, tuple[str | None, Any]] = {}
        self._frozen: dict[tuple[int, int], _Part] = {}
        self._name_cache: dict[int, str] = {}

    # -- knowledge ------------------------------------------------------------------------

    def info(self, domain: str) -> tuple[str | None, Any]:
        """(owner, TrackerInfo or None) for a registrable domain, cached: lookups are per row."""
        found = self._owner_cache.get(domain)
        if found is None:
            info = self.trackers.facts(domain)
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
        for (s, d), (n, t, b, f, l, r) in totals.pairs.items():
            domain = names.get(d, "?")
            owner, info = self.info(domain)
            site = names.get(s, UNKNOWN_SITE) if s else UNKNOWN_SITE
            pairs.append(Pair(site, domain, n, t, b, f, l, owner, info.category if info is not None else None,
                              f"{site}\n{domain}\n{owner or ''}".lower(), r))
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
