"""Which lists name a host: a small index from ``||host^`` filters, for the tracker and site pages."""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Iterable

from .fetch import _file_signature

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


