"""companion.dnr.condition.to_dnr_condition: one filter, parsed by the engine -> one declarativeNetRequest condition."""
from __future__ import annotations

import pytest

from companion.dnr import to_dnr_condition
from companion.engine import parse_filter


def dnr(text: str) -> dict | None:
    """The condition for a filter line, the way the companion gets there: the engine parses, the DNR side translates.
    A line that is not an active network filter never reaches the translator (the engine does not expose it)."""
    parsed = parse_filter(text)
    return None if parsed is None else to_dnr_condition(parsed)


def test_plain_host_filter():
    assert dnr("||ads.example^") == {"urlFilter": "||ads.example^", "isUrlFilterCaseSensitive": False}


def test_anchors_and_wildcards_carry_over():
    assert dnr("|https://x.example/*/ad^|")["urlFilter"] == "|https://x.example/*/ad^|"
    assert dnr("/banner/*/img^")["urlFilter"] == "/banner/*/img^"


def test_types_party_and_exceptions():
    c = dnr("@@||a.example/x$xhr,script,third-party")
    assert c["urlFilter"] == "||a.example/x"
    assert c["resourceTypes"] == ["script", "xmlhttprequest"]
    assert c["domainType"] == "thirdParty"
    assert dnr("||a.example^$~third-party")["domainType"] == "firstParty"
    assert dnr("||a.example^$1p")["domainType"] == "firstParty"


@pytest.mark.parametrize("opt,name", [
    ("subdocument", "sub_frame"), ("document", "main_frame"), ("stylesheet", "stylesheet"),
    ("image", "image"), ("font", "font"), ("object", "object"), ("ping", "ping"),
    ("media", "media"), ("websocket", "websocket"), ("other", "other"), ("frame", "sub_frame"),
])
def test_each_type_name(opt, name):
    assert dnr(f"||a.example^${opt}")["resourceTypes"] == [name]


def test_no_type_option_leaves_the_browser_default():
    c = dnr("||a.example^$third-party")
    assert "resourceTypes" not in c and "excludedResourceTypes" not in c


def test_negated_types_become_exclusions_including_main_frame():
    c = dnr("||a.example^$~script,~image")
    assert c["excludedResourceTypes"] == ["main_frame", "script", "image"]
    assert "resourceTypes" not in c


def test_domains_and_denyallow():
    c = dnr("/ad.js$domain=a.example|b.example|~shop.a.example")
    assert c["initiatorDomains"] == ["a.example", "b.example"]
    assert c["excludedInitiatorDomains"] == ["shop.a.example"]
    c = dnr("*$script,denyallow=cdn.example|x.example,domain=news.example")
    assert "urlFilter" not in c
    assert c["excludedRequestDomains"] == ["cdn.example", "x.example"]
    assert c["initiatorDomains"] == ["news.example"]


def test_match_case_and_regex():
    assert dnr("/Ads/$match-case")["isUrlFilterCaseSensitive"] is True
    c = dnr(r"/\.example\/[0-9]{3}\.js/$image")
    assert c["regexFilter"] == r"\.example\/[0-9]{3}\.js" and c["resourceTypes"] == ["image"]


def test_redirect_and_important_keep_their_condition():
    assert dnr("||r.example^$redirect=noopjs,script")["resourceTypes"] == ["script"]
    assert dnr("||i.example^$important") == {"urlFilter": "||i.example^",
                                             "isUrlFilterCaseSensitive": False}


@pytest.mark.parametrize("f", [
    "||a.example^$domain=google.*",          # entity: DNR has no public-suffix wildcard
    r"/(ads)\1/",                             # backreference: RE2 refuses
    r"/a(?!b)/",                              # lookahead: RE2 refuses
    "||a.example^$csp=script-src 'none'",     # not a block
    "||a.example^$removeparam=utm_source",
    "||a.example^$popup",
    "@@||a.example^$generichide",
    "example.com##.ad",                       # cosmetic
    "example.com#@#.ad",
    "! comment",
    "",
    "||a.example^$method=post",               # inactive in the engine
    "||a.example^$badfilter",
    "||a.example^$frobnicate",                # unknown option
    "/ünï/ads.js",                            # non-ASCII urlFilter
    "||*.example^",                           # DNR rejects `||*`
])
def test_untranslatable_filters_give_none(f):
    assert dnr(f) is None


def test_internationalised_hostname_becomes_punycode():
    assert dnr("||bücher.example^")["urlFilter"] == "||xn--bcher-kva.example^"
