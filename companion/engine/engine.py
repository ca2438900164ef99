"""The filter engine: build from lists (or the cache), then decide requests.

Decision, as in Adblock Plus, uBlock Origin and adblock-rust:
1. no block filter applies -> None (exceptions are not even looked up);
2. an `$important` block filter applies -> blocked, whatever the exceptions say (the exception
   it overrode, if any, is reported);
3. an exception applies -> allowed (Match.blocked is False; the block filter it overrode is
   reported);
4. otherwise -> blocked by the block filter found.

A request without a page (`source_url` None or "") is third-party and has no page domain:
`domain=` includes never apply to it, exclusion-only `domain=~x` filters do.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from . import cache as _cache
from ..sites import SPLIT_CACHE, split_host
from .domains import AUTHORITY_RE
from .index import Index, IndexBuilder
from .parser import OTHER, REQUEST_TYPES, Kind, ParsedFilter, badfilter_target, parse_filter, parse_line
from .patterns import RegexRejected, compile_regex_filter


_AUTHORITY_MATCH = AUTHORITY_RE.match
_SPLIT_CACHE = SPLIT_CACHE
_PAGE_HOSTS: dict[str, str] = {}  # source URL -> page hostname: a page makes many requests


def _page_host(source_url: str) -> str:
    m = _AUTHORITY_MATCH(source_url.lower())
    host = m.group(1) if m else ""
    if len(_PAGE_HOSTS) > 5000:
        _PAGE_HOSTS.clear()
    _PAGE_HOSTS[source_url] = host
    return host


class Match(NamedTuple):
    """The engine's answer for a request that some filter decided."""
    blocked: bool
    filter: str                 # text of the deciding filter
    list: str                   # name of its list (file stem)
    overridden_filter: str | None = None  # block filter an exception overrode, or exception an
    overridden_list: str | None = None    # $important filter overrode
    important: bool = False


@dataclass(slots=True)
class ListStats:
    """What the engine made of one list. Every line is counted once in used, skipped, rejected,
    inactive or disabled; cosmetic and non_blocking are the parts of skipped that are filters."""
    lines: int = 0
    used: int = 0          # network filters taking part in matching (including $badfilter ones)
    skipped: int = 0       # comments, blank lines, cosmetic and non-blocking filters
    rejected: int = 0      # unparsable, unknown option, regex RE2 refuses, matches everything
    cosmetic: int = 0      # element hiding, scriptlets, HTML filters (counted in skipped)
    non_blocking: int = 0  # popup-only, csp=, removeparam, $generichide... (counted in skipped)
    inactive: int = 0      # options the engine cannot honour ($method, $header...): never applied
    disabled: int = 0      # turned off by a $badfilter filter


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


