"""The SQL of "Page broken?" reports: record, list, count per tracker, forget.

Two tables (migration 3 in :mod:`.schema`): ``breakage_reports`` (when, which site) and
``breakage_trackers`` (the tracker domains the browser had blocked on that page). Only registrable
domains are kept, never a page's address. What the reports mean, and the checks on what the
extension sends, are :mod:`companion.breakage`'s job. A forgotten report's id is never handed out
again (AUTOINCREMENT since migration 9): a page still showing it must not forget a newer report.

Forgetting history forgets the matching reports in the same transaction (:meth:`_forget_breakage`,
called by :mod:`.history`'s forget statements): a report names a site and trackers the person saw,
so it is history too.
"""
from __future__ import annotations

from typing import Any


class BreakageMixin:
    """Part of :class:`companion.storage.Store`."""

    def add_breakage_report(self, when: int, site: str, trackers: list[str]) -> int:
        """One report and its (distinct) trackers, in one transaction; returns its id."""
        with self.transaction():
            report_id = self.conn.execute(
                "INSERT INTO breakage_reports (time, site) VALUES (?, ?)", (when, site)
            ).lastrowid
            self.conn.executemany("INSERT OR IGNORE INTO breakage_trackers (report_id, tracker) VALUES (?, ?)",
                                  [(report_id, t) for t in trackers])
        return report_id

    def breakage_reports(self, limit: int = 500) -> list[dict[str, Any]]:
        """The newest reports first, each with its trackers sorted."""
        with self.lock:
            rows = self.conn.execute(
                """SELECT r.id, r.time, r.site, group_concat(t.tracker, ' ')
                   FROM breakage_reports r LEFT JOIN breakage_trackers t ON t.report_id = r.id
                   GROUP BY r.id ORDER BY r.time DESC, r.id DESC LIMIT ?""",
                (int(limit),),
            ).fetchall()
        return [{"id": i, "time": t, "site": s, "trackers": sorted(ts.split(" ")) if ts else []}
                for i, t, s, ts in rows]

    def breakage_counts(self, tracker: str) -> tuple[int, int]:
        """(reports, distinct sites) in which ``tracker`` was blocked on a page said to be broken."""
        with self.lock:
            reports, sites = self.conn.execute(
                """SELECT count(*), count(DISTINCT r.site) FROM breakage_trackers t
                   JOIN breakage_reports r ON r.id = t.report_id WHERE t.tracker = ?""",
                (tracker,),
            ).fetchone()
        return reports, sites

    def forget_breakage_report(self, report_id: int | None = None) -> int:
        """Delete one report, or every report (None); returns how many went."""
        with self.transaction():
            if report_id is None:
                return self._forget_breakage("1", ())
            return self._forget_breakage("id = ?", (report_id,))

    def _forget_breakage(self, reports_where: str = "0", params: tuple = (), tracker: str | None = None) -> int:
        """Delete the reports matching ``reports_where`` (caller holds the transaction); or, with ``tracker``,
        take that tracker out of every report and drop the reports it was the only tracker of (they said
        nothing else). Returns how many reports went."""
        conn = self.conn
        gone = 0
        if tracker is not None:
            lonely = [i for (i,) in conn.execute(
                """SELECT report_id FROM breakage_trackers WHERE tracker = ? AND report_id NOT IN
                   (SELECT report_id FROM breakage_trackers WHERE tracker != ?)""", (tracker, tracker))]
            conn.execute("DELETE FROM breakage_trackers WHERE tracker = ?", (tracker,))
            gone += conn.executemany("DELETE FROM breakage_reports WHERE id = ?", [(i,) for i in lonely]).rowcount
        else:
            conn.execute(f"DELETE FROM breakage_trackers WHERE report_id IN (SELECT id FROM breakage_reports "
                         f"WHERE {reports_where})", params)
            gone += conn.execute(f"DELETE FROM breakage_reports WHERE {reports_where}", params).rowcount
        return gone
