"""The index that makes a decision cost a few dictionary lookups.

Each filter lives in exactly one place, chosen when the engine is built:

1. `plain`: `||host^` with no option at all (about 89,000 of EasyList+EasyPrivacy's filters) is
   just a hostname in a dict (host -> list id). A request looks up its hostname and each parent
   domain (a.b.example.com, b.example.com, example.com, com): four or five hash lookups decide
   most blocked requests.
2. `by_host`: other filters whose pattern starts with a complete hostname, `||host^...` or
   `||host/...`, keyed by that hostname and found the same way; what follows the hostname is
   matched from the end of the URL's hostname.
3. `by_token`: everything else that has a *safe token* (see patterns.py), keyed by the rarest one.
   The request URL is tokenised once; each token costs one dict lookup, and only the filters
   under the URL's tokens are tested, usually none or a handful.
4. `by_domain`: filters without a usable token but with `domain=` includes (typically the
   regex filters scoped to a few sites), keyed by each included page domain: they are candidates
   only on those pages.
5. `generic`: the few left; tested for every request (kept as small as possible).
"""
from __future__ import annotations

from array import array
from collections import Counter

from .filters import ALWAYS, RE2_SEARCH, RE_AFTER_HOST, RE_FROM_START, Filter
from .domains import entity_keys
from .parser import ALL_TYPES, ParsedFilter
from .patterns import (BAD_TOKENS, abp_to_regex, longest_literal, pattern_tokens, pick_token,
                       regex_literal, regex_tokens)

_CACHE_MAX = 20000  # memoised hosts / pages per index; cleared when full

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")


def _leading_host(body: str) -> str:
    """The hostname at the start of a `||` pattern when it is complete (followed by `^` or `/`)."""
    i = 0
    n = len(body)
    while i < n and body[i].lower() in _HOST_CHARS:
        i += 1
    host = body[:i].lower()
    if not host or host.startswith(".") or host.endswith(".") or ".." in host:
        return ""
    if i < n and body[i] in "^/":
        return host
    return ""


def _live(bucket) -> tuple[Filter, ...]:
    """Filter objects for a bucket that may still hold raw tuples from the cache."""
    return tuple(f if isinstance(f, Filter) else Filter(*f) for f in bucket)


def iter_raw(filters):
    """(text, list_id, exception, important) of Filter objects or raw tuples alike."""
    for f in filters:
        if isinstance(f, Filter):
            yield f.text, f.list_id, f.exception, f.important
        else:
            yield f[0], f[1], f[2], f[3]


class Index:
    """Filters of one role (block, exception or important block), placed as described above."""

    __slots__ = ("plain", "by_host", "by_token", "by_domain", "generic", "entity_domains",
                 "filters", "_host_cache", "_page_cache")

    def __init__(self) -> None:
        self.plain: dict[str, int] = {}
        self.by_host: dict[str, tuple[Filter, ...]] = {}
        self.by_token: dict[str, tuple[Filter, ...]] = {}
        self.by_domain: dict[str, tuple[Filter, ...]] = {}
        self.generic: tuple[Filter, ...] = ()
        self.entity_domains = False
        self.filters: tuple[Filter, ...] = ()  # every non-plain filter, in list order
        self._host_cache: dict = {}
        self._page_cache: dict = {}

    def __getstate__(self):
        # Filters are stored as raw tuples (shared, so each is written once) and turned back into
        # Filter objects bucket by bucket when a request first needs them (see _live).
        memo: dict[int, tuple] = {}

        def raw(fs):
            out = []
            for f in fs:
                r = memo.get(id(f))
                if r is None:
                    r = memo[id(f)] = f.raw() if isinstance(f, Filter) else f
                out.append(r)
            return tuple(out)

        # The ~90,000 plain hostnames travel as one string and one array of list ids: splitting a
        # string and zipping it into a dict runs in C, unpickling 90,000 small strings does not.
        plain = ("\n".join(self.plain), array("H", self.plain.values()).tobytes())
        return (plain, {k: raw(v) for k, v in self.by_host.items()},
                {k: raw(v) for k, v in self.by_token.items()},
                {k: raw(v) for k, v in self.by_domain.items()}, raw(self.generic),
                self.entity_domains, raw(self.filters))

    def __setstate__(self, state) -> None:
        (plain, self.by_host, self.by_token, self.by_domain, generic,
         self.entity_domains, self.filters) = state
        hosts, ids = plain
        self.plain = dict(zip(hosts.split("\n"), array("H", ids))) if hosts else {}
        self.generic = _live(generic)
        self._host_cache = {}
        self._page_cache = {}

    def __len__(self) -> int:
        return len(self.plain) + len(self.filters)

    def host_candidates(self, host: str):
        """What the hostname parts of the index hold for `host`: the str hostname of a `plain`
        filter that applies (host or a parent), else the tuple of `by_host` filters of the host
        and its parents. Memoised: a browsing session meets the same few hundred hosts."""
        cache = self._host_cache
        hit = cache.get(host)
        if hit is not None:
            return hit
        plain = self.plain
        by_host = self.by_host
        found: list[Filter] = []
        h = host
        while True:
            if h in plain:
                found = h  # type: ignore[assignment]
                break
            bucket = by_host.get(h)
            if bucket is not None:
                if bucket and type(bucket[0]) is tuple:
                    bucket = by_host[h] = _live(bucket)
                found.extend(bucket)
            i = h.find(".")
            if i < 0:
                break
            h = h[i + 1:]
        res = found if type(found) is str else tuple(found)
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[host] = res
        return res

    def page_candidates(self, page_host: str) -> tuple[Filter, ...]:
        """The `by_domain` filters that name `page_host`, a parent of it or its entity (memoised)."""
        cache = self._page_cache
        hit = cache.get(page_host)
        if hit is not None:
            return hit
        by_domain = self.by_domain
        found: list[Filter] = []
        if page_host and by_domain:
            h = page_host
            while True:
                bucket = by_domain.get(h)
                if bucket:
                    if type(bucket[0]) is tuple:
                        bucket = by_domain[h] = _live(bucket)
                    found.extend(bucket)
                i = h.find(".")
                if i < 0:
                    break
                h = h[i + 1:]
            if self.entity_domains:
                for key in entity_keys(page_host):
                    bucket = by_domain.get(key)
                    if bucket:
                        if type(bucket[0]) is tuple:
                            bucket = by_domain[key] = _live(bucket)
                        found.extend(bucket)
        res = tuple(dict.fromkeys(found))  # a filter may name two parents of the same page
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[page_host] = res
        return res

    def find(self, lurl: str, url: str, host: str, host_end: int, page_host: str, tbit: int,
             third: bool, tokens: list[str]):
        """First filter that applies to the request: a Filter, a str hostname for a `plain` hit,
        or None. The cheap `lit in lurl` test runs before the full test of each candidate."""
        cands = self._host_cache.get(host)
        if cands is None:
            cands = self.host_candidates(host)
        if type(cands) is str:
            return cands
        for f in cands:
            if f.lit in lurl and f.test(lurl, url, host, host_end, page_host, tbit, third):
                return f
        by_token = self.by_token
        # One C-level set intersection instead of a dict lookup per URL token in Python.
        for tok in by_token.keys() & tokens:
            bucket = by_token[tok]
            if type(bucket[0]) is tuple:  # first use since loaded from the cache
                bucket = by_token[tok] = _live(bucket)
            for f in bucket:
                if f.lit in lurl and f.test(lurl, url, host, host_end, page_host, tbit, third):
                    return f
        if page_host:
            cands = self._page_cache.get(page_host)
            if cands is None:
                cands = self.page_candidates(page_host)
            for f in cands:
                if f.lit in lurl and f.test(lurl, url, host, host_end, page_host, tbit, third):
                    return f
        for f in self.generic:
            if f.lit in lurl and f.test(lurl, url, host, host_end, page_host, tbit, third):
                return f
        return None


