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
