"""What a list must be before Crumbs accepts it: names, URLs, the header's expiry and checksum, the text itself.

Pure functions and the constants they use; no network, no database.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    downloading: dict[str, Any] | None = None  # {"received", "total", "started"} while a download runs

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


def check_url(url: str, shown: str | None = None) -> str:
    """Return ``url`` if it is an http(s) URL with a host; raise :class:`ListError` otherwise.
    ``shown``: how the messages name the URL when it is not the person's to see quoted (a redirect's
    target, which a server chose)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ListError(f"{shown or repr(url[:200])} is not a URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = "this" if shown or not parts.scheme else parts.scheme
        raise ListError(f"only http:// and https:// lists can be subscribed to, not {scheme}:")
    if not parts.hostname:
        raise ListError(f"{shown or repr(url[:200])} has no host")
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
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    has_header = first.startswith("!") or re.match(r"^\[(adblock|ublock|adguard)[^\]]*\]$", first, re.I)
    if kind == "url" and not has_header:
        # Never quote the content: a URL pointing at something private must not read it back to us.
        raise ListError("no filter list header (a first line of '[Adblock Plus …]' or '! …'): not a filter list")
    if not has_header and not looks_like_filters(text):
        raise ListError("this does not look like a filter list (too few lines read as filters): not a filter list?")
    match = _CHECKSUM_RE.search(text)
    if match and match.group(1).rstrip("=") != list_checksum(text):
        raise ListError("the list's checksum does not match its content (truncated or altered download)")
    return text


# A line a filter list would hold: a comment or header, an exception (``@@``), an anchored filter
# (``|``, ``||``), a regex filter (``/…/``), an element-hiding rule (``##``, ``#@#``, ``#?#``…), or a
# pattern naming a host or a path (``ads.example.com``, ``/banner/*.gif``, ``-ad-300x250.``).
_FILTER_START = re.compile(r"^(?:[!\[]|@@|\|)")
_COSMETIC = re.compile(r"#[@?$%]{0,2}#")
_REGEX_FILTER = re.compile(r"^/.+/(?:\$[\w,~=|.-]*)?$")
_PATTERN = re.compile(r"^[\w.*/^?=&%+~-]+(?:\$[\w,~=|.*-]+)?$")


def _reads_as_filter(line: str) -> bool:
    if _FILTER_START.match(line) or _COSMETIC.search(line) or _REGEX_FILTER.match(line):
        return True
    # A text file of another kind (``/etc/passwd``: ``root:x:0:0:root:/root:/bin/bash``, a config file,
    # prose) has spaces, colons or ``=`` settings where filters have none of these.
    return bool(_PATTERN.match(line)) and ("." in line or "/" in line or "*" in line or "^" in line)


def looks_like_filters(text: str, sample: int = 2000) -> bool:
    """True if at least :data:`MIN_USABLE_SHARE` of the first ``sample`` non-blank lines read as Adblock
    Plus filters; used for local files, which need no header."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][:sample]
    if not lines:
        return False
    return sum(1 for line in lines if _reads_as_filter(line)) >= len(lines) * MIN_USABLE_SHARE


# -- downloading ---------------------------------------------------------------------------


