"""Downloads in flight: one update per list at a time, progress other processes can see, and request
threads that never wait on a slow server.

A mixin of :class:`companion.lists.registry.Lists` (it uses the registry's ``dir``, ``limits``,
``_claims_lock``, ``_claimed`` and ``_downloads``), kept apart because it is about time and threads, not
about which lists exist.
"""
from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .checks import check_name

log = logging.getLogger("crumbs.lists")


class DownloadsInFlight:
    """Claims, progress notes and bounded runs for the list registry."""


    def _claim(self, name: str) -> bool:
        with self._claims_lock:
            if name in self._claimed:
                return False
            self._claimed.add(name)
            return True

    def _release(self, names: Iterable[str]) -> None:
        with self._claims_lock:
            self._claimed.difference_update(names)

    def _progress_file(self, name: str) -> Path:
        return self.dir / f".progress-{check_name(name)}.json"

    def _progress_note(self, name: str, received: int, total: int | None) -> None:
        """Remember a download's progress (for the lists page) and, at most twice a second, write it
        to a small file (for ``crumbs lists`` in another process)."""
        now = time.time()
        state = self._downloads.get(name)
        if state is None:
            state = self._downloads[name] = {"received": 0, "total": None, "started": int(now * 1000), "_written": 0.0}
        state["received"], state["total"] = received, total
        if now - state["_written"] >= 0.5:
            state["_written"] = now
            public = {k: v for k, v in state.items() if not k.startswith("_")} | {"pid": os.getpid()}
            tmp = self._progress_file(name).with_suffix(".tmp")
            try:
                tmp.write_text(json.dumps(public))
                os.replace(tmp, self._progress_file(name))
            except OSError:
                pass

    def _progress_done(self, name: str) -> None:
        if self._downloads.pop(name, None) is not None:
            try:
                self._progress_file(name).unlink()
            except FileNotFoundError:
                pass

    def download_state(self, name: str) -> dict[str, Any] | None:
        """``{"received", "total", "started"}`` of a download of this list running now (in this process
        or another one), or None."""
        state = self._downloads.get(name)
        if state is not None:
            return {k: v for k, v in state.items() if not k.startswith("_")}
        try:
            path = self._progress_file(name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > 4096:
                return None
            # A file left by a process killed mid-download is stale once the download would have ended.
            if time.time() - info.st_mtime > self.limits.total_timeout + 5:
                return None
            data = json.loads(path.read_text())
            return {k: data[k] for k in ("received", "total", "started")}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def downloading(self) -> bool:
        return bool(self._downloads)

    def run_bounded(self, operation: Callable[..., Any], *args: Any, grace: float = 1.0, **kwargs: Any) -> tuple[bool, Any]:
        """Run ``operation`` in its own thread for a request thread that must not wait on a slow server.

        Returns ``(True, result)`` if it finished (its exception is raised here), or ``(False, None)``
        once it has been running ``grace`` seconds while a download is in flight: the download goes on
        in the background, and its progress shows in :meth:`all` (``downloading``). Building the engine
        is not waited out that way: it is bounded work, and its result is the answer.
        """
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["result"] = operation(*args, **kwargs)
            except BaseException as exc:  # handed to the waiting request, or logged if it left
                box["error"] = exc
                if box.get("abandoned"):
                    log.warning("list operation in the background failed: %s", exc)

        worker = threading.Thread(target=run, name="crumbs-list-job", daemon=True)
        worker.start()
        started = time.monotonic()
        while True:
            worker.join(0.05)
            if not worker.is_alive():
                if "error" in box:
                    raise box["error"]
                return True, box.get("result")
            if time.monotonic() - started > grace and self.downloading:
                box["abandoned"] = True
                return False, None
