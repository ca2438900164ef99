"""What the history pages show, computed from the database: no Flask here.

Rooms: :mod:`.periods`, :mod:`.sums` (what a period is made of), :mod:`.core` (:class:`History`
and its snapshots), :mod:`.views` (the pages' questions), :mod:`.data` (export, forget, retention,
choices import).

Everything over a period reads the ``daily`` totals (a few thousand rows per day at most)
rather than the request detail (millions of rows), so a page over 90 days answers in
milliseconds; the detail is read only where it is needed and small (one site's hosts,
first and last seen). Forgetting and retention delete from the detail *and* the totals
in one transaction, day-aligned, so the totals always equal what the detail they
summarise would give (the tests' ``daily_disagreements`` fixture checks it).

Every SQL statement is in :mod:`companion.storage` (this module asks it questions and
shapes the answers). The tracker knowledge base is duck-typed (``facts(domain)``, ``category_label(key)``,
``owner_of(domain)``, ``categories``); choices given for import are checked here with
the site rule of :mod:`companion.sites` before the store applies them.
"""

from __future__ import annotations

from ..storage import now_ms
from .core import History, TrackerKnowledge
from .data import DEFAULT_RETENTION_DAYS, RETENTION_CHOICES, RETENTION_KEY, RETENTION_RUN_KEY, csv_cell
from .periods import DEFAULT_PERIOD, PERIODS, Period, day_to_iso, iso_to_day, period
from .sums import UNKNOWN_SITE, Pair, Snapshot, merge_pairs

__all__ = [
    "History", "TrackerKnowledge", "Period", "period", "PERIODS", "DEFAULT_PERIOD", "day_to_iso", "iso_to_day",
    "Pair", "Snapshot", "merge_pairs", "UNKNOWN_SITE", "csv_cell", "now_ms", "RETENTION_CHOICES",
    "RETENTION_KEY", "RETENTION_RUN_KEY", "DEFAULT_RETENTION_DAYS",
]
