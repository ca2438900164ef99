"""Filter list subscriptions: which lists are in force, and keeping them fresh without ever trusting a download.

The registry lives in the ``lists`` table. A list is one of three kinds:

- ``shipped``: a ``rules/*.txt`` file of this release, always known (it can be disabled, not removed);
- ``url``: an ``http``/``https`` address the person added (``crumbs lists add easyprivacy`` or a URL).
  ``file://`` and every other scheme are refused, also as a redirect target;
- ``file``: a local file the person named on the command line. It is re-read whenever its size or
  modification time changes. Symbolic links: the path is resolved once, when the person adds it (so
  ``~/lists/mine.txt`` may be a link they made on purpose); afterwards it is opened with ``O_NOFOLLOW``,
  so a link later put in its place is refused rather than followed somewhere else.

The version in force of a ``url`` or ``file`` list is a copy under the data folder's ``lists/`` dir,
named ``<name>.txt`` from the list's validated name (never from anything a server or path supplied);
the engine names a list after its file's stem, so that name is what verdicts show.

An update goes: fetch (conditional request, bounded in time and size) → check (UTF-8 text, not HTML,
a header line, size, ``! Checksum:`` when the list carries one) → build the whole engine with the
candidate in place (in a staging dir) → check the parse (enough usable filters, not suspiciously
shrunk) → ``os.replace`` the candidate over the version in force → hand the new engine to the
companion (:meth:`Companion.use_engine`). Anything failing on the way leaves the last good version in
force and the reason in ``last_error``.

Several processes share one data folder (``crumbs serve`` and ``crumbs lists …``): changes are
serialised by a lock file, and ``settings['lists_rev']`` is bumped on every change so the server's
updater notices a change made by the command line and swaps in the new engine.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from . import __version__
from .config import RULES_DIR, DataPaths
from .engine import Engine
from .storage import Store, now_ms

try:  # advisory locks between processes; Windows has no fcntl and gets the in-process lock only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("crumbs.lists")

# Lists Crumbs knows by name: adding them takes one word, and nothing is fetched until the person asks.
KNOWN_LISTS: dict[str, str] = {
    "easylist": "https://easylist.to/easylist/easylist.txt",
    "easyprivacy": "https://easylist.to/easylist/easyprivacy.txt",
}
# CRUMBS_LIST_URL_EASYPRIVACY=http://127.0.0.1:…/ points a known name elsewhere (a mirror, or a test server).
KNOWN_URL_ENV = "CRUMBS_LIST_URL_"

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DEFAULT_EXPIRES_MS = 5 * DAY_MS  # when a list does not say (uBlock Origin's default too)
MIN_EXPIRES_MS = HOUR_MS  # a list asking for minutes would make us hammer its server
MAX_EXPIRES_MS = 30 * DAY_MS
RETRY_MS = 2 * HOUR_MS  # after a failed automatic update
SHRINK_GUARD_MIN = 1000  # a list this big that loses half its filters at once is more likely truncated than edited
MIN_USABLE_SHARE = 0.5  # of the lines that look like network filters, at least this share must parse


@dataclass(frozen=True)
class Limits:
    """Bounds on one download. Tests shrink the timeouts; the size bound also applies to local files."""

    max_bytes: int = 30 * 1024 * 1024  # EasyList is ~2 MB; the largest popular lists are under 10 MB
    total_timeout: float = 30.0  # seconds for the whole download, redirects included
    stall_timeout: float = 10.0  # seconds without a byte (connect or read)
    max_redirects: int = 5


class ListError(Exception):
    """A person-facing reason why a list operation was refused or failed."""


class NotFound(ListError):
    pass


class Conflict(ListError):
    pass


@dataclass
class ListInfo:
    """One row of the registry, as shown by ``crumbs lists`` and ``GET /api/v1/lists``."""

    name: str
    kind: str
    source: str
    enabled: bool
    added: int
    updated: int | None
    expires_ms: int | None
    etag: str | None
    last_modified: str | None
    sha256: str | None
    used: int | None
    skipped: int | None
    rejected: int | None
    last_checked: int | None
    last_error: str | None
    in_force: bool = False  # a version is present (shipped file, or a good copy under lists/)
    next_update: int | None = None  # when the server's updater will next look (url lists only)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["etag"], out["last_modified"]  # validators for the server, not information for people
        return out


@dataclass
class Outcome:
    """What one update did to one list."""

    name: str
    status: str  # "updated", "not-modified", "unchanged", "failed", "skipped"
    error: str | None = None
    used: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[str, int, int | None], None]  # (list name, bytes received, total or None)


# -- names and sources ---------------------------------------------------------------------


def known_lists() -> dict[str, str]:
    """Known list names and their addresses, with any ``CRUMBS_LIST_URL_<NAME>`` override applied."""
    return {name: os.environ.get(KNOWN_URL_ENV + name.upper(), url) for name, url in KNOWN_LISTS.items()}


def check_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL with a host; raise :class:`ListError` otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ListError(f"{url[:200]!r} is not a URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ListError(f"only http:// and https:// lists can be subscribed to, not {parts.scheme or 'this'}:")
    if not parts.hostname:
        raise ListError(f"{url[:200]!r} has no host")
    # Control characters too (NUL, DEL): http.client refuses them only at download time, with an
    # exception that is not a ListError, so a stored URL like that broke every later update.
    if any(c.isspace() or c < " " or c == "\x7f" for c in url) or len(url) > 2048:
        raise ListError("the URL is malformed or too long")
    return url


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ListError(
            f"{name[:60]!r} is not a valid list name: use 1-40 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def suggest_name(source: str) -> str:
    """A list name from a URL or path: its file name's stem, reduced to the allowed characters."""
    path = urlsplit(source).path if "://" in source else source
    stem = Path(path.rstrip("/")).name.rsplit(".", 1)[0] if path.strip("/") else ""
    if not stem and "://" in source:
        stem = urlsplit(source).hostname or ""
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:40].strip("-_")
    return slug or "list"


