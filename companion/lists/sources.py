"""Knowledge sources: the registry of public tracker databases a person added, and their downloads.

``crumbs sources add disconnect|duckduckgo|URL``, the ``/settings/sources`` page and ``/api/v1/sources``
all come here. A source is downloaded only when the person asks (adding it, "update") or, once it has
a version, by the server's updater when its week is up - the same way filter lists are: the same
:func:`companion.lists.fetch.fetch` (conditional request with ETag / Last-Modified, size and time
limits, http(s) only), and a new version replaces the one in force only after it was read and found to
be a source Crumbs understands (:func:`companion.knowledge.parse_source`); anything failing leaves the
last good version in force and the reason in ``last_error``.

Files live in the data folder (``sources/NAME.json``), rows in the ``knowledge_sources`` table
(SQL in :mod:`companion.storage.sources`); ``settings['sources_rev']`` moves on every change so a
running server notices a change made from the command line. Crumbs ships none of this data.
"""
from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..config import DataPaths
from ..knowledge import SourceFacts, SourceFormatError, parse_source
from ..storage import Store, now_ms
from .checks import (DAY_MS, RETRY_MS, Conflict, Limits, ListError, NotFound, Outcome, check_name, check_url,
                     suggest_name)
from .addresses import check_source
from .fetch import fetch

log = logging.getLogger("crumbs.sources")

# The public databases Crumbs knows by name. Nothing is fetched until the person adds one.
KNOWN_SOURCES: dict[str, str] = {
    "disconnect": "https://raw.githubusercontent.com/disconnectme/disconnect-tracking-protection/master/services.json",
    "duckduckgo": "https://staticcdn.duckduckgo.com/trackerblocking/v3/tds.json",
}
# CRUMBS_SOURCE_URL_DISCONNECT=http://127.0.0.1:…/ points a known name elsewhere (a mirror, a test server).
KNOWN_URL_ENV = "CRUMBS_SOURCE_URL_"
LABELS = {"disconnect": "Disconnect", "duckduckgo": "DuckDuckGo"}
EXPIRES_MS = 7 * DAY_MS  # these databases change every few days to weeks
SOURCE_LIMITS = Limits(max_bytes=20 * 1024 * 1024)  # DuckDuckGo's full TDS is a few MB


def known_sources() -> dict[str, str]:
    return {name: os.environ.get(KNOWN_URL_ENV + name.upper(), url) for name, url in KNOWN_SOURCES.items()}


def label_of(name: str) -> str:
    """How a source is named next to a fact ("from Disconnect"); a person's own source by its name."""
    return LABELS.get(name, name)


