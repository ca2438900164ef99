"""Keeps the lists fresh while ``crumbs serve`` runs, without the person thinking about it.

One daemon thread wakes every ``interval`` seconds and, in order:

1. swaps in a new engine if another process changed the lists (``crumbs lists add`` while serving
   bumps ``settings['lists_rev']``);
2. re-reads local list files whose size or modification time changed;
3. updates subscribed lists whose own ``! Expires:`` period has passed since they were last checked
   (conditional requests, so an unchanged list costs one 304). A list that was never fetched is
   never fetched automatically: only the person starts a first download.

4. the same for knowledge sources (:mod:`.sources`): notice a change made by another process, and
   update those whose week is up.

Each step's failure is logged and recorded on the list (``last_error``); the thread never dies of it,
and the last good version of every list stays in force.
"""

from __future__ import annotations

import logging
import threading

from .registry import Lists
from .sources import Sources

log = logging.getLogger("crumbs.updater")


class Updater:
    """The background refresher of one :class:`Lists` registry."""

    def __init__(self, lists: Lists, interval: float = 3.0, sources: Sources | None = None) -> None:
        self.lists = lists
        self.sources = sources
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        """One round of the three checks (the thread calls this; tests call it directly)."""
        steps = [self.lists.reload_if_changed_elsewhere, self.lists.refresh_local, self._due]
        if self.sources is not None:
            steps += [self.sources.reload_if_changed_elsewhere, self._sources_due]
        for step in steps:
            if self._stop.is_set():  # stopping: the database may be about to close under the next step
                return
            try:
                step()
            except Exception:  # a bug in one step must not stop the others, nor the next round
                log.exception("list updater: %s failed", getattr(step, "__name__", step))

    def _due(self) -> None:
        for outcome in self.lists.update(due_only=True):
            if outcome.status == "failed":
                log.warning("list %s: automatic update failed: %s", outcome.name, outcome.error)
            elif outcome.status == "updated":
                log.info("list %s updated (%s filters in use)", outcome.name, outcome.used)

    def _sources_due(self) -> None:
        for outcome in self.sources.update(due_only=True):
            if outcome.status == "failed":
                log.warning("knowledge source %s: automatic update failed: %s", outcome.name, outcome.error)

    def start(self) -> "Updater":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="crumbs-list-updater", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        # First round at once: a local file edited while the server was stopped is picked up now.
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)
