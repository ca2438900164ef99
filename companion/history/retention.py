"""The server's thread that keeps the retention promise: request detail older than the person chose goes,
hourly, whether or not anyone opens a history page.

Before, retention ran only when a history page was opened (at most hourly): a person who set 30 days and
never opened the pages kept every request for ever, and the delivery marks of streams long gone were never
forgotten either. The run itself is :meth:`History.apply_retention` (small transactions: a recording batch
waits for at most one of them, bench/bench_scale.py).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..periodic import Periodic

if TYPE_CHECKING:
    from . import History

log = logging.getLogger("crumbs.retention")


class RetentionKeeper(Periodic):
    """Looks every ``check_s`` seconds (the first time ``first_s`` after start, when start-up is done) and
    runs retention when its last run is an hour old. ``history`` gives the current :class:`History` (it is
    made anew when the database is). Stopping ends a run under way at its next transaction."""

    thread_name = "crumbs-retention"

    def __init__(self, history: Callable[[], "History"], check_s: float = 600.0, first_s: float = 30.0) -> None:
        super().__init__(check_s, first_s)
        self.history = history

    def tick(self) -> dict[str, int] | None:
        """One look: what the run removed, or None when none was due (or another was under way)."""
        try:
            removed = self.history().apply_retention_if_due(stop=lambda: self.stopping)
        except Exception as exc:  # logged; serving goes on, and the next look tries again
            if not self.stopping:  # (stopping closes the database under a run: nothing to say then)
                log.warning("retention failed: %s", exc)
            return None
        if removed and any(removed.values()):
            log.info("retention: %s", ", ".join(f"{n} {what}" for what, n in removed.items() if n))
        return removed
