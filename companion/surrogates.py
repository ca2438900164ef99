"""The catalog of stand-in scripts ("surrogates"): one source of truth for the rules, the verdicts and the bench.

Why: blocking a script that a page calls into (``gtag(...)`` with an event callback, ``googletag.cmd.push``,
``fbq`` called right after the tag) breaks the page. For those scripts the browser serves a small script of
ours instead (``extension/surrogates/``): it keeps the page's calls working and sends nothing anywhere.

Each :class:`Surrogate` names the stand-in, the extension resource the browser redirects to, and the URL
patterns it replaces. A pattern is kept as a declarativeNetRequest ``urlFilter`` (``||host/path`` with ``*``
wildcards), so :mod:`companion.dnr.redirects` can put it in a rule as is, and :func:`find` matches the same
text in Python for the verdicts. Each pattern also names the domain the person's choices are keyed by, the
site of its hosts by :mod:`companion.sites` (``imasdk.googleapis.com``: googleapis.com is a private suffix),
and a sample URL it matches (tests, and the check that the lists in force block it).

Pure: no I/O, no Flask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .engine.parser import parse_filter
from .engine.patterns import abp_to_regex

# The only resource type a stand-in replaces: a script answered with a script.
RESOURCE_TYPES = ("script",)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One URL pattern a stand-in replaces."""

    domain: str  # the registrable domain of the hosts it matches (choices are keyed by it)
    url_filter: str  # declarativeNetRequest urlFilter: `||host/path`, `*` any characters
    sample: str  # a real-looking URL it matches

    def condition(self) -> dict:
        """The DNR condition of this pattern (scoping fields are added by the rule compiler)."""
        return {"urlFilter": self.url_filter, "resourceTypes": list(RESOURCE_TYPES)}


@dataclass(frozen=True, slots=True)
class Surrogate:
    name: str  # stable id, shown in verdicts: "google-analytics"
    title: str  # for people: "Google Analytics (analytics.js)"
    resource: str  # the extension path the browser redirects to
    patterns: tuple[Pattern, ...]

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(sorted({p.domain for p in self.patterns}))


def _p(domain: str, url_filter: str, sample: str) -> Pattern:
    return Pattern(domain, url_filter, sample)


# Order matters only for display. gtag.js and gtm.js are both Google tag containers sharing the dataLayer
# protocol, so one stand-in serves both (google-tag.js).
CATALOG: tuple[Surrogate, ...] = (
    Surrogate("google-analytics", "Google Analytics (analytics.js)", "/surrogates/google-analytics.js", (
        _p("google-analytics.com", "||google-analytics.com/analytics.js", "https://www.google-analytics.com/analytics.js"),
        _p("google-analytics.com", "||google-analytics.com/analytics_debug.js",
           "https://www.google-analytics.com/analytics_debug.js"),
    )),
    Surrogate("google-analytics-ga", "Google Analytics, classic (ga.js)", "/surrogates/google-analytics-ga.js", (
        _p("google-analytics.com", "||google-analytics.com/ga.js", "https://ssl.google-analytics.com/ga.js"),
        _p("doubleclick.net", "||stats.g.doubleclick.net/dc.js", "https://stats.g.doubleclick.net/dc.js"),
    )),
    Surrogate("google-gtag", "Google tag (gtag.js)", "/surrogates/google-tag.js", (
        _p("googletagmanager.com", "||googletagmanager.com/gtag/js",
           "https://www.googletagmanager.com/gtag/js?id=G-TEST"),
    )),
    Surrogate("google-tag-manager", "Google Tag Manager (gtm.js)", "/surrogates/google-tag.js", (
        _p("googletagmanager.com", "||googletagmanager.com/gtm.js", "https://www.googletagmanager.com/gtm.js?id=GTM-TEST"),
    )),
    Surrogate("google-publisher-tag", "Google Publisher Tag (gpt.js)", "/surrogates/google-publisher-tag.js", (
        _p("doubleclick.net", "||securepubads.g.doubleclick.net/tag/js/gpt.js",
           "https://securepubads.g.doubleclick.net/tag/js/gpt.js"),
        _p("googletagservices.com", "||googletagservices.com/tag/js/gpt.js",
           "https://www.googletagservices.com/tag/js/gpt.js"),
        _p("googlesyndication.com", "||pagead2.googlesyndication.com/tag/js/gpt.js",
           "https://pagead2.googlesyndication.com/tag/js/gpt.js"),
    )),
    Surrogate("google-adsense", "Google AdSense (adsbygoogle.js)", "/surrogates/google-adsense.js", (
        _p("googlesyndication.com", "||pagead2.googlesyndication.com/pagead/js/adsbygoogle.js",
           "https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-pub-1"),
    )),
    Surrogate("meta-pixel", "Meta Pixel (fbevents.js)", "/surrogates/meta-pixel.js", (
        _p("facebook.net", "||connect.facebook.net/*/fbevents.js", "https://connect.facebook.net/en_US/fbevents.js"),
    )),
    Surrogate("amazon-apstag", "Amazon Publisher Services (apstag.js)", "/surrogates/amazon-apstag.js", (
        _p("amazon-adsystem.com", "||c.amazon-adsystem.com/aax2/apstag.js", "https://c.amazon-adsystem.com/aax2/apstag.js"),
    )),
    Surrogate("google-ima", "Google IMA SDK (ima3.js)", "/surrogates/google-ima.js", (
        _p("imasdk.googleapis.com", "||imasdk.googleapis.com/js/sdkloader/ima3.js",
           "https://imasdk.googleapis.com/js/sdkloader/ima3.js"),
        _p("imasdk.googleapis.com", "||imasdk.googleapis.com/js/sdkloader/ima3_debug.js",
           "https://imasdk.googleapis.com/js/sdkloader/ima3_debug.js"),
    )),
    Surrogate("segment", "Segment (analytics.js)", "/surrogates/segment.js", (
        _p("segment.com", "||cdn.segment.com/analytics.js/*", "https://cdn.segment.com/analytics.js/v1/KEY/analytics.min.js"),
        _p("segment.io", "||cdn.segment.io/analytics.js/*", "https://cdn.segment.io/analytics.js/v1/KEY/analytics.min.js"),
    )),
    # From the request corpus: comScore's beacon is the most common blocked script pages call by name
    # (`COMSCORE.beacon({...})` right after the tag) after the ones above.
    Surrogate("comscore", "comScore (beacon.js)", "/surrogates/comscore.js", (
        _p("scorecardresearch.com", "||scorecardresearch.com/*beacon.js", "https://sb.scorecardresearch.com/cs/1/beacon.js"),
    )),
)

