"""The SQL behind :mod:`companion.history`: sums over the daily totals, a site's detail, exports,
forgetting and retention. Answers are plain rows and dicts; what they mean is history's job."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .schema import (BLOCKED, BROWSER_BLOCKED, DECIDED_NAMES, DECIDED_SHIFT, EXCEPTION, FLAGS_MASK, OUTCOME,
                     RULE_BLOCKED, SAME_OWNER, THIRD_PARTY, TRACKER, TYPE_MASK, TYPE_NAMES, TYPE_SHIFT, day_start)

_NOTHING_REMOVED = {"requests": 0, "daily": 0, "hosts": 0, "domains": 0, "filters": 0}

# The sums behind every history page (tests/test_history_speed.py pins their query plans: each reads
# a range of days of daily's primary key, never the whole table).
DAILY_PAIRS_SQL = """SELECT site_id, domain_id, sum(requests), sum(trackers), sum(blocked), min(day), max(day), sum(reached)
                     FROM daily WHERE day BETWEEN ? AND ? AND site_id != domain_id GROUP BY site_id, domain_id"""
DAILY_PER_DAY_SQL = """SELECT day, sum(min(blocked, trackers)), sum(trackers) FROM daily
                       WHERE day BETWEEN ? AND ? AND site_id != domain_id GROUP BY day"""
DAILY_VISITED_SQL = "SELECT DISTINCT site_id FROM daily WHERE day BETWEEN ? AND ? AND site_id != 0"

# The overview's figures grouped in SQLite, for a period not summed in memory yet (Store.overview_sums).
# (DISTINCT keeps a b-tree of the few thousand domains; GROUP BY would sort every row first: 10x slower.)
DAILY_DOMAINS_SQL = "SELECT DISTINCT domain_id FROM daily WHERE day BETWEEN ? AND ? AND site_id != domain_id"
DAILY_TRACKER_DOMAINS_SQL = """SELECT DISTINCT domain_id FROM daily
                               WHERE day BETWEEN ? AND ? AND site_id != domain_id AND trackers > 0"""
DAILY_DAYS_SQL = """SELECT day, sum(min(blocked, trackers)), sum(trackers), sum(requests), sum(blocked), sum(reached)
                    FROM daily WHERE day BETWEEN ? AND ? AND site_id != domain_id GROUP BY day"""
_SNAPSHOT_SQL = "SELECT 1 FROM daily LIMIT 1"  # a first read: what pins a read transaction's snapshot
DAILY_VISITED_COUNT_SQL = "SELECT count(DISTINCT site_id) FROM daily WHERE day BETWEEN ? AND ? AND site_id != 0"
# Per key (temp.keys: a company, or a domain without one): sites reached (a request got through there),
# sites where every request was stopped, requests, blocked, reached; site 0 (no known page) is no site.
# One grouping by key, the sites counted distinct within it: a site is reached by a company when any of its
# rows there has a request that got through, and stopped on when it has requests there and none got through
# (reached <= requests, so those are the sites with requests less the sites reached). Grouping by (key,
# site) first sorted every row of the period twice; at 10M requests, 7 days: 0.46-0.50 -> 0.35-0.38 s.
DAILY_REACH_SQL = """SELECT key, reached_sites, sites - reached_sites, n, b, r
                     FROM (SELECT k.key AS key,
                                  count(DISTINCT CASE WHEN d.site_id != 0 AND d.reached > 0 THEN d.site_id END)
                                    AS reached_sites,
                                  count(DISTINCT CASE WHEN d.site_id != 0 AND d.requests > 0 THEN d.site_id END) AS sites,
                                  sum(d.requests) AS n, sum(d.blocked) AS b, sum(d.reached) AS r
                           FROM daily d JOIN temp.keys k ON k.domain_id = d.domain_id
                           WHERE d.day BETWEEN ? AND ? AND d.site_id != d.domain_id GROUP BY k.key)"""


class HistoryMixin:
    """Part of :class:`companion.storage.Store`."""

    # -- names ------------------------------------------------------------------------------

    def find_domain_id(self, name: str) -> int | None:
        """The id of a known domain or site name, or None (never creates one)."""
        with self.lock:
            row = self.conn.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def domain_names(self, above: int = 0) -> dict[int, str]:
        """id -> name of every domain with an id above ``above``."""
        with self.lock:
            return dict(self.conn.execute("SELECT id, name FROM domains WHERE id > ?", (above,)))

    def hosts_of_domain(self, domain_id: int) -> list[str]:
        with self.lock:
            return [h for (h,) in self.conn.execute(
                "SELECT name FROM hosts WHERE domain_id = ? ORDER BY name", (domain_id,))]

    def seen_as_site(self, domain_id: int) -> bool:
        with self.lock:
            return self.conn.execute("SELECT 1 FROM daily WHERE site_id = ? LIMIT 1", (domain_id,)).fetchone() is not None

    def data_summary(self) -> tuple[dict[str, int], int | None, int | None]:
        """Row counts of the history tables, the oldest request time and the oldest day kept.

        Counting ten million rows takes ~0.2 s: on a reader of its own, one snapshot, not holding the
        store's lock (recording goes on) nor passing the whole detail through the store's page cache."""
        with self.reader() as reader:
            counts = {t: reader.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("requests", "daily", "hosts", "domains")}
            oldest = self._oldest_request_time(reader)
            oldest_day = reader.execute("SELECT min(day) FROM daily").fetchone()[0]
        return counts, oldest, oldest_day

    # -- what changed in the daily totals ---------------------------------------------------

    # The history keeps sums of the daily totals in memory (companion/history/core.py). It asks
    # :meth:`daily_version` whether a span of days changed since it summed them: recording bumps the
    # days it wrote to (:meth:`_daily_recorded`, called at the end of ``record()``), deleting from
    # ``daily`` bumps everything. Kept in memory only: a new process starts with nothing summed.

    # How many recorded batches the store remembers the (day, site, domain) keys of: enough for
    # the batches recorded between two page loads; older ones make the history sum the day again.
    DAILY_LOG_BATCHES = 256

    def _daily_revs(self) -> tuple[list[int], dict[int, int], deque]:
        revs = getattr(self, "_daily_rev_state", None)
        if revs is None:
            # ([epoch, last batch], {day: last batch that wrote it}, [(batch, keys it wrote)])
            revs = self._daily_rev_state = ([0, 0], {}, deque(maxlen=self.DAILY_LOG_BATCHES))
        return revs

    def _daily_recorded(self, totals: dict[tuple[int, int, int], Any]) -> None:
        """A batch added ``totals`` ({(day, site_id, domain_id): ...}) to ``daily``: its days changed."""
        with self.lock:
            counters, days, log = self._daily_revs()
            counters[1] += 1
            for day, _site, _domain in totals:
                days[day] = counters[1]
            log.append((counters[1], tuple(totals)))

    def _daily_deleted(self) -> None:
        """Rows of ``daily`` were deleted (forgetting): every span of days changed."""
        with self.lock:
            counters, days, log = self._daily_revs()
            counters[0] += 1
            days.clear()
            log.clear()

    def daily_keys_since(self, version: tuple[tuple[int, int], int], day: int) -> set[tuple[int, int]] | None:
        """The (site_id, domain_id) rows of ``day`` that batches recorded after ``version`` (of
        :meth:`daily_version`) wrote to, or None when that is not known (a deletion since, or more
        batches than the store remembers): then the day must be summed again."""
        with self.lock:
            counters, _days, log = self._daily_revs()
            if version[0] != self._daily_epoch(counters):
                return None
            if version[1] < counters[1] and (not log or log[0][0] > version[1] + 1):
                return None
            return {(s, d) for rev, keys in log if rev > version[1] for k, s, d in keys if k == day}

    def daily_rows(self, day: int, keys: set[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int, int, int]]:
        """{(site_id, domain_id): (requests, trackers, blocked, reached)}: the rows of ``day`` named by ``keys``."""
        with self.lock:
            found = {}
            for s, d in keys:
                row = self.conn.execute(
                    "SELECT requests, trackers, blocked, reached FROM daily WHERE day = ? AND site_id = ? AND domain_id = ?",
                    (day, s, d)).fetchone()
                if row is not None:
                    found[(s, d)] = row
            return found

    def oldest_day(self) -> int | None:
        """The first day in ``daily`` (one step down its primary key), None when it is empty."""
        with self.lock:
            return self.conn.execute("SELECT min(day) FROM daily").fetchone()[0]

    def daily_version(self, lo: int, hi: int) -> tuple[tuple[int, int], int]:
        """A value that changes whenever the totals of days ``lo``..``hi`` may have changed
        (read it *before* summing: a batch recorded meanwhile then shows as a change next time)."""
        with self.lock:
            counters, days, _log = self._daily_revs()
            return self._daily_epoch(counters), max((rev for day, rev in days.items() if lo <= day <= hi), default=0)

    def _daily_epoch(self, counters: list[int]) -> tuple[int, int]:
        # Deletions here, and commits by any other connection to the file (another process: SQLite's
        # data_version), change every span: this process cannot know which days they touched.
        return counters[0], self._data_version()

    # -- sums over days ---------------------------------------------------------------------

    def daily_sums(self, lo: int, hi: int) -> tuple[dict, dict, set]:
        """For days ``lo``..``hi``: {(site_id, domain_id): (requests, trackers, blocked, first day, last day,
        reached)}, {day: (blocked trackers, trackers)} and the set of visited site ids (third parties only).
        ``blocked`` and ``reached`` are what the browser did (requests = reached + blocked).

        Read on a connection of its own, in one read transaction, without the store's lock: over
        months these sums take seconds, and recording batches must not wait for them (WAL lets them
        commit meanwhile). Ask :meth:`daily_version` before, to know when the answer goes stale."""
        with self.reader() as reader:
            # The days are interned: each row brings its own int objects for them, and the history keeps
            # hundreds of thousands of pairs of them alive (memory, issue 14).
            days: dict[int, int] = {}
            day = days.setdefault
            pairs = {
                (s, d): (n, t, b, day(f, f), day(l, l), r)
                for s, d, n, t, b, f, l, r in reader.execute(DAILY_PAIRS_SQL, (lo, hi))
            }
            per_day = {day: (b or 0, t or 0) for day, b, t in reader.execute(DAILY_PER_DAY_SQL, (lo, hi))}
            visited = {s for (s,) in reader.execute(DAILY_VISITED_SQL, (lo, hi))}
        return pairs, per_day, visited

    def overview_sums(self, lo: int, hi: int, key_of: Callable[[list[int]], dict[int, int]]) -> dict[str, Any]:
        """The overview of days ``lo``..``hi`` summed in SQLite, all of it from one snapshot of the file:

        - ``totals``: (requests, trackers, blocked, reached) to third parties;
        - ``per_day``: {day: (blocked tracker requests, tracker requests)};
        - ``visited``: how many sites were visited;
        - ``domains``: {domain id: whether it was a tracker somewhere} for every third party met;
        - ``reach``: per key, (key, sites reached, sites stopped on, requests, blocked, reached), the
          keys being what ``key_of(domain ids)`` gives each domain (a company's domains share one).

        The history asks this when the period is not summed in memory yet (the first page after start):
        a handful of rows per company instead of a row per (site, domain) made into Python objects.

        The grouping by company (most of the time) needs each domain's company first (``key_of``, Python);
        the day totals, tracker domains and sites visited do not, so they are read meanwhile on a second
        reader in a thread of its own: SQLite works without Python's lock, so the two use both cores. Both
        readers see the same commit: their snapshots are taken while the store's lock keeps any batch
        from committing between them."""
        with self.reader() as grouping, self.reader(any_thread=True) as reader:
            with self.lock:
                grouping.execute(_SNAPSHOT_SQL).fetchall()
                reader.execute(_SNAPSHOT_SQL).fetchall()
            domains = dict.fromkeys((d for (d,) in grouping.execute(DAILY_DOMAINS_SQL, (lo, hi))), False)
            read: dict[str, Any] = {}
            failed: list[BaseException] = []

            def rest() -> None:
                try:
                    read["trackers"] = reader.execute(DAILY_TRACKER_DOMAINS_SQL, (lo, hi)).fetchall()
                    read["days"] = reader.execute(DAILY_DAYS_SQL, (lo, hi)).fetchall()
                    read["visited"] = reader.execute(DAILY_VISITED_COUNT_SQL, (lo, hi)).fetchone()[0]
                except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread below
                    failed.append(exc)

            thread = threading.Thread(target=rest, name="crumbs-overview-totals", daemon=True)
            thread.start()
            try:
                grouping.execute("CREATE TEMP TABLE keys (domain_id INTEGER PRIMARY KEY, key INTEGER NOT NULL)")
                grouping.executemany("INSERT INTO keys VALUES (?, ?)", key_of(list(domains)).items())
                reach = grouping.execute(DAILY_REACH_SQL, (lo, hi)).fetchall()
            finally:
                thread.join()
            if failed:
                raise failed[0]
            domains.update((d, True) for (d,) in read["trackers"])
            per_day, totals = {}, [0, 0, 0, 0]
            for day, blocked_trackers, trackers, n, b, r in read["days"]:
                per_day[day] = (blocked_trackers or 0, trackers or 0)
                for i, v in enumerate((n, trackers, b, r)):
                    totals[i] += v or 0
            visited = read["visited"]
            return {"totals": tuple(totals), "per_day": per_day, "visited": visited, "domains": domains, "reach": reach}

    def site_got_through(self, site_id: int, start_ms: int, end_ms: int) -> list[tuple]:
        """The requests made on a site between two times that left the browser, grouped by what let
        them: (domain, host, tracker, blocked by rule, exception, decided_by, filter, list, count)."""
        with self.reader() as reader:  # months of a busy site's detail: not through the store's cache
            return [
                (d, h, bool(flags & TRACKER), bool(flags & RULE_BLOCKED), bool(flags & EXCEPTION),
                 DECIDED_NAMES.get(decided, str(decided)), ftext, flist, n)
                for d, h, flags, decided, ftext, flist, n in reader.execute(
                    """SELECT dom.name, h.name, r.kind & ?, r.kind >> ?, f.text, f.list, count(*)
                       FROM requests r JOIN hosts h ON h.id = r.host_id JOIN domains dom ON dom.id = h.domain_id
                       LEFT JOIN filters f ON f.id = r.filter_id
                       WHERE r.site_id = ? AND r.time >= ? AND r.time < ? AND (r.kind & ?) = 0
                         AND (r.kind & ?) != 0
                       GROUP BY h.id, r.kind & ?, r.kind >> ?, r.filter_id
                       ORDER BY dom.name, h.name""",
                    (TRACKER | RULE_BLOCKED | EXCEPTION, DECIDED_SHIFT, site_id, start_ms, end_ms, BLOCKED,
                     THIRD_PARTY, TRACKER | RULE_BLOCKED | EXCEPTION, DECIDED_SHIFT),
                )
            ]

    def site_other_hosts_requests(self, site_id: int, lo: int, hi: int) -> int:
        """Requests a site's pages made to the site's own other hosts (cdn.example.com from www.example.com)
        over days ``lo``..``hi``: reported (their host differs from the page's), then found first-party."""
        with self.lock:
            return self.conn.execute(
                "SELECT sum(requests) FROM daily WHERE site_id = ? AND domain_id = ? AND day BETWEEN ? AND ?",
                (site_id, site_id, lo, hi),
            ).fetchone()[0] or 0

    def site_detail(self, site_id: int, lo: int, hi: int) -> dict[str, tuple]:
        """{third-party domain: (first time, last time, "host,host")} on a site over days ``lo``..``hi``,
        from the request detail. (A site's own requests are never reported, so there is no count of them.)"""
        with self.reader() as reader:  # months of a busy site's detail: not through the store's cache
            return {
                d: (first, last, hosts)
                for d, first, last, hosts in reader.execute(
                    """SELECT dom.name, min(r.time), max(r.time), group_concat(DISTINCT h.name)
                       FROM requests r JOIN hosts h ON h.id = r.host_id JOIN domains dom ON dom.id = h.domain_id
                       WHERE r.site_id = ? AND r.time >= ? AND r.time < ? GROUP BY h.domain_id""",
                    (site_id, day_start(max(lo, 0)), day_start(hi + 1)),
                )
            }

    # -- export -----------------------------------------------------------------------------

    def iter_requests(self) -> Iterator[dict[str, Any]]:
        """Every stored request, names resolved, flags spelled out (and kept raw), by site then time
        (the table's own order: millions of rows are never sorted).

        It reads one snapshot on a read-only connection of its own with a small page cache, so memory
        stays the same from the first row to the last and recording goes on meanwhile. (Through the
        store's connection and its 64 MB page cache, bench_scale saw +23 MB at 1 million rows; this
        way, +0 at every mark.) Names are resolved from dictionaries of the hosts, domains and
        filters (thousands of entries, read once) instead of four joins per row."""
        with self.reader() as reader:  # one snapshot: the names and the rows that use them
            domains = dict(reader.execute("SELECT id, name FROM domains"))
            hosts = {i: (name, domains.get(d)) for i, name, d in reader.execute("SELECT id, name, domain_id FROM hosts")}
            filters = {i: (text, name) for i, name, text in reader.execute("SELECT id, list, text FROM filters")}
            no_host, no_filter = (None, None), (None, None)
            cursor = reader.execute("SELECT id, time, site_id, host_id, kind, filter_id FROM requests")
            while True:
                chunk = cursor.fetchmany(5000)
                if not chunk:
                    return
                for rid, t, site_id, host_id, kind, filter_id in chunk:
                    host, domain = hosts.get(host_id, no_host)
                    ftext, flist = filters.get(filter_id, no_filter)
                    flags = kind & FLAGS_MASK
                    rtype, decided = (kind >> TYPE_SHIFT) & TYPE_MASK, kind >> DECIDED_SHIFT
                    yield {
                        "id": rid, "time": t, "site": domains.get(site_id), "host": host, "domain": domain,
                        "type": TYPE_NAMES.get(rtype, str(rtype)),
                        "third_party": bool(flags & THIRD_PARTY), "tracker": bool(flags & TRACKER),
                        "blocked": bool(flags & BLOCKED), "same_owner": bool(flags & SAME_OWNER),
                        "browser_blocked": bool(flags & BROWSER_BLOCKED), "exception": bool(flags & EXCEPTION),
                        "blocked_by_rule": bool(flags & RULE_BLOCKED), "outcome_reported": bool(flags & OUTCOME),
                        "decided_by": DECIDED_NAMES.get(decided, str(decided)), "filter": ftext, "list": flist,
                        "flags": flags,
                    }

    def iter_daily(self) -> Iterator[dict[str, Any]]:
        """Every daily total, names resolved (day number; history adds the date)."""
        with self.reader() as reader:
            names = dict(reader.execute("SELECT id, name FROM domains"))
            for day, s, d, n, t, b, r in reader.execute(
                "SELECT day, site_id, domain_id, requests, trackers, blocked, reached FROM daily ORDER BY day, site_id, domain_id"
            ):
                yield {"day": day, "site": names.get(s) if s else None, "domain": names.get(d),
                       "requests": n, "trackers": t, "blocked": b, "reached": r}

    # -- forgetting and retention -----------------------------------------------------------

    # Each forget also forgets the breakage reports it matches (storage/breakage.py), in the same
    # transaction: a report names a site and trackers, so it is history too.

    def forget_site(self, site: str) -> dict[str, int]:
        return self._forget("site_id = ?", "site_id = ?", lambda: self._id_params(site),
                            lambda: self._forget_breakage("site = ?", (site,)))

    def forget_domain(self, domain: str) -> dict[str, int]:
        return self._forget(
            "host_id IN (SELECT id FROM hosts WHERE domain_id = ?)", "domain_id = ?", lambda: self._id_params(domain),
            lambda: self._forget_breakage(tracker=domain),
        )

    def forget_days(self, first_day: int, last_day: int) -> dict[str, int]:
        if last_day < first_day:
            raise ValueError("the period ends before it starts")
        span = (day_start(first_day), day_start(last_day + 1))
        return self._forget("time >= ? AND time < ?", "day BETWEEN ? AND ?", lambda: (span, (first_day, last_day)),
                            lambda: self._forget_breakage("time >= ? AND time < ?", span))

    def forget_everything(self) -> dict[str, int]:
        return self._forget("1", "1", lambda: ((), ()), lambda: self._forget_breakage("1", ()))

    # Retention deletes at most this many request rows per transaction, and looks at most at this
    # many sites in one: the lock (and SQLite's write lock) is released between them, so a recording
    # batch waits for one small delete at most, never for a whole day of detail (issue 14: a batch is
    # never held more than 100 ms).
    # (At 10 million requests, 250/100 against 500/200 in turn: p99 hold 5-7 against 10-17 ms, a day
    # dropped in 6.3-6.7 against 5.7-5.8 s; bench/PERF-NOTES.md.)
    RETENTION_BATCH_ROWS = 250
    RETENTION_BATCH_SITES = 100

    def delete_detail_before(self, cutoff: int, stop: Callable[[], bool] | None = None) -> dict[str, int]:
        """Retention: delete request detail older than ``cutoff`` (epoch ms) in small transactions;
        daily totals stay. ``stop`` is asked before each transaction: when it says so, the walk ends there
        (the server is stopping; what is left goes at the next run).

        The detail is clustered on (site, time, id) (migration 8), so a site's old rows are one range
        at the start of the site's part of the table. The walk goes from site to site (one seek each,
        ``site_id > ?``) and deletes each site's range below the cutoff, at most
        ``RETENTION_BATCH_ROWS`` rows and ``RETENTION_BATCH_SITES`` sites per transaction (a big
        site's range takes several), pausing between transactions.

        Every request's site and domain are also in ``daily``, which retention keeps, so no
        domain becomes an orphan here; hosts can (see :meth:`_delete_orphan_hosts`). Filters are
        left: a few thousand list lines, not history (forgetting removes them)."""
        removed = {"requests": 0, "hosts": 0, "domains": 0, "filters": 0}
        candidates: set[int] = set()
        self._hosts_recorded = set()  # the hosts batches name from now on (see _delete_orphan_hosts)
        try:
            after, current = -1, None  # sites up to ``after`` are done; ``current`` is under way
            while True:
                if stop is not None and stop():
                    break
                started = time.monotonic()
                rows_left, sites_left, finished = self.RETENTION_BATCH_ROWS, self.RETENTION_BATCH_SITES, False
                with self.lock, self.transaction():  # the lock held past the commit: see the end of this block
                    conn = self.conn
                    while rows_left > 0 and sites_left > 0:
                        if current is None:
                            row = conn.execute("SELECT site_id FROM requests WHERE site_id > ? ORDER BY site_id LIMIT 1",
                                               (after,)).fetchone()
                            if row is None:
                                finished = True
                                break
                            current = row[0]
                            sites_left -= 1
                        old = conn.execute(
                            "SELECT time, id, host_id FROM requests WHERE site_id = ? AND time < ? ORDER BY time, id LIMIT ?",
                            (current, cutoff, rows_left)).fetchall()
                        if old:
                            last_time, last_id, _host = old[-1]
                            conn.execute(
                                "DELETE FROM requests WHERE site_id = ? AND (time < ? OR (time = ? AND id <= ?))",
                                (current, last_time, last_time, last_id))
                            removed["requests"] += len(old)
                            candidates.update(h for _t, _i, h in old)
                        if len(old) < rows_left:  # the site has nothing older left: on to the next
                            after, current = current, None
                        rows_left -= len(old)
                    if rows_left < self.RETENTION_BATCH_ROWS:
                        self.site_groups.deleted()  # the popup's kept groups counted what this deletes
                if finished:
                    break
                # Python's lock is not fair: without a pause this loop would take it straight back and
                # a waiting recording batch would wait for the whole pass. Pausing as long as the
                # delete took leaves writers at least half the time.
                time.sleep(max(0.001, time.monotonic() - started))
            if candidates:
                removed["hosts"] = self._delete_orphan_hosts(candidates)
        finally:
            self._hosts_recorded = None
        return removed

    def _used_host_ids(self) -> set[int]:
        """The host ids the detail names, read on a connection of its own: a scan of the table, so it
        must not hold the store's lock (WAL: it reads a snapshot while batches keep being recorded)."""
        with self.reader() as reader:
            return {h for (h,) in reader.execute("SELECT DISTINCT host_id FROM requests")}

    def _delete_orphan_hosts(self, candidates: set[int]) -> int:
        """Delete the hosts among ``candidates`` no request names: the scan runs outside the lock; the
        hosts named by batches recorded since retention began (``_hosts_recorded``, filled by
        :meth:`record`) are kept too, whether the scan's snapshot saw them or not. Only the server
        records (one per data folder, under its lock), so those batches are all this process's."""
        used = self._used_host_ids()
        doomed = candidates - used
        if not doomed:
            return 0
        with self._without_fk_checks(), self.transaction():
            gone = [(h,) for h in doomed - (self._hosts_recorded or set())]
            self.conn.executemany("DELETE FROM hosts WHERE id = ?", gone)
            ids = {h for (h,) in gone}
            self._host_ids = {name: i for name, i in self._host_ids.items() if i not in ids}
        return len(gone)

    def _oldest_request_time(self, conn: sqlite3.Connection) -> int | None:
        """The oldest request time kept: the first row of each site's range (one seek per site seen)."""
        return conn.execute(
            """SELECT min(t) FROM (SELECT (SELECT time FROM requests WHERE site_id = s.id ORDER BY time LIMIT 1) AS t
                                   FROM (SELECT 0 AS id UNION ALL SELECT id FROM domains) s)""").fetchone()[0]

    def _id_params(self, name: str) -> tuple[tuple, tuple] | None:
        row = self.conn.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
        return None if row is None else ((row[0],), (row[0],))

    @contextmanager
    def _without_fk_checks(self):
        """Foreign-key checks off (under the lock) for deletes of rows already known to be unreferenced:
        SQLite checks a deleted host against requests.host_id, which has no index (migration 4), so
        the check would scan the whole detail once per host."""
        with self.lock:
            self.conn.execute("PRAGMA foreign_keys=OFF")
            try:
                yield
            finally:
                self.conn.execute("PRAGMA foreign_keys=ON")

    def _forget(self, requests_where: str, daily_where: str, params, breakage) -> dict[str, int]:
        # The orphans deleted at the end are found by scanning what refers to them: see _without_fk_checks.
        with self._without_fk_checks(), self.transaction():
            reports = breakage()  # even when no request is left for the name: a report may outlive them
            found = params()
            if found is None:
                return {**_NOTHING_REMOVED, "breakage_reports": reports}
            conn = self.conn
            removed = {
                "requests": conn.execute(f"DELETE FROM requests WHERE {requests_where}", found[0]).rowcount,
                "daily": conn.execute(f"DELETE FROM daily WHERE {daily_where}", found[1]).rowcount,
            }
            removed.update(self._delete_orphans())
            removed["breakage_reports"] = reports
            self.site_groups.deleted()  # under the lock until the commit (_without_fk_checks holds it)
        self._daily_deleted()  # after the commit: a sum read meanwhile on another connection is then stale
        return removed

    def _delete_orphans(self) -> dict[str, int]:
        """Hosts, domains and filters nothing refers to any more (caller holds the transaction)."""
        conn = self.conn
        # One pass over the detail for the used hosts (no index on host_id: see migration 4).
        hosts = _delete_ids_except(conn, "hosts", {h for (h,) in conn.execute("SELECT DISTINCT host_id FROM requests")})
        used_filters = {f for (f,) in conn.execute("SELECT DISTINCT filter_id FROM requests") if f is not None}
        used = {d for (d,) in conn.execute("SELECT DISTINCT domain_id FROM hosts")}
        used |= {s for (s,) in conn.execute("SELECT DISTINCT site_id FROM requests") if s is not None}
        used |= {s for (s,) in conn.execute("SELECT DISTINCT site_id FROM daily")}
        used |= {d for (d,) in conn.execute("SELECT DISTINCT domain_id FROM daily")}
        domains = _delete_ids_except(conn, "domains", used)
        filters = _delete_ids_except(conn, "filters", used_filters)
        # Interned ids are handed out from caches: ids just deleted must not be reused from them.
        self._forget_caches()
        return {"hosts": hosts, "domains": domains, "filters": filters}


def _delete_ids_except(conn, table: str, keep: set[int]) -> int:
    doomed = [(i,) for (i,) in conn.execute(f"SELECT id FROM {table}") if i not in keep]
    conn.executemany(f"DELETE FROM {table} WHERE id = ?", doomed)
    return len(doomed)
