"""Breakage reports: "this page is broken", said by the person, with the trackers blocked on it then.

When someone presses "Page broken?" in the popup, the extension trusts the site for an hour and sends
the site and the tracker domains the browser had blocked on that page. They are kept here, on this
computer only, so the history pages can list them and say, on a tracker's page, how often blocking it
went with a broken page: the person's own evidence when deciding whether to allow it somewhere.

Shape: ``breakage_reports`` (one row per report: when, which site) and ``breakage_trackers`` (the
blocked trackers of a report). Only registrable domains are kept, never the page's address, as for
the rest of the history. Core module: no Flask. Functions take the :class:`companion.storage.Store`
(its connection, lock and transactions); the tables come with the store's migration 3 (:func:`migrate`).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

MAX_TRACKERS = 200  # a page with more blocked tracker domains than this is beyond any real report


class _Store(Protocol):  # what this module needs of companion.storage.Store
    conn: Any
    lock: Any

    def transaction(self) -> Any: ...


def migrate(db: Any) -> None:
    """Schema migration 3 of the store: the two tables of breakage reports."""
    for statement in (
        """CREATE TABLE IF NOT EXISTS breakage_reports (
               id INTEGER PRIMARY KEY,
               time INTEGER NOT NULL,          -- epoch ms
               site TEXT NOT NULL              -- registrable domain of the page
           )""",
        "CREATE INDEX IF NOT EXISTS breakage_reports_site ON breakage_reports(site)",
        """CREATE TABLE IF NOT EXISTS breakage_trackers (
               report_id INTEGER NOT NULL REFERENCES breakage_reports(id) ON DELETE CASCADE,
               tracker TEXT NOT NULL,          -- registrable domain blocked on the page then
               PRIMARY KEY (report_id, tracker)
           ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS breakage_trackers_tracker ON breakage_trackers(tracker)",
    ):
        db.conn.execute(statement)


def add_report(store: _Store, site: str, trackers: list[str], when: int | None = None) -> dict[str, Any]:
    """Record one report (domains already validated and reduced); returns it as stored."""
    when = int(time.time() * 1000) if when is None else when
    unique = sorted(set(trackers))
    with store.transaction():
        report_id = store.conn.execute("INSERT INTO breakage_reports (time, site) VALUES (?, ?)", (when, site)).lastrowid
        store.conn.executemany("INSERT INTO breakage_trackers (report_id, tracker) VALUES (?, ?)",
                               [(report_id, t) for t in unique])
    return {"id": report_id, "time": when, "site": site, "trackers": unique}


def reports(store: _Store, limit: int = 500) -> list[dict[str, Any]]:
    """The newest reports first, each with its blocked trackers."""
    with store.lock:
        rows = store.conn.execute(
            """SELECT r.id, r.time, r.site, group_concat(t.tracker, ' ')
               FROM breakage_reports r LEFT JOIN breakage_trackers t ON t.report_id = r.id
               GROUP BY r.id ORDER BY r.time DESC, r.id DESC LIMIT ?""",
            (int(limit),),
        ).fetchall()
    return [{"id": i, "time": t, "site": s, "trackers": sorted(ts.split(" ")) if ts else []} for i, t, s, ts in rows]


def tracker_summary(store: _Store, tracker: str) -> dict[str, int]:
    """For a tracker's page: in how many reports (and on how many sites) it was blocked on a broken page."""
    with store.lock:
        reports_n, sites_n = store.conn.execute(
            """SELECT count(*), count(DISTINCT r.site) FROM breakage_trackers t
               JOIN breakage_reports r ON r.id = t.report_id WHERE t.tracker = ?""",
            (tracker,),
        ).fetchone()
    return {"reports": reports_n, "sites": sites_n}


def forget(store: _Store, report_id: int | None = None) -> int:
    """Delete one report, or every report (None); returns how many went."""
    with store.transaction():
        if report_id is None:
            store.conn.execute("DELETE FROM breakage_trackers")
            return store.conn.execute("DELETE FROM breakage_reports").rowcount
        store.conn.execute("DELETE FROM breakage_trackers WHERE report_id = ?", (report_id,))
        return store.conn.execute("DELETE FROM breakage_reports WHERE id = ?", (report_id,)).rowcount