@dataclass
class SourceInfo:
    """One source as ``crumbs sources`` and ``GET /api/v1/sources`` show it."""

    name: str
    label: str
    url: str
    added: int
    format: str | None
    entries: int | None
    updated: int | None
    last_checked: int | None
    last_error: str | None
    in_force: bool
    next_update: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Sources:
    """The knowledge sources of one data folder. ``on_change`` gets the facts in force after each change."""

    def __init__(
        self,
        paths: DataPaths,
        store: Store,
        limits: Limits = SOURCE_LIMITS,
        known: Mapping[str, str] | None = None,
        on_change: Callable[[list[SourceFacts]], None] | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self._known = dict(known) if known is not None else None
        self.on_change = on_change
        self.dir = paths.sources
        self.dir.mkdir(mode=0o700, exist_ok=True)
        self._lock = threading.RLock()
        self._parsed: dict[str, tuple[str, SourceFacts]] = {}  # name -> (sha256 of the file, facts)
        self.seen_rev = store.sources_rev()

    @property
    def known(self) -> dict[str, str]:
        return self._known if self._known is not None else known_sources()

    # -- reading ------------------------------------------------------------------------

    def _file(self, name: str) -> Path:
        return self.dir / f"{check_name(name)}.json"

    def _in_force(self, name: str) -> Path | None:
        path = self._file(name)
        try:
            info = os.lstat(path)
        except OSError:
            return None
        return path if stat.S_ISREG(info.st_mode) else None

    def _info(self, row: dict[str, Any]) -> SourceInfo:
        base = row["last_checked"] or row["updated"]
        wait = RETRY_MS if row["last_error"] else EXPIRES_MS
        return SourceInfo(
            name=row["name"], label=label_of(row["name"]), url=row["url"], added=row["added"], format=row["format"],
            entries=row["entries"], updated=row["updated"], last_checked=row["last_checked"],
            last_error=row["last_error"], in_force=self._in_force(row["name"]) is not None,
            next_update=base + wait if row["updated"] is not None and base else None,
        )

    def all(self) -> list[SourceInfo]:
        """Every source, in order of precedence (the order they were added)."""
        return [self._info(r) for r in self.store.source_rows()]

    def get(self, name: str) -> SourceInfo:
        rows = self.store.source_rows(name)
        if not rows:
            raise NotFound(f"no knowledge source named {name[:60]!r} (see 'crumbs sources')")
        return self._info(rows[0])

    def facts(self) -> list[SourceFacts]:
        """What the sources in force say, in order of precedence (parsed once per version)."""
        out = []
        for row in self.store.source_rows():
            name, sha = row["name"], row["sha256"]
            path = self._in_force(name)
            if path is None or sha is None:
                continue
            cached = self._parsed.get(name)
            if cached is None or cached[0] != sha:
                try:
                    cached = (sha, parse_source(path.read_bytes(), label_of(name)))
                except (OSError, SourceFormatError) as exc:  # a damaged file on disk: say so, keep the rest
                    log.warning("knowledge source %s: cannot read %s: %s", name, path, exc)
                    continue
                self._parsed[name] = cached
            out.append(cached[1])
        return out

    # -- changes --------------------------------------------------------------------------

    def resolve(self, source: str, allow_http: bool = False) -> tuple[str, str | None]:
        """(URL, suggested name) for what the person typed: a known name or an https URL of a public server
        (plain http only with ``allow_http``), checked as filter lists are (:mod:`.addresses`)."""
        known = self.known
        if source.lower() in known:
            return check_source(known[source.lower()], allow_http), source.lower()
        if "://" not in source:
            raise ListError(
                f"{source[:100]!r} is neither a known source ({', '.join(sorted(known))}) nor an http(s) URL"
            )
        check_url(source)
        check_source(source, allow_http)
        for name, url in known.items():
            if url == source:
                return source, name
        return source, None

    def add(self, source: str, name: str | None = None, allow_http: bool = False) -> tuple[SourceInfo, Outcome]:
        """Register a source and download it now (the person asked). A failed first download keeps it
        registered with the reason, for ``update`` to retry."""
        url, suggested = self.resolve(source, allow_http)
        with self._lock:
            rows = self.store.source_rows()
            for row in rows:
                if row["url"] == url:
                    raise Conflict(f"already added as {row['name']!r}")
            taken = {row["name"] for row in rows}
            if name is not None:
                check_name(name)
                if name in taken:
                    raise Conflict(f"a source named {name!r} already exists")
            else:
                base = suggested or suggest_name(url)
                name, n = base, 2
                while name in taken:
                    name = f"{base[:36]}-{n}"
                    n += 1
            self.store.add_source(name, url, now_ms())
            outcome = self._update_one(name, force=False)
            return self.get(name), outcome

    def remove(self, name: str) -> None:
        """Forget a source and delete its copy: its facts are no longer shown."""
        with self._lock:
            self.get(name)
            self.store.delete_source(name)
            try:
                self._file(name).unlink()
            except FileNotFoundError:
                pass
            self._parsed.pop(name, None)
            self._changed()

    def update(self, name: str | None = None, force: bool = False, due_only: bool = False) -> list[Outcome]:
        """Update one source or all (``due_only``: those whose week is up; never a first download)."""
        with self._lock:
            if name is not None:
                self.get(name)
                names = [name]
            else:
                now = now_ms()
                names = [i.name for i in self.all()
                         if not due_only or (i.next_update is not None and i.next_update <= now)]
            return [self._update_one(n, force) for n in names]

    def reload_if_changed_elsewhere(self) -> bool:
        """If another process changed the sources (``sources_rev`` moved), put the new facts in force."""
        rev = self.store.sources_rev()
        if rev == self.seen_rev:
            return False
        with self._lock:
            self.seen_rev = self.store.sources_rev()
            if self.on_change is not None:
                self.on_change(self.facts())
        return True

    def _changed(self) -> None:
        self.store.bump_sources_rev()
        self.seen_rev = self.store.sources_rev()
        if self.on_change is not None:
            self.on_change(self.facts())

    def _update_one(self, name: str, force: bool) -> Outcome:
        row = self.store.source_rows(name)[0]
        checked = now_ms()
        conditional = not force and self._in_force(name) is not None
        try:
            # A stored http:// address is one the person allowed when adding it (as for lists).
            fetched = fetch(row["url"], row["etag"] if conditional else None,
                            row["last_modified"] if conditional else None, self.limits,
                            allow_http=row["url"].lower().startswith("http:"))
            if fetched.data is None:
                self.store.update_source(name, {"last_checked": checked, "last_error": None})
                return Outcome(name, "not-modified", used=row["entries"])
            sha = hashlib.sha256(fetched.data).hexdigest()
            if sha == row["sha256"] and self._in_force(name) is not None:
                self.store.update_source(name, {"last_checked": checked, "last_error": None, "etag": fetched.etag,
                                                "last_modified": fetched.last_modified})
                return Outcome(name, "unchanged", used=row["entries"])
            try:
                facts = parse_source(fetched.data, label_of(name))
            except SourceFormatError as exc:
                raise ListError(f"not a knowledge source: {exc}") from None
        except ListError as exc:
            log.warning("knowledge source %s: %s", name, exc)
            self.store.update_source(name, {"last_checked": checked, "last_error": str(exc)})
            return Outcome(name, "failed", str(exc))
        self._write(name, fetched.data)
        self._parsed[name] = (sha, facts)
        self.store.update_source(name, {
            "format": facts.format, "entries": len(facts.trackers), "updated": checked, "last_checked": checked,
            "last_error": None, "etag": fetched.etag, "last_modified": fetched.last_modified, "sha256": sha,
        })
        self._changed()
        return Outcome(name, "updated", used=len(facts.trackers))

    def _write(self, name: str, data: bytes) -> None:
        """Atomically replace the version in force: readers see the old file or the new one."""
        fd, tmp = tempfile.mkstemp(prefix=".staging-", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._file(name))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

