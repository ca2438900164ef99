"""Recording requests (detail rows and daily totals in one transaction) and the reads the server needs."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..classify import Verdict
from .schema import (BLOCKED, BROWSER_BLOCKED, DECIDED_CODES, EXCEPTION, OUTCOME, RULE_BLOCKED, SAME_OWNER,
                     THIRD_PARTY, TRACKER, TYPE_CODES, day_of)


@dataclass(slots=True)
class RecordedEvent:
    """One event to record: the decided verdict, when the browser saw it and what the browser did.

    ``browser_blocked`` is the outcome: True when the browser's rules stopped the request, False
    when it left the browser. The verdict's ``blocked`` is what the companion meant, kept apart
    (a rule not yet fetched by the browser, a path no filter names: meant and done can differ).
    ``outcome_reported``: the extension said so explicitly (``outcome``), not by default.
    """

    verdict: Verdict
    time: int  # epoch ms
    browser_blocked: bool = False
    outcome_reported: bool = False


class EventsMixin:
    """Part of :class:`companion.storage.Store`: the ``requests`` and ``daily`` tables."""

    def record(self, events: Sequence[RecordedEvent]) -> None:
        """Record a batch in one transaction; returns once it is committed (durable)."""
        if not events:
            return
        rows = []
        totals: dict[tuple[int, int, int], list[int]] = {}
        with self.transaction():
            self._ensure_caches()
            for event in events:
                v = event.verdict
                site_id = self.domain_id(v.page_domain) if v.page_domain else None
                host_id = self.host_id(v.host, v.domain)
                filter_id = self.filter_id(v.list, v.filter) if v.filter and v.list else None
                flags = (
                    (THIRD_PARTY if v.third_party else 0)
                    | (TRACKER if v.tracker else 0)
                    | (BLOCKED if event.browser_blocked else 0)
                    | (SAME_OWNER if v.same_owner else 0)
                    | (BROWSER_BLOCKED if event.browser_blocked else 0)
                    | (EXCEPTION if v.exception else 0)
                    | (RULE_BLOCKED if v.blocked else 0)
                    | (OUTCOME if event.outcome_reported else 0)
                )
                rows.append((event.time, site_id, host_id, TYPE_CODES[v.type], flags, DECIDED_CODES[v.decided_by], filter_id))
                key = (day_of(event.time), site_id or 0, self.domain_id(v.domain))
                total = totals.setdefault(key, [0, 0, 0, 0])
                total[0] += 1
                total[1] += 1 if v.tracker else 0
                total[2] += 1 if flags & BLOCKED else 0
                total[3] += 0 if flags & BLOCKED else 1
            self.conn.executemany(
                "INSERT INTO requests (time, site_id, host_id, type, flags, decided_by, filter_id) VALUES (?,?,?,?,?,?,?)",
                rows,
            )
            self.conn.executemany(
                """INSERT INTO daily (day, site_id, domain_id, requests, trackers, blocked, reached)
                   VALUES (?,?,?,?,?,?,?)
                   ON CONFLICT (day, site_id, domain_id) DO UPDATE SET
                     requests = requests + excluded.requests,
                     trackers = trackers + excluded.trackers,
                     blocked = blocked + excluded.blocked,
                     reached = reached + excluded.reached""",
                [(*key, *t) for key, t in totals.items()],
            )
        self._daily_recorded(totals)  # storage/history.py: the history's in-memory sums of these days are stale

    def count_requests(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(*) FROM requests").fetchone()[0]

    def site_third_parties(self, site: str) -> list[dict[str, Any]]:
        """Every third-party domain seen on ``site``: counts, first and last seen (epoch ms), filters that decided."""
        with self.lock:
            row = self.conn.execute("SELECT id FROM domains WHERE name = ?", (site,)).fetchone()
            if row is None:
                return []
            cursor = self.conn.execute(
                """
                SELECT d.name AS domain, count(*) AS requests,
                       sum((r.flags & ?) != 0) AS trackers, sum((r.flags & ?) != 0) AS blocked,
                       min(r.time) AS first_seen, max(r.time) AS last_seen,
                       group_concat(DISTINCT h.name) AS hosts
                FROM requests r JOIN hosts h ON h.id = r.host_id JOIN domains d ON d.id = h.domain_id
                WHERE r.site_id = ? AND (r.flags & ?) != 0
                GROUP BY h.domain_id ORDER BY requests DESC
                """,
                (TRACKER, BLOCKED, row[0], THIRD_PARTY),
            )
            columns = [c[0] for c in cursor.description]
            return [
                dict(zip(columns, r)) | {"hosts": sorted(r[-1].split(","))} for r in cursor.fetchall()
            ]

    def site_hosts_of_type(self, site: str, request_type: str) -> set[str]:
        """The hosts ``site``'s pages requested ``request_type`` resources from (any time in the kept history).

        The site report asks it for scripts: a tracker seen there only through a pixel must not be said to
        have had its script replaced by a stand-in (companion/surrogates.py)."""
        with self.lock:
            rows = self.conn.execute(
                """SELECT DISTINCT h.name FROM requests r
                     JOIN hosts h ON h.id = r.host_id JOIN domains s ON s.id = r.site_id
                    WHERE s.name = ? AND r.type = ?""",
                (site, TYPE_CODES[request_type]),
            ).fetchall()
        return {r[0] for r in rows}

    def met_filters(self, limit: int | None = None) -> list[tuple[str, str, int]]:
        """The filters that decided verdicts for this person, most-met first: (list, text, times).

        This counts over every stored request (seconds at millions of rows), so it reads on a
        connection of its own: WAL lets it read a snapshot while batches keep being recorded,
        instead of holding the store's lock for the whole scan."""
        sql = """SELECT f.list, f.text, count(*) AS n FROM requests r JOIN filters f ON f.id = r.filter_id
                 GROUP BY r.filter_id ORDER BY n DESC"""
        if limit:
            sql += f" LIMIT {int(limit)}"
        reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return [tuple(r) for r in reader.execute(sql)]
        finally:
            reader.close()

    def revisions(self) -> tuple[int, int]:
        """(choices_rev, newest filter id) in one read: what the browser rules depend on, checked per batch."""
        with self.lock:
            rev, newest = self.conn.execute(
                "SELECT (SELECT value FROM settings WHERE key = 'choices_rev'), (SELECT max(id) FROM filters)"
            ).fetchone()
        return int(rev or 0), newest or 0

