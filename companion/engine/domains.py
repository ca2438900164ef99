"""Hostnames: cut them out of URLs, find their registrable domain, test `domain=` options.

Third-party means the sites (registrable domains) of the request and of the page differ; what a
site is, and why, is decided once in :mod:`companion.sites` (private suffixes such as github.io
count, as in browsers and adblock-rust). This module only adds what filters need on top.
"""
from __future__ import annotations

import re

from ..sites import parent_domains, split_host

# scheme://[userinfo@]host  -> group 1 is the hostname (or [ipv6]); its end is where the port or
# path starts, which is where the rest of a `||host^...` pattern is matched.
AUTHORITY_RE = re.compile(r"[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^/?#:]*)")


# page hostname -> its parent domains, longest first: every `domain=` test of every filter walks
# them, and a page makes many requests (bounded by clearing).
_PARENTS: dict[str, tuple[str, ...]] = {}
_MAX_PARENTS = 20000


def _parents(host: str) -> tuple[str, ...]:
    found = _PARENTS.get(host)
    if found is None:
        if len(_PARENTS) > _MAX_PARENTS:
            _PARENTS.clear()
        found = _PARENTS[host] = tuple(parent_domains(host))
    return found


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
    parents = _PARENTS.get(page_host) or _parents(page_host)
    if not has_entity:  # one C-level set test when only one kind of domain is listed
        if exclude is None:
            return include is None or not include.isdisjoint(parents)
        if include is None:
            return exclude.isdisjoint(parents)
    for h in parents:
        if exclude is not None and h in exclude:
            return False
        if include is not None and h in include:
            return True
    if has_entity:
        for key in entity_keys(page_host):
            if exclude is not None and key in exclude:
                return False
            if include is not None and key in include:
                return True
    return include is None


def in_domains(host: str, domains: frozenset[str]) -> bool:
    """Is `host` one of `domains` or a subdomain of one?"""
    for h in parent_domains(host):
        if h in domains:
            return True
    return False