class Engine:
    """Adblock Plus network filter engine; see the module docstring for the decision rules."""

    # 6: regex filters capped (program size, repetitions); 7: every token a filter needs is a key
    # of its token index (Index.find_rest relies on it: a cache without them would miss blocks)
    VERSION = "crumbs-engine-7"

    __slots__ = ("_names", "_stats", "_blocks", "_exceptions", "_important", "_hits", "source_key")

    def __init__(self, names: list[str], stats: dict[str, ListStats], blocks: Index,
                 exceptions: Index, important: Index) -> None:
        self._names = names
        self._stats = stats
        self._blocks = blocks
        self._exceptions = exceptions
        self._important = important
        self._hits: dict[str, Match] = {}
        self.source_key: str | None = None  # set by from_files: a digest of the lists it was built from

    # --- building -----------------------------------------------------------------------------

    @classmethod
    def from_lists(cls, lists: Iterable[tuple[str, str]]) -> "Engine":
        """Build from (name, text) pairs, in priority order (first list wins on duplicates)."""
        lists = list(lists)
        names = [name for name, _ in lists]
        stats = {name: ListStats() for name in names}
        parsed = []
        bad_targets: set[str] = set()
        for list_id, (name, text) in enumerate(lists):
            st = stats[name]
            if text.startswith("\ufeff"):
                text = text[1:]
            for line in text.splitlines():
                st.lines += 1
                out = parse_line(line)
                kind = out.kind
                if kind is Kind.NETWORK:
                    pf = out.filter
                    if pf.is_regex:
                        try:
                            compile_regex_filter(pf.body, pf.match_case)
                        except RegexRejected:
                            st.rejected += 1
                            continue
                    if pf.badfilter:
                        bad_targets.add(badfilter_target(pf.text))
                        st.used += 1
                        continue
                    parsed.append((list_id, pf))
                elif kind is Kind.COMMENT:
                    st.skipped += 1
                elif kind is Kind.COSMETIC:
                    st.skipped += 1
                    st.cosmetic += 1
                elif kind is Kind.NON_BLOCKING:
                    st.skipped += 1
                    st.non_blocking += 1
                elif kind is Kind.INACTIVE:
                    st.inactive += 1
                else:
                    st.rejected += 1
        blocks, exceptions, important = IndexBuilder(), IndexBuilder(), IndexBuilder()
        seen: set[str] = set()
        for list_id, pf in parsed:
            st = stats[names[list_id]]
            if pf.text in bad_targets:
                st.disabled += 1
                continue
            st.used += 1
            if pf.text in seen:  # same filter in two lists: the first list keeps it
                continue
            seen.add(pf.text)
            if pf.exception:
                exceptions.add(pf, list_id)
            else:
                blocks.add(pf, list_id)
                if pf.important:
                    important.add(pf, list_id)
        return cls(names, stats, blocks.build(), exceptions.build(), important.build())

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], cache_dir: str | Path | None = None) -> "Engine":
        """Build from list files (name = file stem); with `cache_dir`, reuse or refresh the cache."""
        lists = []
        digest = hashlib.sha256(cls.VERSION.encode())
        for p in paths:
            p = Path(p)
            data = p.read_bytes()
            lists.append((p.stem, data))
            digest.update(p.stem.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
        key = digest.digest()
        cache_file = None
        if cache_dir is not None:
            cache_file = cls.cache_path([n for n, _ in lists], cache_dir)
            state = _cache.read(cache_file, key)
            if state is not None:
                try:
                    engine = cls._from_state(state)
                    engine.source_key = key.hex()
                    return engine
                except Exception:  # wrong shape despite a valid digest: rebuild
                    pass
        engine = cls.from_lists((name, _decode(data)) for name, data in lists)
        if cache_file is not None:
            _cache.write(cache_file, key, engine._state())
        # What the engine was built from (lists and engine version): keys caches of what is derived from it.
        engine.source_key = key.hex()
        return engine

    @staticmethod
    def cache_path(lists: Iterable[str | Path], cache_dir: str | Path) -> Path:
        """The cache file of an engine built from ``lists`` (names or list files; one file per set of names)."""
        names = [Path(n).stem if isinstance(n, Path) else n for n in lists]
        names_id = hashlib.sha256("\0".join(names).encode()).hexdigest()[:16]
        return Path(cache_dir) / f"crumbs-engine-{names_id}.cache"

    def _state(self):
        return (self.VERSION, self._names, self._stats, self._blocks, self._exceptions,
                self._important)

    @classmethod
    def _from_state(cls, state) -> "Engine":
        version, names, stats, blocks, exceptions, important = state
        if version != cls.VERSION:
            raise ValueError("cache from another engine version")
        return cls(names, stats, blocks, exceptions, important)

    # --- matching -----------------------------------------------------------------------------

    def match(self, url: str, source_url: str | None, request_type: str) -> Match | None:
        """Decide one request. `request_type` uses the webRequest names (main_frame, script...)."""
        lurl = url.lower()
        m = _AUTHORITY_MATCH(lurl)
        if m is None:
            return None  # not a URL with a host: nothing to decide
        host = m.group(1)
        host_end = m.end(1)
        tbit = REQUEST_TYPES.get(request_type, OTHER)
        if source_url:
            page_host = _PAGE_HOSTS.get(source_url)
            if page_host is None:
                page_host = _page_host(source_url)
            sc = _SPLIT_CACHE
            reg = sc.get(host) or split_host(host)
            preg = sc.get(page_host) or split_host(page_host)
            third = reg[0] != preg[0] if page_host else True
        else:
            page_host = ""
            third = True
        blocks = self._blocks
        # The hostname part of the block index, inlined: it decides most blocked requests. A
        # host with path filters (`||host/path`) has its candidates narrowed per context (host,
        # page host, type) to those whose options apply there (Index.host_candidates_in): only
        # their URL pattern is left to test.
        block = None
        cands = blocks._host_cache.get(host)
        if cands is None:
            cands = blocks.host_candidates(host)
        if type(cands) is str:
            block = cands
        elif cands:
            key = (host, page_host, tbit)
            cands = blocks._ctx_cache.get(key)
            if cands is None:
                cands = blocks.host_candidates_in(key, third)
            if type(cands) is not tuple:  # a popular host's, keyed by path (HostSplit)
                cands = cands.at(lurl, host_end)
            for f in cands:
                if (lurl.startswith(f.head, host_end) and f.lit in lurl
                        and f.url_ok(lurl, url, host, host_end)):
                    block = f
                    break
        if block is None:
            block = blocks.find_rest(lurl, url, host, host_end, page_host, tbit, third, None)
            if block is None:
                return None
        excs = self._exceptions
        exc = excs.find_by_host(lurl, url, host, host_end, page_host, tbit, third)
        if exc is None:
            exc = excs.find_rest(lurl, url, host, host_end, page_host, tbit, third, None)
        if exc is None:
            hit = self._hits.get(block) if type(block) is str else block.hit
            if hit is not None:
                return hit
        btext, blist, bimportant = self._describe(block)
        if bimportant:
            if exc is None:
                return self._hit(block, btext, blist, True)
            etext, elist, _ = self._describe(exc)
            return Match(True, btext, blist, etext, elist, True)
        if exc is None:
            return self._hit(block, btext, blist, False)
        etext, elist, _ = self._describe(exc)
        imp = self._important.find(lurl, url, host, host_end, page_host, tbit, third, None)
        if imp is not None:
            itext, ilist, _ = self._describe(imp)
            return Match(True, itext, ilist, etext, elist, True)
        return Match(False, etext, elist, btext, blist, False)

    def _describe(self, found) -> tuple[str, str, bool]:
        if type(found) is str:  # a plain `||host^` hit from one of the two indexes
            if found in self._blocks.plain:
                return "||" + found + "^", self._names[self._blocks.plain[found]], False
            return "@@||" + found + "^", self._names[self._exceptions.plain[found]], False
        return found.text, self._names[found.list_id], found.important

    def _hit(self, block, text: str, list_name: str, important: bool) -> Match:
        """The (cached) Match of a block filter that decided alone."""
        if type(block) is str:
            hit = self._hits.get(block)
            if hit is None:
                if len(self._hits) > 50000:
                    self._hits.clear()
                hit = self._hits[block] = Match(True, text, list_name, None, None, important)
            return hit
        hit = block.hit
        if hit is None:
            hit = block.hit = Match(True, text, list_name, None, None, important)
        return hit

    # --- introspection ------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, ListStats]:
        """Per-list counts of used, skipped, rejected, cosmetic, inactive... lines."""
        return self._stats

    @property
    def lists(self) -> list[str]:
        """List names, in the order they were given."""
        return list(self._names)

    def filters(self) -> Iterator[tuple[str, str, bool, bool]]:
        """(filter text, list name, is_exception, is_important) for every active network filter
        (not cosmetic, non-blocking, inactive, rejected or badfiltered ones)."""
        names = self._names
        for index, exception in ((self._blocks, False), (self._exceptions, True)):
            prefix = "@@||" if exception else "||"
            for host, list_id in index.plain.items():
                yield prefix + host + "^", names[list_id], exception, False
            for text, list_id, important in index.iter_filters():
                yield text, names[list_id], exception, important

    def network_filters(self) -> Iterator[tuple[ParsedFilter, str]]:
        """(parsed filter, list name) for every active network filter, in the order of :meth:`filters`:
        what the DNR compiler needs (pattern, options, exception, important), parsed here once."""
        for text, list_name, _exception, _important in self.filters():
            parsed = parse_filter(text)
            if parsed is not None:
                yield parsed, list_name

    def __len__(self) -> int:
        return len(self._blocks) + len(self._exceptions)