class IndexBuilder:
    """Collects filters, then places them (token choice needs the counts over all filters)."""

    def __init__(self) -> None:
        self.index = Index()
        self._pending: list[tuple[Filter, list[str]]] = []
        self._by_host: dict[str, list[Filter]] = {}
        self._all: list[Filter] = []

    def add(self, pf: ParsedFilter, list_id: int) -> None:
        """Place one parsed filter (regex filters must have been checked by the caller)."""
        text = pf.text
        if pf.is_regex:
            f = self._make(pf, list_id, RE2_SEARCH, pf.body)
            f.lit = regex_literal(pf.body)
            self._pending.append((f, regex_tokens(pf.body)))
            return
        host = _leading_host(pf.body) if pf.host_anchor else ""
        if host:
            rest = pf.body[len(host):]
            if rest == "^" and not pf.end_anchor:
                plain_text = ("@@||" if pf.exception else "||") + host + "^"
                if (text == plain_text and pf.types == ALL_TYPES and not pf.party
                        and pf.include is None and pf.exclude is None and pf.denyallow is None
                        and not pf.important):
                    self.index.plain.setdefault(host, list_id)
                    return
                f = self._make(pf, list_id, ALWAYS, None)
            else:
                src = abp_to_regex(rest, False, False, pf.end_anchor, rest_of_host=True)
                f = self._make(pf, list_id, RE_AFTER_HOST if src else ALWAYS, src, rest)
            self._by_host.setdefault(host, []).append(f)
            return
        src = abp_to_regex(pf.body, pf.host_anchor, pf.start_anchor, pf.end_anchor)
        f = self._make(pf, list_id, RE_FROM_START if src else ALWAYS, src, pf.body)
        self._pending.append((f, pattern_tokens(pf.body, pf.host_anchor, pf.start_anchor,
                                                pf.end_anchor)))

    def _make(self, pf: ParsedFilter, list_id: int, kind: int, src: str | None,
              lit_from: str = "") -> Filter:
        f = Filter(pf.text, list_id, pf.exception, pf.important, pf.types, pf.party, pf.include,
                   pf.exclude, pf.denyallow, pf.match_case, kind, src, longest_literal(lit_from))
        self._all.append(f)
        return f

    def build(self) -> Index:
        """Choose each pending filter's token and freeze the buckets into tuples."""
        idx = self.index
        counts: Counter[str] = Counter()
        for _, toks in self._pending:
            counts.update(set(toks))
        by_token: dict[str, list[Filter]] = {}
        by_domain: dict[str, list[Filter]] = {}
        generic: list[Filter] = []
        for f, toks in self._pending:
            tok = pick_token(toks, counts)
            if f.include is not None and (tok is None or tok in BAD_TOKENS):
                # Scoped to a few sites and no distinctive token: a candidate on those sites only.
                tok = None
            if tok is not None:
                by_token.setdefault(tok, []).append(f)
            elif f.include is not None:
                for d in f.include:
                    by_domain.setdefault(d, []).append(f)
                    if d.endswith(".*"):
                        idx.entity_domains = True
            else:
                generic.append(f)
        idx.by_host = {h: tuple(fs) for h, fs in self._by_host.items()}
        idx.by_token = {t: tuple(fs) for t, fs in by_token.items()}
        idx.by_domain = {d: tuple(fs) for d, fs in by_domain.items()}
        idx.generic = tuple(generic)
        idx.filters = tuple(self._all)
        return idx
