"""The popup's groups of a site's detail, kept for the sites asked lately and brought up to date by each batch.

The popup's answer for a site (:meth:`Store.site_summary`) groups the site's whole detail by host, kind
and filter: a few dozen groups, but at a year of heavy browsing the busiest site keeps ~160,000 rows, and
SQLite sorts them all to group them (~0.2 s per popup opening, issue 14). A person opens the popup again
and again on the sites they use most, which are those. So the groups of the last sites asked are kept
here: each recorded batch adds its rows to them, and anything that deletes detail (forgetting, retention,
or a commit by another connection, which SQLite's ``data_version`` shows) drops them all.

Exact while a site is being grouped: its reader's snapshot is taken under the store's lock, and from that
moment the batches committed (under the same lock) also note their rows of that site here; when the
grouping is done they are added to it. So each batch counts once, whether it committed before the
snapshot or after it.

Every method is called with the store's lock held.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

# (host id, kind, filter id) -> [requests, first time, last time] (epoch ms)
Groups = dict[tuple[int, int, "int | None"], list[int]]

KEPT_SITES = 32  # the sites a person opens the popup on in a day, give or take; ~50 groups of 3 ints each


class SiteGroups:
    """The kept groups (the most recently asked sites last) and the batches noted for groupings under way."""

    def __init__(self, limit: int = KEPT_SITES) -> None:
        self.limit = limit
        self.kept: OrderedDict[int, Groups] = OrderedDict()
        self.pending: dict[int, list[list[tuple[tuple[int, int, int | None], int]]]] = {}
        self.deletions = 0  # moved by every deletion of detail in this process
        self.version: int | None = None  # SQLite's data_version when the kept groups were last checked

    def current(self, data_version: int) -> tuple[int, int]:
        """The state the kept groups are good for: they are dropped when another connection committed."""
        if data_version != self.version:
            self.kept.clear()
            self.version = data_version
        return self.deletions, data_version

    def get(self, site_id: int) -> Groups | None:
        """A copy of the site's kept groups (batches go on changing the kept ones), or None."""
        groups = self.kept.get(site_id)
        if groups is None:
            return None
        self.kept.move_to_end(site_id)
        return {key: list(value) for key, value in groups.items()}

    def start(self, site_id: int) -> list:
        """Note the rows of ``site_id`` that batches commit from now on (call as its snapshot is taken)."""
        mine: list = []
        self.pending.setdefault(site_id, []).append(mine)
        return mine

    def finish(self, site_id: int, mine: list, groups: Groups, state: tuple[int, int], data_version: int) -> Groups:
        """``groups`` (of the snapshot taken at :meth:`start`) with the batches committed since added; kept
        for the next asker unless detail was deleted meanwhile (``state``, from :meth:`current` then, against
        ``data_version`` now)."""
        self.stop(site_id, mine)
        _add(groups, mine)
        if state == self.current(data_version):
            self.kept[site_id] = {key: list(value) for key, value in groups.items()}
            self.kept.move_to_end(site_id)
            while len(self.kept) > self.limit:
                self.kept.popitem(last=False)
        return groups

    def stop(self, site_id: int, mine: list) -> None:
        """No more noting for the grouping that :meth:`start` gave ``mine`` (done, or failed)."""
        waiting = self.pending[site_id]
        waiting[:] = [noted for noted in waiting if noted is not mine]
        if not waiting:
            del self.pending[site_id]

    def recorded(self, rows: Iterable[tuple]) -> None:
        """A batch's detail rows ``(site_id, time, id, host_id, kind, filter_id)`` were committed."""
        kept, pending = self.kept, self.pending
        if not kept and not pending:
            return
        for site_id, when, _id, host, kind, filter_id in rows:
            groups = kept.get(site_id)
            if groups is not None:
                _add(groups, (((host, kind, filter_id), when),))
            for noted in pending.get(site_id, ()):
                noted.append(((host, kind, filter_id), when))

    def deleted(self) -> None:
        """Detail was deleted (forgetting, retention): no kept group can be trusted."""
        self.deletions += 1
        self.kept.clear()


def _add(groups: Groups, rows: Iterable[tuple[tuple[int, int, int | None], int]]) -> None:
    for key, when in rows:
        group = groups.get(key)
        if group is None:
            groups[key] = [1, when, when]
        else:
            group[0] += 1
            if when < group[1]:
                group[1] = when
            if when > group[2]:
                group[2] = when
