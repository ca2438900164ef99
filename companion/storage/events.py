"""Recording requests (detail rows and daily totals in one transaction) and the reads the server needs."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..classify import Verdict
from .sitegroups import Groups, SiteGroups
from .schema import (BLOCKED, BROWSER_BLOCKED, DECIDED_CODES, DECIDED_NAMES, DECIDED_SHIFT, EXCEPTION, OUTCOME, RULE_BLOCKED,
                     SAME_OWNER, THIRD_PARTY, TRACKER, TYPE_CODES, TYPE_MASK, TYPE_SHIFT, day_of, day_start)

# A verdict's type and decider, already shifted into their bits of requests.kind.
_TYPE_KINDS = {name: code << TYPE_SHIFT for name, code in TYPE_CODES.items()}
_DECIDED_KINDS = {name: code << DECIDED_SHIFT for name, code in DECIDED_CODES.items()}


@dataclass(slots=True)
class RecordedEvent:
    """One event to record: the decided verdict, when the browser saw it and what the browser did.

    ``browser_blocked`` is the outcome: True when the browser's rules stopped the request, False
    when it left the browser. The verdict's ``blocked`` is what the companion meant, kept apart
    (a rule not yet fetched by the browser, a path no filter names: meant and done can differ).
    ``outcome_reported``: the extension said so explicitly (``outcome``), not by default.
    ``stream`` and ``seq``: the extension's numbering, by which an event sent again is known
    (storage/delivered.py); None from an older extension.
    """

    verdict: Verdict
    time: int  # epoch ms
    browser_blocked: bool = False
    outcome_reported: bool = False
    stream: str | None = None
    seq: int | None = None


# A batch's rows go in with a few multi-row statements, not one step per row (executemany): each step lets
# go of Python's lock and must take it back, and while another thread computes (a history page, the sums
# made in the background) each taking back waits for that thread's turn. At 10M, while the periods were
# summed after the first page, a batch waited up to 218-256 ms that way (147-183 ms after). Chunks of 64,
# 32, ... 1 rows: eight statements per table, all kept compiled in sqlite3's statement cache.
CHUNKS = (64, 32, 16, 8, 4, 2, 1)
_INSERT_REQUESTS = "INSERT INTO requests (site_id, time, id, host_id, kind, filter_id) VALUES {}"
# SQLite applies the upsert row by row; a batch's totals have one row per key (summed in record).
_ADD_DAILY = """INSERT INTO daily (day, site_id, domain_id, requests, trackers, blocked, reached) VALUES {}
                ON CONFLICT (day, site_id, domain_id) DO UPDATE SET
                  requests = requests + excluded.requests,
                  trackers = trackers + excluded.trackers,
                  blocked = blocked + excluded.blocked,
                  reached = reached + excluded.reached"""


@lru_cache(maxsize=32)
def _many_rows(statement: str, columns: int, count: int) -> str:
    return statement.format(",".join(["(" + ",".join("?" * columns) + ")"] * count))


def _insert_rows(conn, statement: str, rows: list[tuple]) -> None:
    """``statement`` (with ``{}`` for its VALUES) for every row of ``rows``, in chunks of CHUNKS' sizes."""
    start = 0
    for size in CHUNKS:
        while len(rows) - start >= size:
            chunk = rows[start:start + size]
            conn.execute(_many_rows(statement, len(chunk[0]), size), [value for row in chunk for value in row])
            start += size


