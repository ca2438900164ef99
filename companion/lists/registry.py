"""The list registry of one data folder: which lists exist, which are in force, and every change to them.

Several processes share one data folder (``crumbs serve`` and ``crumbs lists ...``): changes are
serialised by a lock file, and ``settings['lists_rev']`` is bumped on every change so the server's
updater notices a change made by the command line and swaps in the new engine. The rows live in
the ``lists`` table (SQL in :mod:`companion.storage.lists`).
"""
from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..config import RULES_DIR, DataPaths
from ..engine import Engine
from ..storage import Store, now_ms
from .addresses import check_source
from .checks import (DEFAULT_EXPIRES_MS, RETRY_MS, Conflict, Limits, ListError, ListInfo, NotFound, Outcome,
                     Progress, check_name, known_lists, suggest_name)
from .fetch import _file_signature
from .inflight import DownloadsInFlight
from .update import UpdatePipeline

try:  # advisory locks between processes; Windows has no fcntl and gets the in-process lock only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("crumbs.lists")


class Lists(DownloadsInFlight, UpdatePipeline):
    """The list registry of one data folder, and the only code that changes which lists are in force.

    ``on_engine`` receives each rebuilt engine once it is in force (the server passes
    ``companion.use_engine``; the command line passes nothing and leaves the swap to the server,
    which notices ``lists_rev``). All changes run under one lock (threads) and a lock file (processes).
    """

    def __init__(
        self,
        paths: DataPaths,
        store: Store,
        on_engine: Callable[[Engine], None] | None = None,
        known: Mapping[str, str] | None = None,
        limits: Limits = Limits(),
        rules_dir: Path = RULES_DIR,
    ) -> None:
        self.paths = paths
        self.store = store
        self.on_engine = on_engine
        self._known = dict(known) if known is not None else None
        self.limits = limits
        self.rules_dir = rules_dir
        self.dir = paths.lists
        self.dir.mkdir(mode=0o700, exist_ok=True)
        self._lock = threading.RLock()
        self._claims_lock = threading.Lock()
        self._claimed: set[str] = set()  # lists whose update runs now (in this process)
        self._downloads: dict[str, dict[str, Any]] = {}  # name -> progress of the download running now
        self.seen_rev = self.rev()
        self.sync_shipped()
        self._sweep_staging()

    def _sweep_staging(self, older_than_s: float = 3600.0) -> None:
        """Remove staging dirs left by a process killed mid-update (never one another process is using now)."""
        cutoff = time.time() - older_than_s
        for leftover in self.dir.glob(".staging-*"):
            try:
                if leftover.is_dir() and not leftover.is_symlink() and leftover.stat().st_mtime < cutoff:
                    shutil.rmtree(leftover, ignore_errors=True)
            except OSError:
                pass

    @property
    def known(self) -> dict[str, str]:
        return self._known if self._known is not None else known_lists()

    # -- reading the registry -------------------------------------------------------------

    def _rows(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.store.list_rows(name)

    def _info(self, row: dict[str, Any]) -> ListInfo:
        info = ListInfo(**{k: row[k] for k in ListInfo.__dataclass_fields__ if k in row})
        info.enabled = bool(info.enabled)
        info.in_force = self._path_in_force(info.name, info.kind, info.source) is not None
        info.downloading = self.download_state(info.name)
        if info.kind == "url" and info.enabled and info.updated is not None:
            info.next_update = self._next_update(info)
        return info

    def all(self) -> list[ListInfo]:
        """Every known list: shipped first, then the person's in the order they were added."""
        infos = [self._info(r) for r in self._rows()]
        return sorted(infos, key=lambda i: (i.kind != "shipped", i.added, i.name))

    def get(self, name: str) -> ListInfo:
        rows = self._rows(name)
        if not rows:
            raise NotFound(f"no list named {name[:60]!r} (see 'crumbs lists')")
        return self._info(rows[0])

    def _next_update(self, info: ListInfo) -> int:
        base = info.last_checked or info.updated or 0
        wait = info.expires_ms or DEFAULT_EXPIRES_MS
        if info.last_error:
            wait = min(wait, RETRY_MS)
        return base + wait

    def _file(self, name: str) -> Path:
        return self.dir / f"{check_name(name)}.txt"

    def _path_in_force(self, name: str, kind: str, source: str) -> Path | None:
        """The file the engine reads for a list, if there is a good one; never a symlink, never outside its dir."""
        if kind == "shipped":
            path = self.rules_dir / source
            base = self.rules_dir
        else:
            path = self._file(name)
            base = self.dir
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or os.path.realpath(path) != os.path.join(os.path.realpath(base), path.name):
            log.warning("ignoring %s: not a regular file inside %s", path, base)
            return None
        return path

    def paths_in_force(self, substitute: Mapping[str, Path] | None = None, skip: Iterable[str] = ()) -> list[Path]:
        """The files of every enabled list with a version in force (``substitute``: candidates by name)."""
        substitute = substitute or {}
        skip = set(skip)
        out = []
        for info in self.all():
            if not info.enabled or info.name in skip:
                continue
            path = substitute.get(info.name) or self._path_in_force(info.name, info.kind, info.source)
            if path is not None:
                out.append(path)
        return out

    def rev(self) -> int:
        return int(self.store.get_setting("lists_rev", "0") or 0)

    # -- engine ---------------------------------------------------------------------------

    def build_engine(self, substitute: Mapping[str, Path] | None = None, skip: Iterable[str] = ()) -> Engine:
        return Engine.from_files(self.paths_in_force(substitute, skip), cache_dir=self.paths.cache)

    def load_engine(self) -> Engine:
        """The engine for the lists in force, after re-reading local files that changed since last time."""
        engine = None
        if self._local_changed():  # _update takes the lock only to swap in what it read
            engine = self._update(self._local_changed(), force=False, results=[])
        self.seen_rev = self.rev()
        if engine is None:
            engine = self.build_engine()
            self._record_stats(engine)
        return engine

    def reload_if_changed_elsewhere(self) -> bool:
        """If another process changed the lists (``lists_rev`` moved), rebuild and swap in the engine."""
        rev = self.rev()
        if rev == self.seen_rev:
            return False
        with self._changing():
            rev = self.rev()
            engine = self.build_engine()
            self.seen_rev = rev
            self._apply(engine)
        return True

    def _apply(self, engine: Engine) -> None:
        if self.on_engine is not None:
            self.on_engine(engine)

    def _record_stats(self, engine: Engine, names: Iterable[str] | None = None) -> None:
        self.store.record_list_stats(
            {name: (s.used, s.skipped, s.rejected) for name, s in engine.stats.items() if names is None or name in names}
        )

    def _bump_rev(self) -> None:
        self.store.bump_lists_rev()
        self.seen_rev = self.rev()

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """One change at a time: a thread lock here, a lock file across processes (CLI while serving)."""
        with self._lock:
            handle = open(self.dir / ".lock", "a+b")
            try:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                handle.close()

    # -- changes --------------------------------------------------------------------------

    def sync_shipped(self) -> None:
        """Register every ``rules/*.txt`` as a shipped list (new releases may add some; removed ones go)."""
        shipped = {p.stem: p.name for p in sorted(self.rules_dir.glob("*.txt"))}
        for name in self.store.sync_shipped_lists(shipped):
            log.warning("a shipped list and the person's list are both named %s; keeping the person's", name)

    def resolve_source(
        self, source: str, allow_path: bool, allow_http: bool = False
    ) -> tuple[str, str, str | None]:
        """(kind, source, suggested name) for what the person typed: a known name, a URL or (CLI only) a path.

        URLs: https to public addresses only; http only with ``allow_http`` (the person said so)."""
        known = self.known
        if source.lower() in known:
            return "url", check_source(known[source.lower()], allow_http), source.lower()
        if "://" in source:
            check_source(source, allow_http)
            for name, url in known.items():
                if url == source:
                    return "url", source, name
            return "url", source, None
        if not allow_path:
            raise ListError(
                f"{source[:100]!r} is neither a known list ({', '.join(sorted(known))}) nor an http(s) URL"
            )
        path = Path(source).expanduser()
        if not path.exists():
            raise ListError(
                f"{source[:100]!r} is neither a known list ({', '.join(sorted(known))}), an http(s) URL, "
                "nor an existing file"
            )
        if not path.is_file():  # a directory, FIFO, device or socket is never a list (and a FIFO would block)
            raise ListError(f"{source[:100]} is not a regular file")
        # Resolved once, now, on the person's word: a link they made is followed here and never again.
        return "file", str(path.resolve()), None

    def add(
        self,
        source: str,
        name: str | None = None,
        progress: Progress | None = None,
        allow_path: bool = True,
        allow_http: bool = False,
    ) -> tuple[ListInfo, Outcome]:
        """Register a list and fetch (or read) it now, because the person asked.

        A failed first download keeps the list registered, with the reason in ``last_error``, so
        ``update`` can retry it; it has no version in force until one succeeds.
        """
        kind, resolved, suggested = self.resolve_source(source, allow_path, allow_http)
        with self._changing():
            rows = self._rows()
            for row in rows:
                if row["source"] == resolved and row["kind"] == kind:
                    raise Conflict(f"already subscribed as {row['name']!r}")
            taken = {row["name"] for row in rows} | {p.stem for p in self.rules_dir.glob("*.txt")}
            if name is not None:
                check_name(name)
                if name in taken:
                    raise Conflict(f"a list named {name!r} already exists")
            else:
                base = suggested or suggest_name(resolved)
                name, n = base, 2
                while name in taken:
                    name = f"{base[:36]}-{n}"
                    n += 1
            self.store.add_list(name, kind, resolved, now_ms())
        results: list[Outcome] = []
        self._update([name], force=False, results=results, progress=progress)  # the download: outside the lock
        return self.get(name), results[0]

    def set_enabled(self, name: str, enabled: bool, progress: Progress | None = None) -> tuple[ListInfo, Outcome | None]:
        """Enable or disable a list; the engine follows at once. Enabling a list never fetched fetches it now."""
        fetch_now = False
        with self._changing():
            info = self.get(name)
            self.store.set_list_enabled(name, enabled)
            if enabled and not info.in_force and info.kind != "shipped":
                fetch_now = True  # the person asked for it: fetch a list never fetched (outside the lock)
            elif info.enabled != enabled:
                self._rebuild()
        outcome = None
        if fetch_now:
            results: list[Outcome] = []
            self._update([name], force=False, results=results, progress=progress)
            outcome = results[0]
        return self.get(name), outcome

    def remove(self, name: str) -> None:
        """Forget a list and delete its copy. Shipped lists can only be disabled."""
        with self._changing():
            info = self.get(name)
            if info.kind == "shipped":
                raise Conflict(f"{name!r} ships with Crumbs and cannot be removed; 'disable' it instead")
            self.store.delete_list(name)
            for leftover in (self._file(name), self._progress_file(name)):
                try:
                    leftover.unlink()
                except FileNotFoundError:
                    pass
            if info.enabled and info.in_force:
                self._rebuild()
            else:
                self._bump_rev()
            self._prune_engine_caches()  # the engine caches that held the removed list's filters

    def update(
        self,
        name: str | None = None,
        progress: Progress | None = None,
        force: bool = False,
        due_only: bool = False,
    ) -> list[Outcome]:
        """Update one list, or every enabled url/file list (``due_only``: those whose expiry passed).

        ``force`` skips the conditional request and the shrink guard (the person vouches for the new version).
        """
        if name is not None:
            info = self.get(name)
            if info.kind == "shipped":
                return [Outcome(name, "skipped", "shipped lists change with Crumbs releases")]
            if not info.enabled:
                return [Outcome(name, "skipped", "the list is disabled; enable it to update it")]
            names = [name]
        else:
            now = now_ms()
            names = []
            for info in self.all():
                if info.kind == "shipped" or not info.enabled:
                    continue
                if due_only and (info.kind != "url" or info.updated is None or self._next_update(info) > now):
                    continue  # never fetched: only the person starts a first download
                names.append(info.name)
        results: list[Outcome] = []
        self._update(names, force=force, results=results, progress=progress)  # locks only to swap in
        return results

    def refresh_local(self) -> list[Outcome]:
        """Re-read the local files whose size or modification time changed."""
        results: list[Outcome] = []
        self._update(self._local_changed(), force=False, results=results)
        return results

    def _local_changed(self) -> list[str]:
        return [
            r["name"]
            for r in self._rows()
            if r["kind"] == "file" and r["enabled"] and _file_signature(Path(r["source"])) != r["etag"]
        ]

    def _rebuild(self) -> Engine:
        engine = self.build_engine()
        self._record_stats(engine)
        self._bump_rev()
        self._apply(engine)
        return engine


    def _prune_engine_caches(self) -> None:
        """Delete the engine caches of list sets no longer in force (a removed list's filters among them)."""
        keep = Engine.cache_path(self.paths_in_force(), self.paths.cache).name
        try:
            for leftover in self.paths.cache.glob("crumbs-engine-*.cache"):
                if leftover.name != keep and not leftover.is_symlink():
                    leftover.unlink(missing_ok=True)
        except OSError:
            pass
