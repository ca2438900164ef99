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
   The request URL is tokenised once and intersected with the keys in one C-level set operation;
   only the filters under the URL's tokens are tested, usually none or a handful. A long URL's
   tokens are intersected with `needed` (the keys plus every other token a bucketed filter
   needs), which also tells which candidates lack a token without scanning the URL; its path is
   looked up before its query. A short URL's tokens are intersected with `short`: the same
   buckets, but a popular token's (analytics, stats, event: 30-47 filters each) keyed by the
   characters around the token in each filter's literal (TokenSplit), so that a request reads the
   few whose literal can sit where the URL has the token. An index with few token filters
   (EasyList's exceptions) is not tokenised: its token filters join the page-level list of part 4.
4. `by_domain`: filters without a usable token but with `domain=` includes (typically the
   regex filters scoped to a few sites), keyed by each included page domain: they are candidates
   only on those pages.
5. `generic`: the few left; tested for every request (kept as small as possible; 8 today).

What the hostname parts and `by_domain` hold for a given request host / page host is memoised
(a browsing session meets the same few hundred hosts), so parts 1, 2 and 4 cost one dict lookup
per request after the first. A host's part-2 candidates are narrowed per context (host, page,
type) to those whose options apply there, and the page-level list (parts 4 and 5) per page to
those whose `domain=` lets them: a long URL is not scanned for filters that could not apply.
Each candidate is first screened with `lit in url` (the longest literal of its pattern, a plain
substring search) before its options and regex are tested.
Token choice: among a filter's safe tokens, common URL words (patterns.BAD_TOKENS) come last,
then the token the fewest filters share, then the longest.

Cache layout: see Index.__getstate__ (texts and integer arrays; Filter objects rebuilt lazily).