class EventsMixin:
    """Part of :class:`companion.storage.Store`: the ``requests`` and ``daily`` tables."""

    # While retention runs: the host ids recorded since it began (it must not delete them as orphans).
    _hosts_recorded: set[int] | None = None

    def record(self, events: Sequence[RecordedEvent]) -> set[int]:
        """Record a batch in one transaction; returns once it is committed (durable).

        One row per event: (site, time, id, host, kind, filter), see migration 8 of :mod:`.schema`;
        the daily totals of the batch are summed here and added with one upsert per (day, site, domain).
        This runs once per event of every batch, so it works with local names and plain tuples.

        An event whose stream already has its seq recorded is not recorded again (storage/delivered.py):
        returns the positions of those events in ``events`` (usually none)."""
        if not events:
            return set()
        # The lock around the transaction: the kept site groups learn of the batch after its commit and
        # before another thread can take a snapshot (storage/sitegroups.py); and a copy of this batch
        # sent again meanwhile is judged against the marks this one moves.
        with self.lock:
            fresh, again, marks = self._undelivered(events)
            if not fresh:
                return again
            with self.transaction():
                rows, totals = self._insert_batch(fresh)
                if marks:
                    self._move_marks(marks)
            self._marks_moved(marks)  # first: a mark in memory behind the file's would let a resend in
            self.site_groups.recorded(rows)
        self._daily_recorded(totals)  # storage/history.py: the history's in-memory sums of these days are stale
        return again

    def _insert_batch(self, events: Sequence[RecordedEvent]) -> tuple[list[tuple], dict[tuple[int, int, int], list[int]]]:
        """The batch's detail rows and daily totals, inserted (the caller holds the transaction)."""
        rows = []
        totals: dict[tuple[int, int, int], list[int]] = {}
        self._ensure_caches()
        domain_id, host_id, filter_id = self.domain_id, self.host_id, self.filter_id
        domains, hosts = self._domain_ids, self._host_ids
        type_codes, decided_codes = _TYPE_KINDS, _DECIDED_KINDS
        next_id = self._take_request_ids(len(events))
        day, day_lo, day_hi = 0, 0, 0  # the local day of the last time seen and its bounds (epoch ms)
        for n, event in enumerate(events, next_id):
            v = event.verdict
            when = event.time
            page = v.page_domain
            site_id = (domains.get(page) or domain_id(page)) if page else 0
            domain = v.domain
            hid = hosts.get(v.host) or host_id(v.host, domain)
            fid = filter_id(v.list, v.filter) if v.filter and v.list else None
            stopped = event.browser_blocked
            flags = (
                (THIRD_PARTY if v.third_party else 0)
                | (TRACKER if v.tracker else 0)
                | (BLOCKED | BROWSER_BLOCKED if stopped else 0)
                | (SAME_OWNER if v.same_owner else 0)
                | (EXCEPTION if v.exception else 0)
                | (RULE_BLOCKED if v.blocked else 0)
                | (OUTCOME if event.outcome_reported else 0)
            )
            rows.append((site_id, when, n, hid, flags | type_codes[v.type] | decided_codes[v.decided_by], fid))
            if not day_lo <= when < day_hi:  # a batch's times fall on one day or two: localtime() per day
                day = day_of(when)
                day_lo, day_hi = day_start(day), day_start(day + 1)
                if not day_lo <= when < day_hi:  # a clock change at midnight: no bounds to trust
                    day_lo = day_hi = 0
            key = (day, site_id, domains.get(domain) or domain_id(domain))
            total = totals.get(key)
            if total is None:
                total = totals[key] = [0, 0, 0, 0]
            total[0] += 1
            if v.tracker:
                total[1] += 1
            if stopped:
                total[2] += 1
            else:
                total[3] += 1
        _insert_rows(self.conn, _INSERT_REQUESTS, rows)
        _insert_rows(self.conn, _ADD_DAILY, [(*key, *t) for key, t in totals.items()])
        if self._hosts_recorded is not None:
            self._hosts_recorded.update(row[3] for row in rows)
        return rows, totals

    @property
    def site_groups(self) -> SiteGroups:
        """The popup's groups of the sites asked lately (storage/sitegroups.py)."""
        kept = self.__dict__.get("_site_groups")
        if kept is None:
            with self.lock:
                kept = self.__dict__.setdefault("_site_groups", SiteGroups())
        return kept

    def insert_detail(self, rows: Sequence[tuple[int, int | None, int, int, int, int, int | None]]) -> None:
        """Write detail rows given as (time, site_id, host_id, type code, flags, decided code, filter_id),
        ids handed out in that order. The caller holds the transaction and keeps ``daily`` in step: this
        is for histories written wholesale (the benchmarks' generated years), not for recording."""
        first = self._take_request_ids(len(rows))
        self.site_groups.deleted()  # written wholesale, not through record(): no kept group follows it
        _insert_rows(
            self.conn, _INSERT_REQUESTS,
            [(site or 0, t, n, host, flags | rtype << TYPE_SHIFT | decided << DECIDED_SHIFT, fid)
             for n, (t, site, host, rtype, flags, decided, fid) in enumerate(rows, first)])

    def _take_request_ids(self, count: int) -> int:
        """The first of ``count`` new request ids (caller holds the transaction): the detail is a WITHOUT
        ROWID table, so ids come from a counter in settings, taken in the recording transaction itself
        (another process recording at the same time waits for the write lock, then reads the new value)."""
        row = self.conn.execute(
            "UPDATE settings SET value = value + ? WHERE key = 'requests_next_id' RETURNING value", (count,)
        ).fetchone()
        if row is None:  # a database whose counter went missing: start above what is stored
            top = self.conn.execute("SELECT coalesce(max(id), 0) FROM requests").fetchone()[0]
            self.conn.execute("INSERT INTO settings (key, value) VALUES ('requests_next_id', ?)", (top + 1 + count,))
            return top + 1
        return int(row[0]) - count

    def count_requests(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(*) FROM requests").fetchone()[0]

    def site_summary(self, site: str, request_type: str = "script") -> tuple[list[dict[str, Any]], set[str], list[tuple]]:
        """What the site report (the popup's answer) shows of ``site``, from one pass over its detail:

        - every third-party domain seen there, busiest first: requests, trackers, blocked, first and
          last seen (epoch ms) and its hosts;
        - the hosts its pages requested ``request_type`` resources from (a tracker seen there only through
          a pixel must not be said to have had its script replaced by a stand-in: companion/surrogates.py);
        - what let its third-party requests leave the browser, as :meth:`site_got_through` gives it.

        A busy site keeps hundreds of thousands of requests over a year: three passes over them (one
        per answer) took half a second a popup (issue 14). This reads them once, grouped by host, kind
        and filter, on a reader of its own (recording is not held meanwhile), and adds up the rest here.
        The groups of the sites asked lately are kept and followed by each batch (storage/sitegroups.py):
        a year of the busiest site took 0.2 s to group, every opening."""
        wanted_type = TYPE_CODES[request_type]
        rows = self._site_groups_named(site)
        third: dict[str, dict[str, Any]] = {}
        typed: set[str] = set()
        through: dict[tuple, int] = {}
        for domain, host, kind, ftext, flist, n, first, last in rows:
            if (kind >> TYPE_SHIFT) & TYPE_MASK == wanted_type:
                typed.add(host)
            if not kind & THIRD_PARTY:
                continue
            entry = third.get(domain)
            if entry is None:
                entry = third[domain] = {"domain": domain, "requests": 0, "trackers": 0, "blocked": 0,
                                         "first_seen": first, "last_seen": last, "hosts": set()}
            entry["requests"] += n
            entry["trackers"] += n if kind & TRACKER else 0
            entry["blocked"] += n if kind & BLOCKED else 0
            entry["first_seen"], entry["last_seen"] = min(entry["first_seen"], first), max(entry["last_seen"], last)
            entry["hosts"].add(host)
            if not kind & BLOCKED:
                key = (domain, host, bool(kind & TRACKER), bool(kind & RULE_BLOCKED), bool(kind & EXCEPTION),
                       DECIDED_NAMES.get(kind >> DECIDED_SHIFT, str(kind >> DECIDED_SHIFT)), ftext, flist)
                through[key] = through.get(key, 0) + n
        parties = sorted(third.values(), key=lambda e: (-e["requests"], e["domain"]))
        for entry in parties:
            entry["hosts"] = sorted(entry["hosts"])
        got_through = [(*key, n) for key, n in sorted(through.items(), key=lambda kv: tuple("" if v is None else str(v) for v in kv[0]))]
        return parties, typed, got_through

    def _site_groups_named(self, site: str) -> list[tuple]:
        """The site's detail grouped by host, kind and filter, named: (domain, host, kind, filter text,
        filter list, requests, first time, last time). Kept for the sites asked lately (sitegroups.py)."""
        kept = self.site_groups
        with self.reader() as reader:
            with self.lock:  # the snapshot is taken where no batch can commit unnoted (sitegroups.py)
                state = kept.current(self._data_version())
                row = reader.execute("SELECT id FROM domains WHERE name = ?", (site,)).fetchone()
                if row is None:
                    return []
                site_id = row[0]
                groups = kept.get(site_id)
                mine = kept.start(site_id) if groups is None else None
            if groups is None:
                try:
                    groups = {(h, k, f): [n, first, last] for h, k, f, n, first, last in reader.execute(
                        """SELECT host_id, kind, filter_id, count(*), min(time), max(time) FROM requests
                           WHERE site_id = ? GROUP BY host_id, kind, filter_id""", (site_id,))}
                finally:
                    with self.lock:
                        if groups is None:
                            kept.stop(site_id, mine)
                        else:
                            groups = kept.finish(site_id, mine, groups, state, self._data_version())
        return self._named_groups(groups)

    def _named_groups(self, groups: Groups) -> list[tuple]:
        # Names from a snapshot of now: batches noted since the grouping's snapshot may name new hosts.
        hosts = sorted({h for h, _k, _f in groups})
        filters = sorted({f for _h, _k, f in groups if f is not None})
        with self.reader() as reader:
            host_names = {i: (name, domain) for i, name, domain in reader.execute(
                """SELECT h.id, h.name, d.name FROM hosts h JOIN domains d ON d.id = h.domain_id
                   WHERE h.id IN (SELECT value FROM json_each(?))""", (json.dumps(hosts),))}
            filter_names = {i: (text, lst) for i, text, lst in reader.execute(
                "SELECT id, text, list FROM filters WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(filters),))}
        named = []
        for (h, k, f), (n, first, last) in groups.items():
            if h in host_names:  # else deleted since (retention's orphan hosts): nothing of it is left to show
                ftext, flist = filter_names.get(f, (None, None))
                named.append((host_names[h][1], host_names[h][0], k, ftext, flist, n, first, last))
        return named

    def met_filters(self, limit: int | None = None) -> list[tuple[str, str, int]]:
        """The filters that decided verdicts for this person, most-met first: (list, text, times).

        This counts over every stored request (seconds at millions of rows), so it reads on a
        connection of its own: WAL lets it read a snapshot while batches keep being recorded,
        instead of holding the store's lock for the whole scan."""
        sql = """SELECT f.list, f.text, count(*) AS n FROM requests r JOIN filters f ON f.id = r.filter_id
                 GROUP BY r.filter_id ORDER BY n DESC"""
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self.reader() as reader:
            return [tuple(r) for r in reader.execute(sql)]

    def revisions(self) -> tuple[int, int]:
        """(choices_rev, newest filter id) in one read: what the browser rules depend on, checked per batch."""
        with self.lock:
            rev, newest = self.conn.execute(
                "SELECT (SELECT value FROM settings WHERE key = 'choices_rev'), (SELECT max(id) FROM filters)"
            ).fetchone()
        return int(rev or 0), newest or 0