def parse_expires(text: str) -> int | None:
    """The list's own ``! Expires: 4 days`` (or hours) from its header, in ms, clamped; None if absent."""
    for line in text.splitlines()[:60]:
        if line and not line.startswith(("!", "[", "#")):
            break  # the header is over
        match = re.match(r"^!\s*Expires\s*:\s*(\d+)\s*(d|day|days|h|hour|hours)?\b", line, re.I)
        if match:
            amount = int(match.group(1))
            unit = (match.group(2) or "days").lower()
            ms = amount * (HOUR_MS if unit.startswith("h") else DAY_MS)
            return max(MIN_EXPIRES_MS, min(MAX_EXPIRES_MS, ms))
    return None


_CHECKSUM_RE = re.compile(r"^\s*!\s*checksum[\s\-:]+([\w+/=]+).*(\n|$)", re.I | re.M)


def list_checksum(text: str) -> str:
    """The Adblock Plus ``! Checksum:`` of a list: MD5 of the text without that line, ``\\r`` removed and
    blank lines collapsed, in base64 without padding. Only some lists carry one; when present it catches
    a truncated or altered download."""
    data = text.replace("\r", "")
    data = re.sub(r"\n+", "\n", data)
    data = _CHECKSUM_RE.sub("", data, count=1)
    return base64.b64encode(hashlib.md5(data.encode("utf-8")).digest()).decode("ascii").rstrip("=")