BY_NAME: dict[str, Surrogate] = {s.name: s for s in CATALOG}


def _regex(url_filter: str) -> re.Pattern[str]:
    """The pattern as a matcher for ``.match(url)``. A DNR urlFilter is an Adblock Plus pattern (`||`,
    `*`, `^`, `|`), so the engine's own translation serves: one reading of the syntax, not two."""
    parsed = parse_filter(url_filter)
    if parsed is None or parsed.is_regex:
        raise ValueError(f"not a urlFilter pattern: {url_filter!r}")
    source = abp_to_regex(parsed.body, parsed.host_anchor, parsed.start_anchor, parsed.end_anchor)
    return re.compile(source or "", re.IGNORECASE)


@lru_cache(maxsize=1)
def _by_host() -> dict[str, tuple[tuple[Surrogate, re.Pattern[str]], ...]]:
    """Patterns by the host their `||host` anchor names, so a URL is tested against its own host's few."""
    index: dict[str, list[tuple[Surrogate, re.Pattern[str]]]] = {}
    for s in CATALOG:
        for p in s.patterns:
            index.setdefault(_anchor_host(p.url_filter), []).append((s, _regex(p.url_filter)))
    return {host: tuple(items) for host, items in index.items()}


# The host of an http(s) URL, without user info or port (cheaper than urlsplit on this hot path).
_HOST = re.compile(r"[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)", re.IGNORECASE)


def _anchor_host(url_filter: str) -> str:
    return url_filter[2:].split("/", 1)[0].split("^", 1)[0].lower()


def find(url: str, request_type: str = "script") -> Surrogate | None:
    """The stand-in that replaces this request, or None. Only scripts are replaced."""
    if request_type not in RESOURCE_TYPES:
        return None
    m = _HOST.match(url)
    if m is None:
        return None
    host = m.group(1).lower()
    index = _by_host()
    while host:
        for surrogate, regex in index.get(host, ()):
            if regex.match(url):
                return surrogate
        host = host.partition(".")[2]  # the parent domain: `||host` also matches subdomains
    return None


def for_hosts(hosts, domain: str) -> list[Surrogate]:
    """The stand-ins that could replace a script from one of ``hosts`` (all under registrable ``domain``)."""
    found = []
    for s in CATALOG:
        for p in s.patterns:
            if p.domain != domain:
                continue
            host = _anchor_host(p.url_filter)
            if any(h == host or h.endswith("." + host) for h in hosts) and s not in found:
                found.append(s)
    return found


__all__ = ["CATALOG", "BY_NAME", "Pattern", "Surrogate", "RESOURCE_TYPES", "find", "for_hosts"]
