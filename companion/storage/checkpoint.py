"""Keeping the WAL small: checkpoints off the recording path, and a cap on the file left behind.

In WAL mode every commit appends the pages it changed to ``crumbs.db-wal``; a *checkpoint* copies
them back into the database file. SQLite's automatic checkpoint runs inside whichever commit
crosses ``wal_autocheckpoint`` pages - in the server that is a recording batch, which then waits
for the copy and an fsync of the database file. :class:`Checkpointer` does that work on its own
connection in a background thread instead: a PASSIVE checkpoint never blocks a writer, and the
next commit after a complete one starts the WAL over from its beginning, so it stays a few MB.
``journal_size_limit`` (set on every connection by :class:`~companion.storage.base.StoreBase`)
truncates the file back to that size whenever the WAL restarts, so one big transaction (a
retention pass, forgetting everything) does not leave a large file behind for ever.

The automatic checkpoint stays on as the backstop (the CLI, or a server whose thread fell behind).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

# Checkpoint when the WAL file is bigger than this (bytes); checked every ``interval`` seconds.
CHECKPOINT_AT_BYTES = 1 * 1024 * 1024
CHECK_INTERVAL_S = 1.0


class Checkpointer:
    """Checkpoints ``path``'s WAL from a connection of its own, on demand or in a daemon thread."""

    def __init__(self, path: str | os.PathLike[str], at_bytes: int = CHECKPOINT_AT_BYTES) -> None:
        self.path = Path(path)
        self.wal = Path(f"{self.path}-wal")
        self.at_bytes = at_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0  # checkpoints made (for the tests and the benchmark's report)

    def wal_bytes(self) -> int:
        try:
            return self.wal.stat().st_size
        except FileNotFoundError:
            return 0

    def run_once(self, force: bool = False) -> tuple[int, int, int] | None:
        """One PASSIVE checkpoint when the WAL is over the threshold (or ``force``):
        SQLite's (busy, frames in the log, frames checkpointed), or None when nothing was due."""
        if not force and self.wal_bytes() < self.at_bytes:
            return None
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            result = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        self.runs += 1
        return tuple(result)

    def start(self, interval: float = CHECK_INTERVAL_S) -> "Checkpointer":
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.run_once()
                except sqlite3.Error:
                    pass  # the database is busy or closing: the next tick (or the auto-checkpoint) does it
        self._thread = threading.Thread(target=loop, name="crumbs-checkpointer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
