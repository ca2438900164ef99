"""Which lists name a host: a small index from ``||host^`` filters, for the tracker and site pages."""
from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_left
from pathlib import Path
from typing import Any, Iterable

from ..memory import give_back_freed
from .fetch import _file_signature

_HOST_FILTER_RE = re.compile(r"^\|\|([a-zA-Z0-9.-]+)(?:[\^/$]|\r?$)", re.M)
_naming_lock = threading.Lock()
_naming_cache: dict[tuple, "HostNaming"] = {}


class HostNaming:
    """Which lists hold a block filter anchored on exactly a host (``||host^...``), kept small.

    EasyList + EasyPrivacy anchor filters on about 100,000 hosts; as a dict of host strings that was
    15 MB for good in a server that asks about a few hundred hosts a page (issue 14, memory). Each
    list keeps the sorted 64-bit hashes of its hosts instead (0.8 MB for both lists): a lookup is a
    binary search per list. Python's string hash is 64 bits wide on the platforms Crumbs runs on: a
    host no list names matches one of 100,000 hashes (and would be wrongly said to be named) with a
    chance of about 1 in 10**14 per lookup. The index lives only in memory (the hash is per process),
    built again whenever the lists in force change.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        self.lists: list[tuple[str, array]] = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            # Exceptions (@@), comments, cosmetic and unanchored filters don't match: they don't name a host.
            # One match at a time into the sorted hashes (repeats are harmless to the search): no list of
            # 100,000 host strings is made even for a moment, which left the server bigger after its peak.
            hashes = array("q", sorted(hash(m[1].lower()) for m in _HOST_FILTER_RE.finditer(text) if "." in m[1]))
            self.lists.append((path.stem, hashes))

    def names(self, host: str) -> tuple[str, ...]:
        """The lists naming exactly ``host`` (lower case), in the order the lists were given."""
        key = hash(host)
        found = []
        for name, hashes in self.lists:
            i = bisect_left(hashes, key)
            if i < len(hashes) and hashes[i] == key and name not in found:
                found.append(name)
        return tuple(found)


def _naming_index(source: Any) -> HostNaming:
    from .registry import Lists  # the registry builds engines; naming is needed without one

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
            index = HostNaming(paths if paths is not None else registry.paths_in_force())
            give_back_freed()  # the lists' text and their 100,000 hosts, read once
            _naming_cache.clear()  # one set of lists is in force at a time
            _naming_cache[key] = index
    return index


def _names_for(index: HostNaming, host: str) -> list[str]:
    found: list[str] = []
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels) - 1):
        for name in index.names(".".join(labels[i:])):
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


