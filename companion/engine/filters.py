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


class Filter:
    """One active network filter. The regex is compiled on first use: most filters are never
    candidates for the requests a person makes, and compiling all of them would slow start-up."""

    __slots__ = ("text", "list_id", "exception", "important", "types", "party", "include",
                 "exclude", "has_entity", "denyallow", "match_case", "kind", "src", "rx", "hit", "lit")

    def __init__(self, text: str, list_id: int, exception: bool, important: bool, types: int,
                 party: int, include, exclude, denyallow, match_case: bool, kind: int,
                 src: str | None, lit: str = "") -> None:
        self.text = text
        # A literal every matching URL contains (lowercased): the index tests `lit in url`
        # before calling test(), which rejects most candidates for the price of a substring search.
        self.lit = lit
        self.list_id = list_id
        self.exception = exception
        self.important = important
        self.types = types
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
                self.lit)

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

    def test(self, lurl: str, url: str, host: str, host_end: int, page_host: str, tbit: int,
             third: bool) -> bool:
        """Does this filter apply to the request? Cheapest checks first."""
        if not self.types & tbit:
            return False
        party = self.party
        if party and (party == 1) != third:
            return False
        if (self.include is not None or self.exclude is not None) and not domain_allows(
                self.include, self.exclude, self.has_entity, page_host):
            return False
        kind = self.kind
        if kind:
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