def check_text(raw: bytes, kind: str, content_type: str | None = None) -> str:
    """Decode and structurally check one list; return its text or raise :class:`ListError`.

    Refuses: empty, binary (NUL bytes), not UTF-8, HTML (an error or login page served instead of the
    list), a downloaded list without a header (``[Adblock Plus …]`` or a ``!`` comment first), and a list
    whose ``! Checksum:`` does not match. Local files the person writes need no header.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise ListError("the list is empty")
    if b"\x00" in raw:
        raise ListError("the list is binary data, not text")
    head = raw[:2048].lstrip().lower()
    if head.startswith(b"<") or (content_type and "html" in content_type.lower()):
        raise ListError("got an HTML page instead of a filter list (an error or login page?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ListError(f"the list is not UTF-8 text (byte {exc.start})") from None
    if kind == "url":
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if not (first.startswith("!") or re.match(r"^\[(adblock|ublock|adguard)[^\]]*\]$", first, re.I)):
            raise ListError(f"no filter list header: the first line is {first[:80]!r}")
    match = _CHECKSUM_RE.search(text)
    if match and match.group(1).rstrip("=") != list_checksum(text):
        raise ListError("the list's checksum does not match its content (truncated or altered download)")
    return text


# -- downloading ---------------------------------------------------------------------------


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows at most ``max_redirections`` redirects, and only to http(s): never file:, ftp: or data:."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.max_redirections = limit

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        try:
            check_url(newurl)
        except ListError:
            raise urllib.error.HTTPError(newurl, code, f"redirect to a refused address ({newurl[:100]})", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass
class Fetched:
    data: bytes | None  # None: not modified (304)
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


def fetch(
    url: str,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: Limits = Limits(),
    progress: Callable[[int, int | None], None] | None = None,
) -> Fetched:
    """Download ``url`` with a conditional request, within ``limits``; raise :class:`ListError` on any failure.

    Built on an opener with only the HTTP(S) handlers (no file:, ftp: or data:), and without
    ``Accept-Encoding`` so the size bound applies to what is parsed (no decompression bombs).
    """
    check_url(url)
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),  # the person's proxy settings (HTTP(S)_PROXY, NO_PROXY)
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        _RedirectHandler(limits.max_redirects),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    headers = {"User-Agent": f"Crumbs/{__version__} (filter list updater)", "Accept": "text/plain, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    deadline = time.monotonic() + limits.total_timeout
    try:
        response = opener.open(request, timeout=limits.stall_timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304:
            return Fetched(None, etag, last_modified)
        reason = str(exc.reason).splitlines()[0] if exc.reason else ""
        if 300 <= exc.code < 400:  # urllib refuses loops, too many hops and non-http(s) targets this way
            raise ListError(f"refused redirect ({exc.code}): {reason}") from None
        raise ListError(f"the server answered {exc.code} {reason}".strip()) from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: a server answering garbage (BadStatusLine) is a failed download of that list,
        # not an error that aborts the update of every other list (and answers 500).
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ListError(f"no answer within {limits.stall_timeout:g} s") from None
        raise ListError(f"cannot download: {str(reason).strip()[:200]}") from None  # bounded: a server may write it
    with response:
        length_header = response.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else None
        except ValueError:
            length = None
        if length is not None and length > limits.max_bytes:
            raise ListError(f"the list is too large ({length:,} bytes; the limit is {limits.max_bytes:,})")
        chunks: list[bytes] = []
        received = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise ListError(f"the download took longer than {limits.total_timeout:g} s")
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                received += len(chunk)
                if received > limits.max_bytes:
                    raise ListError(f"the list is larger than the limit of {limits.max_bytes:,} bytes")
                chunks.append(chunk)
                if progress:
                    progress(received, length)
        except ListError:
            raise
        except Exception as exc:  # OSError, timeouts, http.client.HTTPException (IncompleteRead of a chunked body)
            raise _read_error(exc, limits) from None
        if length is not None and received != length:
            raise ListError(f"the download was cut short ({received:,} of {length:,} bytes)")
        return Fetched(
            b"".join(chunks),
            response.headers.get("ETag"),
            response.headers.get("Last-Modified"),
            response.headers.get("Content-Type"),
        )


def _read_error(exc: Exception, limits: Limits) -> ListError:
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return ListError(f"the download stalled (nothing for {limits.stall_timeout:g} s)")
    return ListError(f"the download was cut short ({type(exc).__name__})")


def read_local(path: Path, limits: Limits = Limits()) -> bytes:
    """Read a local list: a regular file, not through a symbolic link, within the size bound."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hang us
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):
            raise ListError(f"{path} is now a symbolic link; add the file it points to instead") from None
        raise ListError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ListError(f"{path} is not a regular file")
        if info.st_size > limits.max_bytes:
            raise ListError(f"{path} is too large ({info.st_size:,} bytes; the limit is {limits.max_bytes:,})")
        data = handle.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise ListError(f"{path} is larger than the limit of {limits.max_bytes:,} bytes")
    return data


