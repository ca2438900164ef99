"""Hosts and sites: the ONE rule Crumbs uses to say whether two hosts are the same site.

A site is a registrable domain (eTLD+1, e.g. ``bbc.co.uk``). A request is third-party when its
site differs from the page's. The engine's ``$third-party`` option, classification's
third-party test and the tracker database's parent-domain walk all go through this module;
the extension does not guess (it reports every request whose host differs from the page's
host and lets the companion decide).

Why this reading of the Public Suffix List: registrable domains come from tldextract's
*bundled* snapshot (Crumbs never downloads the list at run time) *including its private
section*. So ``github.io``, ``blogspot.com`` and ``cloudfront.net`` are boundaries between
sites: ``bob.github.io`` is a third party on ``alice.github.io``. That is what browsers use for
cookies, ``Sec-Fetch-Site`` and their notion of "site", and what adblock-rust uses for
``$third-party`` - so the rule Crumbs records with is the rule the browser's compiled rules
block with, and the two can never disagree about a request. (An ICANN-only reading would
merge every customer of a hosting suffix into one "site", which no browser does.)

Cases handled on purpose, each with a test:

- IP addresses (v4 and v6) are their own registrable domain: there is nothing above them.
- Single-label hosts (``localhost``, intranet names) are their own registrable domain.
- Hosts whose suffix is not in the list (``news.example``, ``a.test``) follow the PSL's
  default rule ``*``: the last label is the suffix, so the registrable domain is the last two.
- IDN hosts are compared in their ASCII (punycode) form, lower-cased, without a trailing dot,
  so ``Bücher.de`` and ``xn--bcher-kva.de`` are the same site.
- Ports never change the site: ``a.com:8080`` and ``a.com`` are one site (as the browser's
  "site" notion has it).
- Only http(s) and ws(s) URLs are requests a page makes to the network; anything else
  (``data:``, ``blob:``, ``chrome-extension:``, ``javascript:``) raises :class:`NotANetworkURL`.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
MAX_URL_LENGTH = 8192


@lru_cache(maxsize=1)
def _extractor():
    """The one extractor, made on first need. suffix_list_urls=() and cache_dir=None: use the snapshot
    shipped inside tldextract, never fetch. Private suffixes included: see the module docstring.

    Imported here, not at the top: tldextract brings requests and urllib3 (about 0.1 s of every
    start, issue 14 item 5) and only the hosts the set lookups below cannot split need it."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def __getattr__(name: str) -> Any:
    if name == "_EXTRACT":  # the extractor under its old name (tests compare with it)
        return _extractor()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The rules of the snapshot: a line's first word, when it starts with a label (optionally after
# "*." or "!"); comments and blank lines are skipped. The private section follows its marker.
_RULE_LINE = re.compile(r"^([.*!]*\w\S*)", re.MULTILINE)


def _snapshot_rules() -> list[str]:
    """Every rule (public and private) of the suffix list snapshot shipped inside tldextract, read
    from the file without importing tldextract (what ``_extractor().tlds`` holds: tests/test_start.py)."""
    spec = importlib.util.find_spec("tldextract")
    if spec is None or not spec.submodule_search_locations:
        return list(_extractor().tlds)
    snapshot = Path(next(iter(spec.submodule_search_locations))) / ".tld_set_snapshot"
    try:
        text = snapshot.read_text(encoding="utf-8")
    except OSError:  # a tldextract that ships its list elsewhere: ask it
        return list(_extractor().tlds)
    return _RULE_LINE.findall(text)


class NotANetworkURL(ValueError):
    """The URL is not one a browser fetches from the network (or is malformed)."""


@dataclass(frozen=True, slots=True)
class URLParts:
    """The parts of a request URL that classification needs."""

    url: str
    scheme: str
    host: str  # ASCII, lower case, no port, IPv6 without brackets
    domain: str  # registrable domain


