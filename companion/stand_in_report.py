"""Which of a site's third parties had a script answered by a stand-in: for the popup's "replaced with a stand-in".

Why a query of its own: the site report groups requests by domain, and a tracker domain seen only through
a pixel (stats.g.doubleclick.net/…gif) must not be said to have had its script replaced. So only hosts this
site loaded *scripts* from are offered to :func:`companion.surrogates.for_hosts`.

Read-only over the store's ``requests`` and ``hosts`` tables; no Flask.
"""

from __future__ import annotations

from .storage import TYPE_CODES, Store


def script_hosts(store: Store, site: str) -> set[str]:
    """The hosts ``site``'s pages requested scripts from (any time in the kept history)."""
    with store.lock:
        rows = store.conn.execute(
            """SELECT DISTINCT h.name FROM requests r
                 JOIN hosts h ON h.id = r.host_id JOIN domains s ON s.id = r.site_id
                WHERE s.name = ? AND r.type = ?""",
            (site, TYPE_CODES["script"]),
        ).fetchall()
    return {r[0] for r in rows}


__all__ = ["script_hosts"]
