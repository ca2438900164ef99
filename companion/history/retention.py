"""The server's thread that keeps the retention promise: request detail older than the person chose goes,
hourly, whether or not anyone opens a history page.

Before, retention ran only when a history page was opened (at most hourly): a person who set 30 days and
never opened the pages kept every request for ever, and the delivery marks of streams long gone were never
forgotten either. The run itself is :meth:`History.apply_retention` (small transactions: a recording batch
waits for at most one of them, bench/bench_scale.py).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import History

log = logging.getLogger("crumbs.retention")


class RetentionKeeper:
    """Wakes every ``check_s`` seconds (the first time ``first_s`` after start, when start-up is done) and
    runs retention when its last run is an hour old. ``history`` gives the current :class:`History` (it is
    made anew when the database is)."""

    def __init__(self, history: Callable[[], "History"], check_s: float = 600.0, first_s: float = 30.0) -> None:
        self.history = history
        self.check_s = check_s
        self.first_s = first_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> dict[str, int] | None:
        """One look: what the run removed, or None when none was due (or another was under way)."""
        try:
            removed = self.history().apply_retention_if_due(stop=self._stop.is_set)
        except Exception as exc:  # logged; serving goes on, and the next look tries again
            if not self._stop.is_set():  # (stopping closes the database under a run: nothing to say then)
                log.warning("retention failed: %s", exc)
            return None
        if removed and any(removed.values()):
            log.info("retention: %s", ", ".join(f"{n} {what}" for what, n in removed.items() if n))
        return removed

    def start(self) -> "RetentionKeeper":
        self._thread = threading.Thread(target=self._run, name="crumbs-retention", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop, and wait (up to ``timeout``) for a run under way to end at its next transaction: the
        database is closed next."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        if self._stop.wait(self.first_s):
            return
        while True:
            self.tick()
            if self._stop.wait(self.check_s):
                return