@lru_cache(maxsize=65536)
def normalise_host(host: str) -> str:
    """Return ``host`` in the form Crumbs compares: lower case, ASCII (punycode), no trailing dot.

    Raises :class:`NotANetworkURL` for a host that cannot be a DNS name or IP address.
    Cached: a browsing session meets a few thousand distinct hosts, each many times.
    """
    host = host.strip().rstrip(".").lower()
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    if not host:
        raise NotANetworkURL("empty host")
    if len(host) > 253:  # whatever its kind: no DNS name is longer, and no IP address comes close
        raise NotANetworkURL("host longer than 253 characters")
    if "%" in host:
        # An IPv6 zone id ("fe80::1%eth0") names a network interface of one machine, never a site, and
        # Python's ipaddress accepts any text after the "%": refused rather than stored as a "host".
        raise NotANetworkURL("a host with a zone id (%...) is not a site")
    if bracketed or ":" in host:
        try:
            return ipaddress.IPv6Address(host).compressed  # one spelling per address
        except ValueError:
            raise NotANetworkURL(f"host [{host[:64]}] is not an IPv6 address") from None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise NotANetworkURL(f"host is not a valid internationalised name: {exc}") from None
    # Only a name of digits and dots can be an IPv4 address: ipaddress costs ~4 us (an exception) per new name.
    if not (host.replace(".", "").isdigit() and _is_ip(host)):
        for label in host.split("."):
            if not label or len(label) > 63 or not all(c.isalnum() or c in "-_" for c in label):
                raise NotANetworkURL(f"host {host!r} is not a valid DNS name")
    return host


# host -> (registrable domain, public suffix). A plain dict, public on purpose: the engine's
# per-request hot path reads it inline before calling split_host. Bounded by clearing.
SPLIT_CACHE: dict[str, tuple[str, str]] = {}
_MAX_SPLIT_CACHE = 65536


# Plain ASCII host names (no punycode label) are split by a few set lookups in the same bundled
# suffix rules (about 1 us) instead of a tldextract call (about 18 us): a browsing session meets
# a new host every twenty requests or so, and those first meetings were a large part of the
# engine's slowest 1 % (issue 14). It is the same rule, not a second one: the sets are built from
# _EXTRACT's own list, private suffixes included, and tests/test_sites.py checks that both ways
# agree on every host of the request corpus and on every rule of the list. Anything else
# (punycode, odd characters) still goes to tldextract; a TLD the list does not know takes the PSL's
# default rule right here.
_PLAIN_HOST_RE = re.compile(r"[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*")


@lru_cache(maxsize=1)
def _suffix_rules() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """_EXTRACT's suffix rules as sets of dotted names: the plain rules, every trailing part of
    a rule (the nodes of tldextract's trie), the ``x`` of each ``*.x`` wildcard rule and the
    ``x`` of each ``!x`` exception. Built once, on first use (~10 ms)."""
    rules = _snapshot_rules()  # the snapshot shipped with tldextract, private section included
    nodes: set[str] = set()
    for rule in rules:
        labels = rule.split(".")
        nodes.update(".".join(labels[i:]) for i in range(len(labels)))
    plain = frozenset(r for r in rules if r[0] not in "*!")
    wild = frozenset(r[2:] for r in rules if r.startswith("*."))
    exceptions = frozenset(r[1:] for r in rules if r[0] == "!")
    return plain, frozenset(nodes), wild, exceptions


def _split_by_sets(h: str) -> tuple[str, str] | None:
    """:func:`split_host` of a plain ASCII host name with at least one dot, by set lookups;
    None when tldextract must decide (not plain ASCII, a punycode label).

    tldextract's trie walk, done on dotted names: from the last label leftwards, go on while the
    labels so far are the end of some rule and remember the longest that is a rule; when the
    next label leads nowhere, a ``*.x`` rule for the labels so far takes it into the suffix,
    unless a ``!`` exception names it.
    """
    if "xn--" in h or not _PLAIN_HOST_RE.fullmatch(h):
        return None
    plain, nodes, wild, exceptions = _suffix_rules()
    suffix_start = -1  # where the longest rule met so far starts (-1: none yet)
    walked = len(h) + 1  # the labels walked so far are h[walked:] ("" before the first)
    while walked > 0:
        dot = h.rfind(".", 0, walked - 1)
        candidate = h[dot + 1:]
        if candidate in nodes:
            if candidate in plain:
                suffix_start = dot + 1
            walked = dot + 1
            continue
        if walked <= len(h) and h[walked:] in wild:
            suffix_start = walked if candidate in exceptions else dot + 1
        break
    if suffix_start < 0:
        # No rule at all (a TLD the list does not know, "printer.lan"): the PSL's default rule "*"
        # makes the last label the suffix, as split_host does after tldextract finds nothing. Decided
        # here, because loading tldextract for the first such host stalled a batch ~0.3 s (issue 14).
        suffix_start = h.rfind(".") + 1
    suffix = h[suffix_start:]
    if suffix_start == 0:  # the whole host is a public suffix: nothing above it
        return h, suffix
    return h[h.rfind(".", 0, suffix_start - 1) + 1:], suffix


