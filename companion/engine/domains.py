"""Hostnames: cut them out of URLs, find their registrable domain, test `domain=` options.

Third-party means the registrable domains (eTLD+1, Public Suffix List) of the request and of the
page differ. The suffix list is tldextract's bundled snapshot, used offline. Results are memoised
in a bounded dict because the same few hundred hostnames recur in every browsing session.
"""
from __future__ import annotations

import re
from functools import lru_cache

import tldextract

# scheme://[userinfo@]host  -> group 1 is the hostname (or [ipv6]); its end is where the port or
# path starts, which is where the rest of a `||host^...` pattern is matched.
AUTHORITY_RE = re.compile(r"[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^/?#:]*)")

# Private suffixes (blogspot.com, cloudfront.net...) count as public suffixes, as they do in
# browsers' site definition and in adblock-rust.
INCLUDE_PRIVATE_SUFFIXES = True

_MAX_CACHE = 20000


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                 include_psl_private_domains=INCLUDE_PRIVATE_SUFFIXES)


_split_cache: dict[str, tuple[str, str]] = {}

# Plain ASCII hostnames (no punycode label) are split by a few set lookups in the suffix rules
# (about 1 us) instead of a tldextract call (about 18 us): a browsing session meets a new
# hostname every twenty requests or so, and those first meetings were a large part of the engine's
# slowest 1 %. Anything else still goes to tldextract; tests check both agree on every host of
# the corpus.
_PLAIN_HOST_RE = re.compile(r"[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*")


@lru_cache(maxsize=1)
def _suffix_rules() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """tldextract's suffix rules as sets of dotted names: the rules themselves (plain suffixes),
    every trailing part of a rule (the nodes of tldextract's trie), the x of `*.x` wildcard
    rules (`""` for a bare `*`) and the x of `!x` exceptions."""
    rules = _extractor().tlds
    nodes = set()
    for r in rules:
        labels = r.split(".")
        for i in range(len(labels)):
            nodes.add(".".join(labels[i:]))
    return (frozenset(r for r in rules if r[0] not in "*!"), frozenset(nodes),
            frozenset(r[2:] if r != "*" else "" for r in rules if r[0] == "*"),
            frozenset(r[1:] for r in rules if r[0] == "!"))


def _fast_split(h: str) -> tuple[str, str] | None:
    """split_host for a plain ASCII hostname, None for anything else (see _PLAIN_HOST_RE).

    The same walk as tldextract's trie, from the last label leftwards: go on while the labels
    so far are the end of some rule, remember the longest that is a rule; when the next label
    leads nowhere, a `*.` rule at this point takes it in the suffix (unless an `!` exception
    names it)."""
    if "xn--" in h or not _PLAIN_HOST_RE.fullmatch(h):
        return None
    plain, nodes, wild, exceptions = _suffix_rules()
    suffix_start = -1   # where the longest rule found so far starts (-1: none)
    path_start = len(h) + 1  # the trailing labels walked so far are h[path_start:]
    while path_start > 0:
        dot = h.rfind(".", 0, path_start - 1)
        cand = h[dot + 1:]
        if cand in nodes:
            if cand in plain:
                suffix_start = dot + 1
            path_start = dot + 1
            continue
        path = h[path_start:] if path_start <= len(h) else ""
        if path in wild:
            suffix_start = path_start if cand in exceptions else dot + 1
        break
    if suffix_start < 0:
        return None  # no rule at all: tldextract's own handling applies
    suffix = h[suffix_start:]
    if suffix_start == 0:  # the whole host is a public suffix
        return h, suffix
    reg = h.rfind(".", 0, suffix_start - 1)
    return h[reg + 1:], suffix


def split_host(host: str) -> tuple[str, str]:
    """(registrable domain, public suffix) of a hostname; the host itself for IPs and bare names."""
    hit = _split_cache.get(host)
    if hit is not None:
        return hit
    if len(_split_cache) > _MAX_CACHE:
        _split_cache.clear()
    h = host.strip("[]")
    if not h or h.replace(".", "").isdigit() or ":" in h:
        res = (host, "")
    elif (fast := _fast_split(h)) is not None:
        res = fast
    else:
        ext = _extractor()(h)
        if ext.domain and ext.suffix:
            res = (ext.domain + "." + ext.suffix, ext.suffix)
        elif not ext.suffix and "." in h:
            # Unknown top-level domain: the PSL's implicit `*` rule makes the last label a suffix.
            suffix = h.rsplit(".", 1)[1]
            res = (".".join(h.rsplit(".", 2)[-2:]), suffix)
        else:
            res = (host, ext.suffix)
    _split_cache[host] = res
    return res


def registrable(host: str) -> str:
    """Registrable domain (eTLD+1) of a hostname."""
    return split_host(host)[0]


def host_of(url: str) -> str:
    """Lowercased hostname of a URL, '' when there is none."""
    if not url:
        return ""
    m = AUTHORITY_RE.match(url.lower())
    return m.group(1) if m else ""


def entity_keys(page_host: str) -> list[str]:
    """`name.*` keys that `domain=name.*` entity options compare with: every parent of the page
    hostname with its public suffix cut off (www.google.co.uk -> www.google.*, google.*)."""
    suffix = split_host(page_host)[1]
    if not suffix or not page_host.endswith("." + suffix):
        return []
    base = page_host[: -len(suffix) - 1]
    keys = []
    while base:
        keys.append(base + ".*")
        i = base.find(".")
        if i < 0:
            break
        base = base[i + 1:]
    return keys


def domain_allows(include: frozenset[str] | None, exclude: frozenset[str] | None,
                  has_entity: bool, page_host: str) -> bool:
    """Does a filter's `domain=` option let it apply on a page of `page_host`?

    ABP rule: the most specific listed domain decides, so `domain=example.com|~shop.example.com`
    applies on example.com and www.example.com but not on shop.example.com, and
    `domain=~example.com|shop.example.com` applies on shop.example.com only.
    Without a page (no initiator) an include list never matches; an exclusion-only list applies.
    """
    if not page_host:
        return include is None
    h = page_host
    while True:
        if exclude is not None and h in exclude:
            return False
        if include is not None and h in include:
            return True
        i = h.find(".")
        if i < 0:
            break
        h = h[i + 1:]
    if has_entity:
        for key in entity_keys(page_host):
            if exclude is not None and key in exclude:
                return False
            if include is not None and key in include:
                return True
    return include is None


def in_domains(host: str, domains: frozenset[str]) -> bool:
    """Is `host` one of `domains` or a subdomain of one?"""
    h = host
    while True:
        if h in domains:
            return True
        i = h.find(".")
        if i < 0:
            return False
        h = h[i + 1:]
