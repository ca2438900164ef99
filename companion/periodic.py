"""A server thread that does one thing now and then: wait, look, wait again, until it is stopped.

`crumbs serve` runs a few of these beside the web app (the daily snapshot, hourly retention). They share
the shape: the first look a little after start (start-up comes first), then one every ``check_s``
seconds; ``stop`` wakes the thread and waits for a look under way, because the database is closed next.
"""
from __future__ import annotations

import threading


class Periodic:
    """Subclasses say what one look does (:meth:`tick`) and name their thread (``thread_name``)."""

    thread_name = "crumbs-periodic"

    def __init__(self, check_s: float, first_s: float) -> None:
        self.check_s = check_s
        self.first_s = first_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self):  # each subclass has its own
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self):
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop, and wait (up to ``timeout``) for a look under way to end."""
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
