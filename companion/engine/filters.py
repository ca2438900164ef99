"""A compiled network filter: the checks one candidate filter runs against one request."""
from __future__ import annotations

import re

from .domains import domain_allows, in_domains
from .patterns import MAX_REGEX_SUBJECT, compile_regex_filter

# How the URL pattern is tested (the options are tested separately).
ALWAYS = 0     # no pattern left to test (`||host^` found through the hostname index, `$domain=` only)
RE_FROM_START = 1  # Python `re` built by patterns.abp_to_regex, `.match(url)` (linear: atomic groups)
RE_AFTER_HOST = 2  # same, `.match(url, end_of_hostname)` for `||host/path...` found by hostname
RE2_SEARCH = 3     # a `/regex/` filter, google-re2 `.search(url)`
# Most patterns are literal pieces separated by `*` (`/pagead/1p-user-list/`, `/ads/*/track.js`):
# they are decided with str.find and startswith on the lowercased URL, without any regex. This
# has no first-use cost, where re.compile took about 100 us for every filter that was a
# candidate for the first time (a large part of the engine's slowest 1 % of requests).
FIND_FROM_START = 4  # pieces found in order from the start of the URL
FIND_AFTER_HOST = 5  # same, from the end of the hostname (`||host/path*...` found by hostname)
ANCHORED = 1       # the first piece must be right at the start position (`|` or `||host` then it)
END = 2            # the last piece must end the URL (`...|`)
SEP_AFTER = 4      # a `^` follows the last piece: a separator character or the end of the URL

# ABP's `^`: any character but a letter, a digit or one of `_ - . %` (or the end of the URL).
_NOT_SEPARATORS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.%")


_TYPE_MASKS: dict[int, int] = {}