Why one module of over 400 lines: the five parts above, their build, the lookup that walks them in this
order and the cache layout must change together (a filter placed in one part must be found by that part's
lookup and survive the cache); split apart, a newcomer would have to read them side by side anyway. What
is about one filter's pattern alone (its form: plain host, find chain, regex) is in :mod:`.compiling`.
"""
from __future__ import annotations

from array import array
from collections import Counter

from .compiling import compile_filter, filter_from_text, set_tokens
from .domains import domain_allows, entity_keys
from .filters import Filter
from .parser import ParsedFilter
from .patterns import BAD_TOKENS, pick_token, url_tokens

_CACHE_MAX = 20000  # memoised hosts / pages per index; cleared when full
_LONG_URL = 300     # from this length, Index.find_rest checks candidates' tokens before scanning
_SPLIT_HOST = 8     # a context with this many host candidates keys them by head (HostSplit)
_HEAD_KEY = 4       # ... by this many characters of it
_SPLIT_TOKEN = 6    # a token bucket this big is keyed by the characters around the token (TokenSplit)
_MAX_PLACES = 8     # ... unless a URL has the token in more contexts than this (then: all of it)
_SMALL_TOKENS = 64  # at most this many token-indexed filters: no tokens (Index.small_token_filters)



class HostSplit:
    """A popular host's candidates (google.com has 21 path filters for images) keyed by the first
    _HEAD_KEY characters of what must follow the hostname (Filter.head): a request reads the
    few whose head can match its path, not all of them. Heads shorter than that are tried first
    for every request. (Which of two matching filters is reported may change; the decision not.)"""

    __slots__ = ("short", "by_head")

    def __init__(self, filters: tuple[Filter, ...]) -> None:
        self.short = tuple(f for f in filters if len(f.head) < _HEAD_KEY)
        by_head: dict[str, list[Filter]] = {}
        for f in filters:
            if len(f.head) >= _HEAD_KEY:
                by_head.setdefault(f.head[:_HEAD_KEY], []).append(f)
        self.by_head = {k: tuple(v) for k, v in by_head.items()}

    def at(self, lurl: str, host_end: int) -> tuple[Filter, ...]:
        """The candidates for a URL whose hostname ends at `host_end`."""
        keyed = self.by_head.get(lurl[host_end:host_end + _HEAD_KEY])
        return self.short + keyed if keyed else self.short


class TokenSplit:
    """A popular token's bucket (analytics: 47 filters, stats: 40, event: 36) keyed by the
    characters around the token in each filter's literal (Filter.lit): `/analytics/event` holds
    `analytics` between `/` and `/`, so it can match only where the URL has `/analytics/`. A
    request finds the token's few places in the URL (str.find) and reads only the filters keyed
    by what surrounds it there, plus those whose literal does not hold the token between two
    characters (`any`: 21 of 1,026 in EasyList + EasyPrivacy). Over the corpus the filters a short
    URL visits go from 60 to 27 at the 99th percentile; each one visited is cold memory in the
    middle of a browsing session. (Which of two matching filters is reported may change, as with
    HostSplit; the decision not.)"""

    __slots__ = ("tok", "all", "any", "by_side")

    def __init__(self, tok: str, filters: tuple[Filter, ...]) -> None:
        self.tok = tok
        self.all = filters
        n = len(tok)
        any_: list[Filter] = []
        by_side: dict[str, list[Filter]] = {}
        for f in filters:
            lit = f.lit
            k = lit.find(tok)
            if 0 < k and k + n < len(lit):  # key: the token and the character on each side
                by_side.setdefault(lit[k - 1:k + n + 1], []).append(f)
            else:
                any_.append(f)
        self.any = tuple(any_)
        self.by_side = {k: tuple(v) for k, v in by_side.items()}

    def at(self, lurl: str) -> tuple[Filter, ...]:
        """The candidates for `lurl` (which holds the token: it was found among its tokens)."""
        tok = self.tok
        n = len(tok) + 1
        get = self.by_side.get
        p = lurl.find(tok)
        nxt = lurl.find(tok, p + 1)
        if nxt < 0:  # the usual case: the token is in the URL once
            part = get(lurl[p - 1:p + n]) if p > 0 else None
            return self.any if part is None else self.any + part
        keys = set()
        while p >= 0:
            if len(keys) == _MAX_PLACES:  # a token all over the URL: the whole bucket
                return self.all
            if p > 0:
                keys.add(lurl[p - 1:p + n])
            p = lurl.find(tok, p + 1)
        out = self.any
        for key in keys:
            part = get(key)
            if part is not None:
                out = out + part
        return out


def _short_form(tok: bytes, bucket: tuple[Filter, ...]):
    """What Index.short holds for a bucket: the tuple, or a TokenSplit of a popular one."""
    return TokenSplit(tok.decode("ascii"), bucket) if len(bucket) >= _SPLIT_TOKEN else bucket


def _applying(filters, page_host: str, tbit: int, third: bool) -> tuple[Filter, ...]:
    """The filters whose context options let them apply (Filter.context_ok), the cheap bit tests
    inline: a page meets a new context (host, type) every other request or so at first."""
    party = 1 if third else 2
    return tuple(f for f in filters
                 if f.types & tbit and (not f.party or f.party == party)
                 and ((f.include is None and f.exclude is None)
                      or f.context_ok(page_host, tbit, third)))


def _pack(buckets: dict, ids: dict[int, int]) -> tuple[str, bytes, bytes]:
    """dict key -> tuple of filters, as (keys joined by \n, offsets, filter numbers)."""
    offsets, flat = array("I", [0]), array("I")
    for fs in buckets.values():
        flat.extend(ids[id(f)] for f in fs)
        offsets.append(len(flat))
    keys = [k.decode("ascii") if isinstance(k, bytes) else k for k in buckets]
    return "\n".join(keys), offsets.tobytes(), flat.tobytes()


def _unpack(packed, byte_keys: bool = False) -> tuple[dict, array, array]:
    keys, offsets, flat = packed
    if not keys:
        return {}, array("I", offsets), array("I", flat)
    parts = keys.encode("ascii").split(b"\n") if byte_keys else keys.split("\n")
    return dict(zip(parts, range(len(offsets) // 4 - 1))), array("I", offsets), array("I", flat)


class Index:
    """Filters of one role (block, exception or important block), placed as described above."""

    __slots__ = ("plain", "by_host", "by_token", "by_domain", "generic", "entity_domains",
                 "filters", "_host_cache", "_page_cache", "_ctx_cache", "_rest_cache", "_small",
                 "needed", "short", "_packed", "_texts", "_list_ids", "_flags", "_made", "_csr")

    def __init__(self) -> None:
        self.plain: dict[str, int] = {}
        self.by_host: dict[str, tuple[Filter, ...]] = {}
        self.by_token: dict[bytes, tuple[Filter, ...]] = {}
        # by_token plus every other token a bucketed filter needs (Filter.toks), with an empty
        # bucket: a long URL's tokens are intersected with it, which gives in one C-level
        # operation both the buckets to walk and the needed tokens the URL has, for the
        # candidates' subset test (Index.find_rest). A short URL uses `short` (by_token's buckets):
        # it has no empty buckets to walk (half the keys a request's tokens hit were such: www,
        # https, com).
        self.needed: dict[bytes, tuple[Filter, ...]] = {}
        # by_token for short URLs: the same buckets, a popular token's as a TokenSplit.
        self.short: dict[bytes, tuple[Filter, ...] | TokenSplit] = {}
        self.by_domain: dict[str, tuple[Filter, ...]] = {}
        self.generic: tuple[Filter, ...] = ()
        self.entity_domains = False
        self.filters: tuple[Filter, ...] = ()  # every non-plain filter, in list order
        self._host_cache: dict = {}
        self._page_cache: dict = {}
        self._ctx_cache: dict = {}
        self._rest_cache: dict = {}
        self._small: tuple[Filter, ...] | None = None  # see small_token_filters
        self._packed = None  # the cache state this index was loaded from, if any

    def __getstate__(self):
        # A compact layout that unpickles in a few milliseconds: plain hostnames as one string and
        # an array of list ids; every other filter as its text (one string for all) plus list id
        # and flags; each bucket dict as its keys (one string) and arrays of filter numbers. Filter
        # objects are rebuilt from their text only when a request first needs their bucket.
        if self._packed is not None:
            return self._packed
        ids = {id(f): i for i, f in enumerate(self.filters)}
        plain = ("\n".join(self.plain), array("H", self.plain.values()).tobytes())
        texts = "\n".join(f.text for f in self.filters)
        list_ids = array("H", (f.list_id for f in self.filters)).tobytes()
        flags = bytes(f.important for f in self.filters)
        by_token = dict(self.by_token)
        for t in self.needed:  # the tokens needed but keying no filter: empty buckets
            by_token.setdefault(t, ())
        return (plain, texts, list_ids, flags, _pack(self.by_host, ids), _pack(by_token, ids),
                _pack(self.by_domain, ids), array("I", (ids[id(f)] for f in self.generic)).tobytes(),
                self.entity_domains)

    def __setstate__(self, state) -> None:
        self._packed = state
        (plain, texts, list_ids, flags, by_host, by_token, by_domain, generic,
         self.entity_domains) = state
        hosts, ids = plain
        self.plain = dict(zip(hosts.split("\n"), array("H", ids))) if hosts else {}
        self._texts = texts.split("\n") if texts else []
        self._list_ids = array("H", list_ids)
        self._flags = flags
        self._made: dict[int, Filter] = {}
        self.by_host, ho, hf = _unpack(by_host)
        self.by_token, to, tf = _unpack(by_token, byte_keys=True)
        self.needed = dict(self.by_token)
        for t in [t for t, b in self.by_token.items() if to[b] == to[b + 1]]:
            del self.by_token[t]  # needed, but keys no filter (see __getstate__)
            self.needed[t] = ()
        self.short = dict(self.by_token)  # bucket numbers until first used (_short_bucket)
        self.by_domain, do, df = _unpack(by_domain)
        self._csr = {id(self.by_host): (ho, hf), id(self.by_token): (to, tf),
                     id(self.by_domain): (do, df)}
        self.generic = tuple(self._made_filter(i) for i in array("I", generic))
        self.filters = ()
        self._host_cache = {}
        self._page_cache = {}
        self._ctx_cache = {}
        self._rest_cache = {}
        self._small = None

    def _made_filter(self, i: int) -> Filter:
        f = self._made.get(i)
        if f is None:
            f = self._made[i] = filter_from_text(self._texts[i], self._list_ids[i])
        return f

    def _bucket(self, d: dict, key: str) -> tuple[Filter, ...]:
        """Materialise a bucket of a cache-loaded index (its value is still a bucket number)."""
        offsets, flat = self._csr[id(d)]
        b = d[key]
        fs = d[key] = tuple(self._made_filter(i) for i in flat[offsets[b]:offsets[b + 1]])
        return fs

    def _needed_bucket(self, tok: bytes) -> tuple[Filter, ...]:
        """Materialise a bucket of `needed` (shared with by_token, which may have done it)."""
        bucket = self.by_token[tok]
        if type(bucket) is int:
            bucket = self._bucket(self.by_token, tok)
        self.needed[tok] = bucket
        return bucket

    def _short_bucket(self, tok: bytes):
        """Materialise a bucket of `short` (shared with by_token, which may have done it)."""
        bucket = self.by_token[tok]
        if type(bucket) is int:
            bucket = self._bucket(self.by_token, tok)
        form = self.short[tok] = _short_form(tok, bucket)
        return form

    def iter_filters(self):
        """(text, list_id, important) of every non-plain filter, in list order."""
        if self._packed is None:
            for f in self.filters:
                yield f.text, f.list_id, f.important
        else:
            for text, list_id, flag in zip(self._texts, self._list_ids, self._flags):
                yield text, list_id, bool(flag)

    def sizes(self) -> dict[str, int]:
        """How many filters each part of the index holds."""
        def count(d: dict) -> int:
            if self._packed is None or not d:
                return sum(len(v) if type(v) is not int else 0 for v in d.values())
            offsets, _ = self._csr[id(d)]
            return offsets[-1]
        return {"plain_hosts": len(self.plain), "by_host": count(self.by_host),
                "by_token": count(self.by_token), "by_domain_keys": len(self.by_domain),
                "generic": len(self.generic)}

    def nonplain_count(self) -> int:
        return len(self.filters) if self._packed is None else len(self._texts)

    def __len__(self) -> int:
        return len(self.plain) + self.nonplain_count()

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
                if type(bucket) is int:
                    bucket = self._bucket(by_host, h)
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
                if bucket is not None:
                    if type(bucket) is int:
                        bucket = self._bucket(by_domain, h)
                    found.extend(bucket)
                i = h.find(".")
                if i < 0:
                    break
                h = h[i + 1:]
            if self.entity_domains:
                for key in entity_keys(page_host):
                    bucket = by_domain.get(key)
                    if bucket is not None:
                        if type(bucket) is int:
                            bucket = self._bucket(by_domain, key)
                        found.extend(bucket)
        res = tuple(dict.fromkeys(found))  # a filter may name two parents of the same page
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[page_host] = res
        return res

    def host_candidates_in(self, key: tuple[str, str, int], third: bool):
        """The host_candidates(host) tuple narrowed to the filters whose context options (type,
        party, page domain: Filter.context_ok) let them apply in the context `key` = (host, page
        host, type bit); `third` follows from the first two. Memoised per context: a page asks
        the same few hosts for the same types again and again, and most candidates of a popular
        host (doubleclick.net's 21 exceptions, google's path filters) are for other types or
        other sites. What is left needs only Filter.url_ok, and a long URL is no longer scanned
        for filters that could not apply. Only for hosts that have candidates: most have none.
        A tuple, or a HostSplit when there are many (`.at(lurl, host_end)` gives the tuple)."""
        host, page_host, tbit = key
        cands = self._host_cache.get(host)
        if cands is None:
            cands = self.host_candidates(host)
        res = _applying(cands, page_host, tbit, third)
        if len(res) >= _SPLIT_HOST:
            res = HostSplit(res)  # type: ignore[assignment]
        cache = self._ctx_cache
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[key] = res
        return res

    def small_token_filters(self) -> tuple[Filter, ...]:
        """Every token-indexed filter, in bucket order, when there are at most _SMALL_TOKENS of
        them (EasyList's exceptions: 14), else (). A small index is not worth tokenising the URL
        for: its token filters are narrowed per context with the page and generic ones instead
        (rest_candidates), which leaves none for most requests."""
        small = self._small
        if small is None:
            by_token = self.by_token
            small = []
            if self.sizes()["by_token"] <= _SMALL_TOKENS:
                for tok in list(by_token):
                    bucket = by_token[tok]
                    if type(bucket) is int:
                        bucket = self._bucket(by_token, tok)
                    small.extend(bucket)
            small = self._small = tuple(small)
        return small

    def rest_candidates(self, page_host: str) -> tuple[Filter, ...]:
        """The filters find_rest tries besides the token buckets on a page of `page_host`, narrowed
        to those whose `domain=` option lets them apply there (the costly part of their options,
        tested once per page): all the token-indexed ones of a small index
        (small_token_filters), then the `by_domain` filters naming the page, then the generic
        ones, in that order. Memoised per page; find_rest tests their type and party bits."""
        found = list(self.small_token_filters())
        if page_host:
            cands = self._page_cache.get(page_host)
            if cands is None:
                cands = self.page_candidates(page_host)
            found.extend(cands)
        found.extend(self.generic)
        res = tuple(f for f in found if (f.include is None and f.exclude is None)
                    or domain_allows(f.include, f.exclude, f.has_entity, page_host))
        cache = self._rest_cache
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[page_host] = res
        return res

    def find_by_host(self, lurl: str, url: str, host: str, host_end: int, page_host: str,
                     tbit: int, third: bool):
        """First filter found through the request's hostname: a Filter, the str hostname of a
        `plain` hit, or None. Cheap: one memoised dict lookup, then the candidates' `lit` test."""
        cands = self._host_cache.get(host)
        if cands is None:
            cands = self.host_candidates(host)
        if type(cands) is str:
            return cands
        if not cands:
            return None
        key = (host, page_host, tbit)
        cands = self._ctx_cache.get(key)
        if cands is None:
            cands = self.host_candidates_in(key, third)
        if type(cands) is not tuple:
            cands = cands.at(lurl, host_end)
        for f in cands:  # see Filter.head
            if (lurl.startswith(f.head, host_end) and f.lit in lurl
                    and f.url_ok(lurl, url, host, host_end)):
                return f
        return None

    def find_rest(self, lurl: str, url: str, host: str, host_end: int, page_host: str, tbit: int,
                  third: bool, tokens: list[bytes] | None):
        """First filter found through the URL's tokens, the page's domain, or the generic list.
        A small index (small_token_filters) ignores `tokens`; a big one given None tokenises the
        URL itself (a long one in two passes: path, then query)."""
        small = self._small
        if small is None:
            small = self.small_token_filters()
        if not small and self.by_token:
            long = len(lurl) > _LONG_URL
            # A long URL's tokens are looked up in `needed` (see __init__), a short one's in
            # `short`: one C-level set intersection instead of a dict lookup per token.
            by_token = self.needed if long else self.short
            keys = by_token.keys()
            head = None
            if tokens is None:
                q = lurl.find("?") if long else -1
                if q > 0:
                    # A long URL is mostly query string. Its path's tokens go first: a filter
                    # that blocks it is usually found there (/pagead/1p-user-list/,
                    # /i/adsct), which saves cutting up and looking up kilobytes of query. A
                    # filter that needs a token of the query too waits for the second pass.
                    # (`?` is no token character: no token spans the cut.)
                    head = keys & url_tokens(lurl[:q])
                    deferred = []
                    for tok in head:
                        bucket = by_token[tok]
                        if type(bucket) is int:
                            bucket = self._needed_bucket(tok)
                        for f in bucket:
                            if not f.types & tbit:
                                continue
                            need = f.toks
                            if need is not None and not need <= head:
                                deferred.append(f)  # decided in the second pass
                                continue
                            if f.lit in lurl and f.test(lurl, url, host, host_end, page_host,
                                                        tbit, third):
                                return f
                    tokens = url_tokens(lurl[q:])
                else:
                    tokens = url_tokens(lurl)
            found = keys & tokens
            if head is not None:
                # Second pass: the query's own buckets, and the path's deferred filters (the
                # path's buckets are not walked again: each filter visited is memory touched,
                # and in the middle of a browsing session that memory is cold).
                found |= head
                for f in deferred:
                    if f.toks <= found and f.lit in lurl and f.test(  # type: ignore[operator]
                            lurl, url, host, host_end, page_host, tbit, third):
                        return f
                walk = found - head
            else:
                walk = found
            for tok in walk:
                bucket = by_token[tok]
                if type(bucket) is not tuple:
                    if type(bucket) is int:  # first use since loaded from the cache
                        bucket = self._needed_bucket(tok) if long else self._short_bucket(tok)
                    if type(bucket) is TokenSplit:
                        bucket = bucket.at(lurl)
                for f in bucket:
                    if not f.types & tbit:  # an attribute test, before any scan of the URL
                        continue
                    if long:  # on a short URL the scan costs less than reading the token set
                        need = f.toks
                        if need is not None and not need <= found:
                            continue
                    if f.lit in lurl and f.test(lurl, url, host, host_end, page_host, tbit, third):
                        return f
        rest = self._rest_cache.get(page_host)
        if rest is None:
            rest = self.rest_candidates(page_host)
        party = 1 if third else 2
        for f in rest:
            if (f.types & tbit and (not f.party or f.party == party) and f.lit in lurl
                    and f.url_ok(lurl, url, host, host_end)):
                return f
        return None

    def find(self, lurl: str, url: str, host: str, host_end: int, page_host: str, tbit: int,
             third: bool, tokens: list[bytes] | None):
        """First filter that applies to the request (a Filter, a str plain hostname, or None)."""
        found = self.find_by_host(lurl, url, host, host_end, page_host, tbit, third)
        if found is None:
            found = self.find_rest(lurl, url, host, host_end, page_host, tbit, third, tokens)
        return found


class IndexBuilder:
    """Collects filters, then places them (token choice needs the counts over all filters)."""

    def __init__(self) -> None:
        self.index = Index()
        self._pending: list[tuple[Filter, list[str]]] = []
        self._by_host: dict[str, list[Filter]] = {}
        self._all: list[Filter] = []

    def add(self, pf: ParsedFilter, list_id: int) -> None:
        """Place one parsed filter (regex filters must have been checked by the caller)."""
        where, host, f, tokens = compile_filter(pf, list_id)
        if where == "plain":
            self.index.plain.setdefault(host, list_id)
            return
        self._all.append(f)
        if where == "host":
            self._by_host.setdefault(host, []).append(f)
        else:
            self._pending.append((f, tokens))

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
            set_tokens(f, toks)
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
        # Keys as bytes: requests are tokenised with bytes.translate (patterns.url_tokens).
        idx.by_token = {t.encode("ascii"): tuple(fs) for t, fs in by_token.items()}
        idx.short = {t: _short_form(t, fs) for t, fs in idx.by_token.items()}
        idx.needed = dict(idx.by_token)
        for fs in idx.by_token.values():
            for f in fs:
                for t in f.toks or ():
                    idx.needed.setdefault(t, ())
        idx.by_domain = {d: tuple(fs) for d, fs in by_domain.items()}
        idx.generic = tuple(generic)
        idx.filters = tuple(self._all)
        return idx
