"""The SQL behind :mod:`companion.history`: sums over the daily totals, a site's detail, exports,
forgetting and retention. Answers are plain rows and dicts; what they mean is history's job."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .schema import (BLOCKED, BROWSER_BLOCKED, DECIDED_NAMES, EXCEPTION, OUTCOME, RULE_BLOCKED, SAME_OWNER,
                     THIRD_PARTY, TRACKER, TYPE_NAMES, day_start)

_NOTHING_REMOVED = {"requests": 0, "daily": 0, "hosts": 0, "domains": 0, "filters": 0}


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
        """Row counts of the history tables, the oldest request time and the oldest day kept."""
        with self.lock:
            counts = {t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("requests", "daily", "hosts", "domains")}
            oldest = self.conn.execute("SELECT min(time) FROM requests").fetchone()[0]
            oldest_day = self.conn.execute("SELECT min(day) FROM daily").fetchone()[0]
        return counts, oldest, oldest_day

    # -- sums over days ---------------------------------------------------------------------

    def daily_sums(self, lo: int, hi: int) -> tuple[dict, dict, set]:
        """For days ``lo``..``hi``: {(site_id, domain_id): (requests, trackers, blocked, first day, last day,
        reached)}, {day: (blocked trackers, trackers)} and the set of visited site ids (third parties only).
        ``blocked`` and ``reached`` are what the browser did (requests = reached + blocked)."""
        with self.lock:
            conn = self.conn
            pairs = {
                (s, d): (n, t, b, f, l, r)
                for s, d, n, t, b, f, l, r in conn.execute(
                    """SELECT site_id, domain_id, sum(requests), sum(trackers), sum(blocked), min(day), max(day),
                              sum(reached)
                       FROM daily WHERE day BETWEEN ? AND ? AND site_id != domain_id GROUP BY site_id, domain_id""",
                    (lo, hi),
                )
            }
            per_day = {
                day: (b or 0, t or 0)
                for day, b, t in conn.execute(
                    """SELECT day, sum(min(blocked, trackers)), sum(trackers) FROM daily
                       WHERE day BETWEEN ? AND ? AND site_id != domain_id GROUP BY day""",
                    (lo, hi),
                )
            }
            visited = {s for (s,) in conn.execute(
                "SELECT DISTINCT site_id FROM daily WHERE day BETWEEN ? AND ? AND site_id != 0", (lo, hi))}
        return pairs, per_day, visited

    def site_got_through(self, site_id: int, start_ms: int, end_ms: int) -> list[tuple]:
        """The requests made on a site between two times that left the browser, grouped by what let
        them: (domain, host, tracker, blocked by rule, exception, decided_by, filter, list, count)."""
        with self.lock:
            return [
                (d, h, bool(flags & TRACKER), bool(flags & RULE_BLOCKED), bool(flags & EXCEPTION),
                 DECIDED_NAMES.get(decided, str(decided)), ftext, flist, n)
                for d, h, flags, decided, ftext, flist, n in self.conn.execute(
                    """SELECT dom.name, h.name, r.flags & ?, r.decided_by, f.text, f.list, count(*)
                       FROM requests r JOIN hosts h ON h.id = r.host_id JOIN domains dom ON dom.id = h.domain_id
                       LEFT JOIN filters f ON f.id = r.filter_id
                       WHERE r.site_id = ? AND r.time >= ? AND r.time < ? AND (r.flags & ?) = 0
                         AND (r.flags & ?) != 0
                       GROUP BY h.id, r.flags & ?, r.decided_by, r.filter_id
                       ORDER BY dom.name, h.name""",
                    (TRACKER | RULE_BLOCKED | EXCEPTION, site_id, start_ms, end_ms, BLOCKED, THIRD_PARTY,
                     TRACKER | RULE_BLOCKED | EXCEPTION),
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
        with self.lock:
            return {
                d: (first, last, hosts)
                for d, first, last, hosts in self.conn.execute(
                    """SELECT dom.name, min(r.time), max(r.time), group_concat(DISTINCT h.name)
                       FROM requests r JOIN hosts h ON h.id = r.host_id JOIN domains dom ON dom.id = h.domain_id
                       WHERE r.site_id = ? AND r.time >= ? AND r.time < ? GROUP BY h.domain_id""",
                    (site_id, day_start(max(lo, 0)), day_start(hi + 1)),
                )
            }

    # -- export -----------------------------------------------------------------------------

    def iter_requests(self) -> Iterator[dict[str, Any]]:
        """Every stored request, names resolved, flags spelled out (and kept raw), in id order."""
        cursor = self.conn.cursor()
        cursor.execute(
            """SELECT r.id, r.time, s.name, h.name, d.name, r.type, r.flags, r.decided_by, f.text, f.list
               FROM requests r JOIN hosts h ON h.id = r.host_id JOIN domains d ON d.id = h.domain_id
               LEFT JOIN domains s ON s.id = r.site_id LEFT JOIN filters f ON f.id = r.filter_id ORDER BY r.id"""
        )
        while True:
            chunk = cursor.fetchmany(5000)
            if not chunk:
                return
            for rid, t, site, host, domain, rtype, flags, decided, ftext, flist in chunk:
                yield {
                    "id": rid, "time": t, "site": site, "host": host, "domain": domain,
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
        names = self.domain_names()
        for day, s, d, n, t, b, r in self.conn.execute(
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

    def delete_detail_before(self, cutoff: int) -> dict[str, int]:
        """Retention: delete request detail older than ``cutoff`` (epoch ms); daily totals stay."""
        removed = {"requests": 0, "hosts": 0, "domains": 0, "filters": 0}
        with self.transaction():
            removed["requests"] = self.conn.execute("DELETE FROM requests WHERE time < ?", (cutoff,)).rowcount
            if removed["requests"]:
                removed.update(self._delete_orphans())
        return removed

    def _id_params(self, name: str) -> tuple[tuple, tuple] | None:
        row = self.conn.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
        return None if row is None else ((row[0],), (row[0],))

    def _forget(self, requests_where: str, daily_where: str, params, breakage) -> dict[str, int]:
        with self.transaction():
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
        return removed

    def _delete_orphans(self) -> dict[str, int]:
        """Hosts, domains and filters nothing refers to any more (caller holds the transaction)."""
        conn = self.conn
        hosts = conn.execute(
            "DELETE FROM hosts WHERE NOT EXISTS (SELECT 1 FROM requests WHERE requests.host_id = hosts.id)"
        ).rowcount
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