def _file_signature(path: Path) -> str | None:
    """What tells us a local file changed: size and modification time (nanoseconds)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}"


# -- which lists name a host (for the history page) ------------------------------------------

# One scan of each file in C (findall) rather than a regex call per line: ~0.3 s for EasyList+EasyPrivacy.
_HOST_FILTER_RE = re.compile(r"^\|\|([a-zA-Z0-9.-]+)(?:[\^/$]|\r?$)", re.M)
_naming_lock = threading.Lock()
_naming_cache: dict[tuple, dict[str, tuple[str, ...]]] = {}


def _hostname_index(paths: list[Path]) -> dict[str, tuple[str, ...]]:
    """host → names of the lists with a block filter anchored on exactly that host (``||host^…``)."""
    built: dict[str, tuple[str, ...]] = {}
    for path in paths:
        name = path.stem
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # Exceptions (@@), comments, cosmetic and unanchored filters don't match: they don't name a host.
        for host in _HOST_FILTER_RE.findall(text):
            host = host.lower()
            names = built.get(host, ())
            if name not in names and "." in host:
                built[host] = names + (name,)
    return built


def _naming_index(source: Any) -> dict[str, tuple[str, ...]]:
    if isinstance(source, Lists) or isinstance(getattr(source, "lists", None), Lists):
        registry = source if isinstance(source, Lists) else source.lists
        # lists_rev moves with every change of the lists in force (local file edits included).
        key: tuple = ("registry", str(registry.dir), registry.rev())
        paths = None
    else:
        paths = list(source.list_paths) if hasattr(source, "list_paths") else [Path(p) for p in source]
        key = tuple((str(p), _file_signature(p)) for p in paths)
    with _naming_lock:
        index = _naming_cache.get(key)
        if index is None:
            index = _hostname_index(paths if paths is not None else registry.paths_in_force())
            _naming_cache.clear()  # one set of lists is in force at a time
            _naming_cache[key] = index
    return index


def _names_for(index: dict[str, tuple[str, ...]], host: str) -> list[str]:
    found: list[str] = []
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels) - 1):
        for name in index.get(".".join(labels[i:]), ()):
            if name not in found:
                found.append(name)
    return found


def lists_naming(source: Any, host: str) -> list[str]:
    """The names of the lists in force that name ``host`` or one of its parent domains in a filter
    anchored on it (``||tracker.example^``, with or without options such as ``$third-party``;
    exceptions ``@@`` don't count).

    This answers "which lists call this a tracker" on the history page. ``source`` is a
    :class:`Lists` registry, a :class:`~companion.service.Companion` (its registry, or its fixed
    ``list_paths``), or list file paths. The index is built on first use after each change of the
    lists in force (about 0.3 s for EasyList+EasyPrivacy); a lookup then costs microseconds.
    For many hosts at once, :func:`lists_naming_many` reads the registry's revision only once.
    """
    return _names_for(_naming_index(source), host)


def lists_naming_many(source: Any, hosts: Iterable[str]) -> dict[str, list[str]]:
    """:func:`lists_naming` for several hosts: ``{host: [list names]}``."""
    index = _naming_index(source)
    return {host: _names_for(index, host) for host in hosts}


# -- the registry --------------------------------------------------------------------------


class Lists:
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

    def _rows(self, where: str = "", params: tuple = ()) -> list[dict[str, Any]]:
        with self.store.lock:
            cursor = self.store.conn.execute(f"SELECT * FROM lists {where} ORDER BY added, name", params)
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def _info(self, row: dict[str, Any]) -> ListInfo:
        info = ListInfo(**{k: row[k] for k in ListInfo.__dataclass_fields__ if k in row})
        info.enabled = bool(info.enabled)
        info.in_force = self._path_in_force(info.name, info.kind, info.source) is not None
        if info.kind == "url" and info.enabled and info.updated is not None:
            info.next_update = self._next_update(info)
        return info

    def all(self) -> list[ListInfo]:
        """Every known list: shipped first, then the person's in the order they were added."""
        infos = [self._info(r) for r in self._rows()]
        return sorted(infos, key=lambda i: (i.kind != "shipped", i.added, i.name))

    def get(self, name: str) -> ListInfo:
        rows = self._rows("WHERE name = ?", (name,))
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
        if self._local_changed():  # take the lock only then: a running download must not delay `crumbs check`
            with self._changing():
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
        stats = engine.stats
        with self.store.transaction():
            for name, s in stats.items():
                if names is not None and name not in names:
                    continue
                self.store.conn.execute(
                    "UPDATE lists SET used = ?, skipped = ?, rejected = ? WHERE name = ?",
                    (s.used, s.skipped, s.rejected, name),
                )

    def _bump_rev(self) -> None:
        with self.store.transaction():
            self.store.conn.execute(
                """INSERT INTO settings (key, value) VALUES ('lists_rev', '1')
                   ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
            )
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
        with self.store.transaction():
            rows = {
                name: (kind, source)
                for name, kind, source in self.store.conn.execute("SELECT name, kind, source FROM lists")
            }
            for name, source in shipped.items():
                if name not in rows:
                    self.store.conn.execute(
                        "INSERT INTO lists (name, kind, source, enabled, added) VALUES (?, 'shipped', ?, 1, ?)",
                        (name, source, 0),
                    )
                elif rows[name][0] != "shipped":
                    log.warning("a shipped list and the person's list are both named %s; keeping the person's", name)
            for name, (kind, _) in rows.items():
                if kind == "shipped" and name not in shipped:
                    self.store.conn.execute("DELETE FROM lists WHERE name = ?", (name,))

    def resolve_source(self, source: str, allow_path: bool) -> tuple[str, str, str | None]:
        """(kind, source, suggested name) for what the person typed: a known name, a URL or (CLI only) a path."""
        known = self.known
        if source.lower() in known:
            return "url", check_url(known[source.lower()]), source.lower()
        if "://" in source:
            check_url(source)
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
        # Resolved once, now, on the person's word: a link they made is followed here and never again.
        return "file", str(path.resolve()), None

    def add(
        self,
        source: str,
        name: str | None = None,
        progress: Progress | None = None,
        allow_path: bool = True,
    ) -> tuple[ListInfo, Outcome]:
        """Register a list and fetch (or read) it now, because the person asked.

        A failed first download keeps the list registered, with the reason in ``last_error``, so
        ``update`` can retry it; it has no version in force until one succeeds.
        """
        kind, resolved, suggested = self.resolve_source(source, allow_path)
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
            with self.store.transaction():
                self.store.conn.execute(
                    "INSERT INTO lists (name, kind, source, enabled, added) VALUES (?, ?, ?, 1, ?)",
                    (name, kind, resolved, now_ms()),
                )
            results: list[Outcome] = []
            self._update([name], force=False, results=results, progress=progress)
            return self.get(name), results[0]

    def set_enabled(self, name: str, enabled: bool, progress: Progress | None = None) -> tuple[ListInfo, Outcome | None]:
        """Enable or disable a list; the engine follows at once. Enabling a list never fetched fetches it now."""
        with self._changing():
            info = self.get(name)
            with self.store.transaction():
                self.store.conn.execute("UPDATE lists SET enabled = ? WHERE name = ?", (int(enabled), name))
            outcome = None
            if enabled and not info.in_force and info.kind != "shipped":
                results: list[Outcome] = []  # the person asked for it: fetch a list never fetched
                self._update([name], force=False, results=results, progress=progress)
                outcome = results[0]
            elif info.enabled != enabled:
                self._rebuild()
            return self.get(name), outcome

    def remove(self, name: str) -> None:
        """Forget a list and delete its copy. Shipped lists can only be disabled."""
        with self._changing():
            info = self.get(name)
            if info.kind == "shipped":
                raise Conflict(f"{name!r} ships with Crumbs and cannot be removed; 'disable' it instead")
            with self.store.transaction():
                self.store.conn.execute("DELETE FROM lists WHERE name = ?", (name,))
            try:
                self._file(name).unlink()
            except FileNotFoundError:
                pass
            if info.enabled and info.in_force:
                self._rebuild()
            else:
                self._bump_rev()

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
        with self._changing():
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
            self._update(names, force=force, results=results, progress=progress)
            return results

    def refresh_local(self) -> list[Outcome]:
        """Re-read the local files whose size or modification time changed."""
        with self._changing():
            results: list[Outcome] = []
            self._update(self._local_changed(), force=False, results=results)
            return results

    def _local_changed(self) -> list[str]:
        return [
            r["name"]
            for r in self._rows("WHERE kind = 'file' AND enabled = 1")
            if _file_signature(Path(r["source"])) != r["etag"]
        ]

    def _rebuild(self) -> Engine:
        engine = self.build_engine()
        self._record_stats(engine)
        self._bump_rev()
        self._apply(engine)
        return engine

    # -- the update pipeline --------------------------------------------------------------

    def _update(
        self, names: list[str], force: bool, results: list[Outcome], progress: Progress | None = None
    ) -> Engine | None:
        """Fetch, check, build, replace, apply. Returns the new engine if one was put in force."""
        if not names:
            return None
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.dir))
        try:
            candidates: dict[str, tuple[Path, dict[str, Any]]] = {}
            for name in names:
                row = self._rows("WHERE name = ?", (name,))[0]
                try:
                    fields = self._candidate(row, force, staging, progress)
                except ListError as exc:
                    if row["kind"] == "file":  # don't re-read a broken file until it changes again
                        self._write_row(name, {"etag": _file_signature(Path(row["source"]))})
                    self._failed(name, str(exc), results)
                    continue
                if fields is None:
                    results.append(Outcome(name, "not-modified"))
                    continue
                if fields.get("sha256") == row["sha256"] and self._path_in_force(name, row["kind"], row["source"]):
                    # Same content as the version in force (a server without validators, or a touched file).
                    self._write_row(name, {k: v for k, v in fields.items() if k != "path"})
                    results.append(Outcome(name, "unchanged", used=row["used"]))
                    continue
                candidates[name] = (fields.pop("path"), fields)
            if not candidates:
                return None
            engine = self._build_checked(candidates, force, results)
            if engine is None:
                return None
            for name, (path, fields) in candidates.items():
                os.replace(path, self._file(name))  # atomic: readers see the old file or the new one
                stats = engine.stats.get(name)
                self._write_row(name, fields | {"updated": now_ms(), "last_error": None})
                results.append(Outcome(name, "updated", used=stats.used if stats else None))
            self._record_stats(engine)
            self._bump_rev()
            self._apply(engine)
            return engine
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _candidate(
        self, row: dict[str, Any], force: bool, staging: Path, progress: Progress | None
    ) -> dict[str, Any] | None:
        """Get and check one list's new version into ``staging``; None if the server says not modified."""
        name, kind = row["name"], row["kind"]
        fields: dict[str, Any] = {"last_checked": now_ms()}
        if kind == "url":
            in_force = self._path_in_force(name, kind, row["source"]) is not None
            conditional = in_force and not force
            fetched = fetch(
                row["source"],
                row["etag"] if conditional else None,
                row["last_modified"] if conditional else None,
                self.limits,
                (lambda got, total: progress(name, got, total)) if progress else None,
            )
            if fetched.data is None:
                self._write_row(name, fields | {"last_error": None})
                return None
            text = check_text(fetched.data, kind, fetched.content_type)
            fields.update(etag=fetched.etag, last_modified=fetched.last_modified)
            raw = fetched.data
        elif kind == "file":
            path = Path(row["source"])
            signature = _file_signature(path)
            raw = read_local(path, self.limits)
            text = check_text(raw, kind)
            fields["etag"] = signature  # for local files: the size and mtime this version was read at
        else:
            raise ListError("shipped lists are not updated this way")
        fields["sha256"] = hashlib.sha256(raw).hexdigest()
        fields["expires_ms"] = parse_expires(text) or (DEFAULT_EXPIRES_MS if kind == "url" else None)
        path = staging / f"{check_name(name)}.txt"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        fields["path"] = path
        return fields

    def _build_checked(
        self, candidates: dict[str, tuple[Path, dict[str, Any]]], force: bool, results: list[Outcome]
    ) -> Engine | None:
        """Build the engine with the candidates in place; drop candidates whose parse looks wrong and retry."""
        while candidates:
            try:
                engine = self.build_engine({n: p for n, (p, _) in candidates.items()})
            except Exception as exc:  # the engine refusing a list must not take the companion down
                log.exception("building the engine failed")
                for name in list(candidates):
                    self._failed(name, f"the filter engine could not load it ({type(exc).__name__}: {exc})", results)
                return None
            bad = {}
            for name in candidates:
                problem = self._parse_problem(name, engine, force)
                if problem:
                    bad[name] = problem
            if not bad:
                return engine
            for name, problem in bad.items():
                del candidates[name]
                self._failed(name, problem, results)
        return None

    def _parse_problem(self, name: str, engine: Engine, force: bool) -> str | None:
        stats = engine.stats.get(name)
        if stats is None:
            return "the filter engine did not load it"
        if stats.used == 0:
            return "no network filter in it could be used"
        if stats.rejected > stats.used * (1 - MIN_USABLE_SHARE) / MIN_USABLE_SHARE:
            return f"too few usable filters ({stats.used:,} used, {stats.rejected:,} rejected): not a filter list?"
        before = self._rows("WHERE name = ?", (name,))[0]
        if (
            not force
            and before["kind"] == "url"
            and before["used"]
            and before["used"] >= SHRINK_GUARD_MIN
            and stats.used < before["used"] * 0.5
        ):
            return (
                f"the new version has {stats.used:,} usable filters against {before['used']:,} before: "
                "probably truncated ('crumbs lists update --force' accepts it)"
            )
        return None

    def _failed(self, name: str, error: str, results: list[Outcome]) -> None:
        log.warning("list %s: %s", name, error)
        self._write_row(name, {"last_checked": now_ms(), "last_error": error})
        results.append(Outcome(name, "failed", error))

    def _write_row(self, name: str, fields: Mapping[str, Any]) -> None:
        allowed = {"updated", "expires_ms", "etag", "last_modified", "sha256", "last_checked", "last_error"}
        fields = {k: v for k, v in fields.items() if k in allowed}
        if not fields:
            return
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self.store.transaction():
            self.store.conn.execute(f"UPDATE lists SET {assignments} WHERE name = ?", (*fields.values(), name))