def split_host(host: str) -> tuple[str, str]:
    """(registrable domain, public suffix) of a lower-case host name.

    IP addresses (v4, v6, bracketed or not) and single-label hosts are their own registrable
    domain with no suffix; a host that is itself a public suffix (``com.ar``) is its own
    registrable domain; an unknown TLD follows the PSL's default rule ``*`` (the last label
    is the suffix, the registrable domain is the last two labels).
    """
    hit = SPLIT_CACHE.get(host)
    if hit is not None:
        return hit
    if len(SPLIT_CACHE) > _MAX_SPLIT_CACHE:
        SPLIT_CACHE.clear()
    bare = host.strip("[]")
    # An IP address is caught by the ':' (v6) or digits-and-dots (v4) tests: ipaddress.ip_address
    # accepts nothing else, and calling it for every new host name cost ~4 us (two exceptions).
    if not bare or "." not in bare or ":" in bare or bare.replace(".", "").isdigit():
        result = (host, "")
    elif (fast := _split_by_sets(bare)) is not None:
        result = fast
    else:
        parts = _extractor()(bare)
        if parts.suffix and parts.domain:
            result = (f"{parts.domain}.{parts.suffix}", parts.suffix)
        elif parts.suffix:  # the host is itself a public suffix (e.g. "com.ar"): nothing above it
            result = (host, parts.suffix)
        else:  # unknown TLD: the PSL's default rule "*" makes the last label the suffix
            result = (".".join(bare.rsplit(".", 2)[-2:]), bare.rsplit(".", 1)[1])
    SPLIT_CACHE[host] = result
    return result


def registrable_domain(host: str) -> str:
    """The registrable domain (eTLD+1), i.e. the site, of a normalised host."""
    return split_host(host)[0]


def parent_domains(host: str):
    """``a.b.example.com`` -> ``a.b.example.com``, ``b.example.com``, ``example.com``, ``com``.

    The parent-domain walk (longest first), used by the tracker database and the engine's
    ``domain=`` tests: a name listed for a domain also covers its subdomains.
    """
    while host:
        yield host
        dot = host.find(".")
        if dot < 0:
            return
        host = host[dot + 1:]


