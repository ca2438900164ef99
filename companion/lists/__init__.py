"""Filter list subscriptions: which lists are in force, and keeping them fresh without ever trusting a download.

The registry lives in the ``lists`` table. A list is one of three kinds:

- ``shipped``: a ``rules/*.txt`` file of this release, always known (it can be disabled, not removed);
- ``url``: an ``https`` address the person added (``crumbs lists add easyprivacy`` or a URL; ``http`` only
  with their explicit word). ``file://`` and every other scheme are refused, also as a redirect target;
- ``file``: a local file the person named on the command line. It is re-read whenever its size or
  modification time changes. Symbolic links: the path is resolved once, when the person adds it (so
  ``~/lists/mine.txt`` may be a link they made on purpose); afterwards it is opened with ``O_NOFOLLOW``,
  so a link later put in its place is refused rather than followed somewhere else.

The version in force of a ``url`` or ``file`` list is a copy under the data folder's ``lists/`` dir,
named ``<name>.txt`` from the list's validated name (never from anything a server or path supplied);
the engine names a list after its file's stem, so that name is what verdicts show.

An update goes: fetch (conditional request, bounded in time and size) → check (UTF-8 text, not HTML,
a header line (or, for a local file, lines that read as filters), size, ``! Checksum:`` when the list carries one) → build the whole engine with the
candidate in place (in a staging dir) → check the parse (enough usable filters, not suspiciously
shrunk) → ``os.replace`` the candidate over the version in force → hand the new engine to the
companion (:meth:`Companion.use_engine`). Anything failing on the way leaves the last good version in
force and the reason in ``last_error``.

Several processes share one data folder (``crumbs serve`` and ``crumbs lists …``): changes are
serialised by a lock file, and ``settings['lists_rev']`` is bumped on every change so the server's
updater notices a change made by the command line and swaps in the new engine.

Downloads happen outside the registry lock (into a staging file, several lists in parallel, one update
per list at a time) with a wall-clock deadline; only the swap-in takes the lock, so a slow server delays
its own list and nothing else. Their progress is in :attr:`ListInfo.downloading`. Sources are https (http
on the person's word) to public addresses only: see :mod:`.addresses`.

Rooms: :mod:`.addresses` (public addresses only), :mod:`.checks` (names, URLs, header, text), :mod:`.fetch` (download, local read),
:mod:`.naming` (which lists name a host), :mod:`.registry` (:class:`Lists`), :mod:`.update`
(the pipeline), :mod:`.updater` (the server's background refresher) and :mod:`.sources` (knowledge
sources: public tracker databases downloaded the same way, for owners and categories).
"""
from __future__ import annotations

from .checks import (DEFAULT_EXPIRES_MS, KNOWN_LISTS, KNOWN_URL_ENV, NAME_RE, Conflict, Limits, ListError, ListInfo,
                     NotFound, Outcome, Progress, check_name, check_text, check_url, known_lists, list_checksum,
                     parse_expires, suggest_name)
from .fetch import Fetched, fetch, read_local
from .naming import lists_naming, lists_naming_many
from .registry import Lists
from .sources import KNOWN_SOURCES, SourceInfo, Sources

__all__ = [
    "Lists", "ListInfo", "Outcome", "Limits", "ListError", "NotFound", "Conflict", "Progress", "Fetched",
    "KNOWN_LISTS", "KNOWN_URL_ENV", "NAME_RE", "DEFAULT_EXPIRES_MS", "known_lists", "check_url", "check_name",
    "check_text", "suggest_name", "parse_expires", "list_checksum", "fetch", "read_local", "lists_naming",
    "lists_naming_many", "Sources", "SourceInfo", "KNOWN_SOURCES",
]