class Filter:
    """One active network filter. The regex is compiled on first use: most filters are never
    candidates for the requests a person makes, and compiling all of them would slow start-up."""

    # Slot order is memory order: what the index reads of every candidate it visits (types, lit,
    # toks, head, then party and kind) comes first, in the object's first 64 bytes, so that a
    # candidate rejected in the middle of a browsing session costs one cold cache line, not three.
    __slots__ = ("types", "lit", "toks", "head", "party", "kind", "pieces", "anchors", "include",
                 "exclude", "has_entity", "denyallow", "match_case", "src", "rx", "hit", "text",
                 "list_id", "exception", "important")

    def __init__(self, text: str, list_id: int, exception: bool, important: bool, types: int,
                 party: int, include, exclude, denyallow, match_case: bool, kind: int,
                 src: str | None, lit: str = "", pieces: tuple[str, ...] | None = None,
                 anchors: int = 0) -> None:
        self.text = text
        # A literal every matching URL contains (lowercased): the index tests `lit in url`
        # before calling test(), which rejects most candidates for the price of a substring search.
        self.lit = lit
        # Every literal piece of a wildcard pattern, lowercased, in pattern order (None when there
        # are fewer than two): test() finds them in order with str.find before running (or even
        # compiling) the regex. Candidates whose longest piece is in the URL but whose other
        # pieces are not are the slow ones otherwise: a lazy `.*?` scan over a long query string,
        # or a first-use re.compile of ~100 us.
        # For the FIND kinds: all the pieces, and the ANCHORED / END / SEP_AFTER bits.
        self.pieces = pieces
        self.anchors = anchors
        # The filter's tokens (bytes) when it has two or more: a filter found through one token
        # is skipped unless the URL has all of them, a set test that costs no scan of the URL
        # (set by the index; see Index.find_rest).
        self.toks: frozenset[bytes] | None = None
        # For filters found through their hostname (`||host/path...`): the literal text that must
        # follow the hostname, lowercased ("" when none). The index tests
        # `url.startswith(head, host_end)` first: it costs the length of the head, where
        # `lit in url` scans the whole URL, and a popular host (google.com) has many path filters
        # while its URLs carry kilobytes of query string.
        self.head = ""
        self.list_id = list_id
        self.exception = exception
        self.important = important
        # One int object per distinct type mask, shared by every filter that has it: the index
        # reads `types` of each candidate, and a mask above 256 is otherwise an object of its own.
        self.types = _TYPE_MASKS.setdefault(types, types)
        self.party = party
        self.include = include
        self.exclude = exclude
        self.has_entity = any(d.endswith(".*") for d in (include or ())) or \
            any(d.endswith(".*") for d in (exclude or ()))
        self.denyallow = denyallow
        self.match_case = match_case
        self.kind = kind
        self.src = src
        self.rx = None
        self.hit = None  # the engine caches this filter's plain Match here

    def raw(self) -> tuple:
        """The definition as a plain tuple (what the cache stores: tuples unpickle in C, so a
        cached engine loads fast and Filter objects are made only for the candidates met)."""
        return (self.text, self.list_id, self.exception, self.important, self.types, self.party,
                self.include, self.exclude, self.denyallow, self.match_case, self.kind, self.src,
                self.lit, self.pieces, self.anchors)

    def __reduce__(self):
        # Only the definition is stored; compiled regexes and cached matches are rebuilt lazily.
        return (Filter, self.raw())

    def compile(self):
        """Compile (once) and return the pattern matcher."""
        if self.rx is None:
            if self.kind == RE2_SEARCH:
                self.rx = compile_regex_filter(self.src, self.match_case)
            else:
                self.rx = re.compile(self.src)  # pattern and URL are both lowercased unless match-case
        return self.rx

    def _find(self, subject: str, pos: int) -> bool:
        """Are the pieces in `subject` in order from `pos`, with the anchors? Taking the earliest
        occurrence of each piece is always right (pieces have fixed length, so an earlier one
        never hurts the next), except for a last piece that must be followed by a separator:
        its occurrences are tried in turn."""
        pieces = self.pieces
        anchors = self.anchors
        first = 0
        if anchors & ANCHORED:
            p = pieces[0]
            if not subject.startswith(p, pos):
                return False
            pos += len(p)
            first = 1
        last = len(pieces) - 1
        for i in range(first, last):
            p = pieces[i]
            pos = subject.find(p, pos)
            if pos < 0:
                return False
            pos += len(p)
        if first > last:  # the single anchored piece is all
            end = pos
        elif anchors & END:
            p = pieces[last]
            return subject.endswith(p) and len(subject) - len(p) >= pos
        else:
            p = pieces[last]
            pos = subject.find(p, pos)
            if pos < 0:
                return False
            end = pos + len(p)
            if anchors & SEP_AFTER:
                n = len(subject)
                while end < n and subject[end] in _NOT_SEPARATORS:
                    pos = subject.find(p, pos + 1)
                    if pos < 0:
                        return False
                    end = pos + len(p)
                return True
        if anchors & END:
            return end == len(subject)
        if anchors & SEP_AFTER:
            return end == len(subject) or subject[end] not in _NOT_SEPARATORS
        return True

    def test(self, lurl: str, url: str, host: str, host_end: int, page_host: str, tbit: int,
             third: bool) -> bool:
        """Does this filter apply to the request? Cheapest checks first."""
        return (self.context_ok(page_host, tbit, third)
                and self.url_ok(lurl, url, host, host_end))

    def context_ok(self, page_host: str, tbit: int, third: bool) -> bool:
        """The options that depend only on the request's context (type, party, page domain):
        the index tests them once per context and memoises the candidates that pass (see
        Index.host_candidates_in), so a request pays only for url_ok."""
        if not self.types & tbit:
            return False
        party = self.party
        if party and (party == 1) != third:
            return False
        if (self.include is not None or self.exclude is not None) and not domain_allows(
                self.include, self.exclude, self.has_entity, page_host):
            return False
        return True

    def url_ok(self, lurl: str, url: str, host: str, host_end: int) -> bool:
        """The rest of test(): the URL pattern, then `denyallow=` (on the request's host)."""
        kind = self.kind
        if kind >= FIND_FROM_START:
            if not self._find(lurl, host_end if kind == FIND_AFTER_HOST else 0):
                return False
        elif kind:
            pieces = self.pieces
            if pieces is not None:
                pos = host_end if kind == RE_AFTER_HOST else 0
                for piece in pieces:
                    pos = lurl.find(piece, pos)
                    if pos < 0:
                        return False
                    pos += len(piece)
            rx = self.rx or self.compile()
            subject = url if self.match_case else lurl
            if kind == RE_FROM_START:
                if rx.match(subject) is None:
                    return False
            elif kind == RE_AFTER_HOST:
                if rx.match(subject, host_end) is None:
                    return False
            elif len(subject) > MAX_REGEX_SUBJECT or rx.search(subject) is None:
                # Bounded work per URL: a regex filter never runs over more than the cap. Cutting the
                # URL instead would let `$` match at the cut, a false block; a miss is the safer error.
                return False
        if self.denyallow is not None and in_domains(host, self.denyallow):
            return False
        return True