def parse_url(url: str) -> URLParts:
    """Split a request URL into scheme, normalised host and registrable domain.

    Raises :class:`NotANetworkURL` with a reason a person can read when the URL is not
    an http(s)/ws(s) URL with a host, or is longer than :data:`MAX_URL_LENGTH`.
    """
    if not isinstance(url, str) or not url:
        raise NotANetworkURL("URL must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise NotANetworkURL(f"URL longer than {MAX_URL_LENGTH} characters")
    scheme, raw_host = _split_fast(url)
    if raw_host is None:  # anything unusual (user info, IPv6, odd ports) takes the careful road
        try:
            split = urlsplit(url.strip())
            scheme = split.scheme.lower()
            raw_host = split.hostname
            if raw_host and "[" in split.netloc:  # urllib drops the brackets; an IP literal must stay one
                raw_host = f"[{raw_host}]"
            split.port  # raises ValueError on a port that is not a number in range
        except ValueError as exc:
            raise NotANetworkURL(f"malformed URL: {exc}") from None
    if scheme not in NETWORK_SCHEMES:
        raise NotANetworkURL(f"scheme {scheme or '(none)'!r} is not a network request (http, https, ws, wss)")
    if not raw_host:
        raise NotANetworkURL("URL has no host")
    host = normalise_host(raw_host)
    return URLParts(url=url, scheme=scheme, host=host, domain=registrable_domain(host))


# "scheme://authority" -> (host, registrable domain), for URLs whose host _split_fast reads: parse_url's
# answer then depends on those characters alone. A page's requests share a few dozen authorities.
_HOSTS_BY_AUTHORITY: dict[str, tuple[str, str]] = {}
_MAX_HOSTS_BY_AUTHORITY = 65536


def host_and_domain(url: str) -> tuple[str, str]:
    """``parse_url(url)``'s host and registrable domain, with the same checks and errors.

    Classification runs this for every reported request: once an authority (``https://cdn.example:8443``)
    has been read, its answer is one dict lookup instead of the host's checks and split (~1 us instead of
    ~3.5 us). Only URLs that take parse_url's fast road are remembered: the careful road reads the whole
    URL with urllib (past a backslash, for one), so its answer is not the authority's alone."""
    found = _SCHEME_AUTHORITY.match(url) if type(url) is str else None
    if found is not None and len(url) <= MAX_URL_LENGTH:
        hit = _HOSTS_BY_AUTHORITY.get(found.group(0))
        if hit is not None:
            return hit
    parts = parse_url(url)
    if found is not None and _split_fast(url)[1] is not None:
        if len(_HOSTS_BY_AUTHORITY) > _MAX_HOSTS_BY_AUTHORITY:
            _HOSTS_BY_AUTHORITY.clear()
        _HOSTS_BY_AUTHORITY[found.group(0)] = (parts.host, parts.domain)
    return parts.host, parts.domain


# scheme "://" authority: what _split_fast reads in one match (a compiled regex is ~0.6 us faster per
# request than four str.find calls for the authority's end).
_SCHEME_AUTHORITY = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*)://([^/?#\\]*)")


def _split_fast(url: str) -> tuple[str, str | None]:
    """Scheme and host of a plain ``scheme://host[:port]/...`` URL, the shape of nearly every request.

    Returns host None when the URL needs urllib's full parser; this is only a shortcut, so it
    must never accept what urlsplit would read differently.
    """
    found = _SCHEME_AUTHORITY.match(url)
    if found is None:
        return url.partition(":")[0].lower(), None
    scheme, authority = found.groups()
    scheme = scheme.lower()
    if "@" in authority or "[" in authority or not authority or authority != authority.strip():
        return scheme, None
    host, sep, port = authority.partition(":")
    if sep and not (port.isdigit() and port.isascii() and int(port) <= 65535):
        return scheme, None
    return scheme, host


class PublicSuffix(ValueError):
    """A public suffix (``com``, ``co.uk``, ``github.io``) named where a site or a tracker is meant."""


def is_public_suffix(host: str) -> bool:
    """True when the normalised ``host`` is itself a public suffix: a name many sites live under, never one.

    split_host answers such a host as its own registrable domain (``co.uk`` -> ``co.uk``, its suffix
    too), and a single label as a suffix-less host; a single label is a suffix when the bundled list
    knows it as a TLD (``com``), not when it names one machine (``localhost``, an intranet name).
    """
    domain, suffix = split_host(host)
    if suffix:
        return domain == suffix
    if not host or "." in host or ":" in host or host.isdigit():  # IP addresses, "" and dotted hosts
        return False
    label = host
    if label.startswith("xn--"):  # the snapshot lists internationalised TLDs in Unicode (рф, not xn--p1ai)
        try:
            label = label.encode("ascii").decode("idna")
        except UnicodeError:
            return False
    return label in _suffix_rules()[1]


def refuse_public_suffix(domain: str) -> str:
    """``domain``, or :class:`PublicSuffix` when it is one.

    A choice keyed by a suffix would become a browser rule for every site under it (blocking every
    third-party ``.com`` host, trusting every ``.com`` site) while the companion's verdicts, keyed by
    real sites, never meet it: the two would disagree about every request.
    """
    if is_public_suffix(domain):
        raise PublicSuffix(f"{domain[:100]!r} is a public suffix (a top-level domain), not a site or a tracker")
    return domain


def site_of(value: str) -> str:
    """The registrable domain for a page given as a URL or a bare host name (``news.example``)."""
    if "://" not in value:
        value = "http://" + value
    return parse_url(value).domain


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
