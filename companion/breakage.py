"""Breakage reports: "this page is broken", said by the person, with the trackers blocked on it then.

When someone presses "Page broken?" in the popup, the extension trusts the site for an hour and sends
the site and the tracker domains the browser had blocked on that page. They are kept on this computer
only, so the history pages can list them and say, on a tracker's page, how often blocking it went with
a broken page: the person's own evidence when deciding whether to allow it somewhere.

This module says what a report may hold (domains reduced with the one site rule of :mod:`.sites`,
at most :data:`MAX_TRACKERS`, the page's own site never counted as its tracker) and what it means;
every statement is in :mod:`companion.storage.breakage` (tables: migration 3). Forgetting history
forgets the matching reports too (the store does it in the forget's transaction). Core: no Flask.
"""
from __future__ import annotations

import time
from typing import Any, Protocol

from .sites import NotANetworkURL, site_of

MAX_TRACKERS = 200  # a page with more blocked tracker domains than this is beyond any real report
MAX_DOMAIN = 253


class InvalidReport(ValueError):
    """A report the extension should not have sent; ``status`` is the HTTP status that says so."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


class _Store(Protocol):  # what this module needs of companion.storage.Store
    def add_breakage_report(self, when: int, site: str, trackers: list[str]) -> int: ...

    def breakage_reports(self, limit: int = 500) -> list[dict[str, Any]]: ...

    def breakage_counts(self, tracker: str) -> tuple[int, int]: ...


def _domain(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_DOMAIN:
        raise InvalidReport(f"{what} must be a domain name")
    try:
        return site_of(value)
    except NotANetworkURL:
        raise InvalidReport(f"{what} {value[:100]!r} is not a domain name") from None


def clean_report(body: Any) -> tuple[str, list[str]]:
    """The (site, trackers) of a report body ``{"site": D, "trackers": [D, ...]}``, reduced to sites,
    distinct and sorted, the page's own site left out; :class:`InvalidReport` for anything else."""
    if not isinstance(body, dict) or set(body) - {"site", "trackers"}:
        raise InvalidReport("body must be {'site': DOMAIN, 'trackers': [DOMAIN, ...]}")
    site = _domain(body.get("site"), "'site'")
    trackers = body.get("trackers", [])
    if not isinstance(trackers, list):
        raise InvalidReport("'trackers' must be an array of domain names")
    if len(trackers) > MAX_TRACKERS:
        raise InvalidReport(f"at most {MAX_TRACKERS} trackers per report", 413)
    domains = {_domain(t, "each tracker") for t in trackers}
    domains.discard(site)
    return site, sorted(domains)


def add_report(store: _Store, site: str, trackers: list[str], when: int | None = None) -> dict[str, Any]:
    """Record one report (already cleaned); returns it as stored."""
    when = int(time.time() * 1000) if when is None else when
    report_id = store.add_breakage_report(when, site, trackers)
    return {"id": report_id, "time": when, "site": site, "trackers": list(trackers)}


def tracker_summary(store: _Store, tracker: str) -> dict[str, int]:
    """For a tracker's page: in how many reports (and on how many sites) it was blocked on a broken page."""
    reports, sites = store.breakage_counts(tracker)
    return {"reports": reports, "sites": sites}
