"""Unit tests of the filter engine's syntax and semantics, written from the Adblock Plus filter
documentation (help.eyeo.com "How to write filters") and uBlock Origin's static filter syntax wiki.
Each test builds a tiny engine from the filters it is about."""
from __future__ import annotations

import pytest

from companion.engine import Engine, ListStats, Match

PAGE = "https://news.example/article"


def eng(*filters: str, name: str = "t") -> Engine:
    return Engine.from_lists([(name, "\n".join(filters))])


def blocked(e: Engine, url: str, page: str | None = PAGE, rtype: str = "script") -> bool:
    m = e.match(url, page, rtype)
    return bool(m and m.blocked)


# --- `||` hostname anchor -----------------------------------------------------------------------

def test_host_anchor_matches_host_and_subdomains_only():
    e = eng("||tracker.com^")
    assert blocked(e, "https://tracker.com/x.js")
    assert blocked(e, "https://a.b.tracker.com/x.js")
    assert blocked(e, "http://tracker.com")
    assert not blocked(e, "https://nottracker.com/x.js")
    assert not blocked(e, "https://tracker.com.evil.org/x.js")
    assert not blocked(e, "https://example.org/tracker.com/x.js")


def test_host_anchor_with_path_and_with_options():
    e = eng("||cdn.example/ads/", "||other.example^$image")
    assert blocked(e, "https://cdn.example/ads/1.png")
    assert blocked(e, "https://x.cdn.example/ads/1.png")
    assert not blocked(e, "https://cdn.example/news/ads/1.png")
    assert not blocked(e, "https://cdn.example.org/ads/1.png")
    assert blocked(e, "https://img.other.example/p.gif", rtype="image")
    assert not blocked(e, "https://img.other.example/p.js", rtype="script")


def test_host_anchor_on_partial_label_prefix():
    # `||ads.` anchors at a label start and continues into the rest of the URL
    e = eng("||ads.")
    assert blocked(e, "https://ads.example.com/")
    assert blocked(e, "https://x.ads.example.com/")
    assert not blocked(e, "https://loads.example.com/")


# --- `^` separator ------------------------------------------------------------------------------

@pytest.mark.parametrize("url,expected", [
    ("https://example.com/foo", True),        # end of URL
    ("https://example.com/foo?x=1", True),    # `?`
    ("https://example.com/foo/bar", True),    # `/`
    ("https://example.com/foo:8", True),      # `:`
    ("https://example.com/foo&a", True),
    ("https://example.com/food", False),      # letter
    ("https://example.com/foo1", False),      # digit
    ("https://example.com/foo.js", False),    # `.` is not a separator
    ("https://example.com/foo-bar", False),   # `-`
    ("https://example.com/foo_bar", False),   # `_`
    ("https://example.com/foo%20", False),    # `%`
])
def test_separator(url, expected):
    assert blocked(eng("/foo^"), url) is expected


def test_separator_after_host_matches_port_and_end():
    e = eng("||example.com^")
    assert blocked(e, "https://example.com:8443/x")
    assert blocked(e, "https://example.com")
    assert blocked(e, "https://example.com?q")


# --- `|` anchors and `*` ------------------------------------------------------------------------

def test_start_and_end_anchors():
    e = eng("|https://start.example/", "swf|")
    assert blocked(e, "https://start.example/a")
    assert not blocked(e, "https://x.org/?u=https://start.example/")
    assert blocked(e, "https://x.org/movie.swf")
    assert not blocked(e, "https://x.org/movie.swf?x")


def test_wildcards_and_implicit_wildcards():
    e = eng("/banner/*/img^")
    assert blocked(e, "https://x.org/banner/foo/img")
    assert blocked(e, "https://x.org/banner/foo/bar/img?x")
    assert not blocked(e, "https://x.org/banner/img")  # `*` sits between two slashes
    assert not blocked(e, "https://x.org/banner/foo/imgs")


def test_wildcards_do_not_backtrack_catastrophically():
    e = eng("a*a*a*a*a*a*a*a*b")
    assert not blocked(e, "https://x.org/" + "a" * 5000)  # linear thanks to atomic groups
    assert blocked(e, "https://x.org/" + "a" * 50 + "b")


def test_case_insensitive_unless_match_case():
    e = eng("/AdServer/", "/Tracker.JS$match-case")
    assert blocked(e, "https://x.org/adserver/1")
    assert blocked(e, "https://x.org/ADSERVER/1")
    assert blocked(e, "https://x.org/Tracker.JS")
    assert not blocked(e, "https://x.org/tracker.js")


def test_options_are_case_insensitive_too():
    # adblockparser is case-sensitive for filters with options; ABP is not
    e = eng("/ADFRAME.$Script,Third-Party")
    assert blocked(e, "https://x.org/adframe.js")


# --- regex filters ------------------------------------------------------------------------------

def test_regex_filter_and_dollar_inside_regex():
    e = eng(r"/\.example\/[0-9]{3}\.js$/", r"/banner\d+/$image")
    assert blocked(e, "https://cdn.example/123.js")
    assert not blocked(e, "https://cdn.example/123.js?x")
    assert blocked(e, "https://x.org/banner42.png", rtype="image")
    assert not blocked(e, "https://x.org/banner42.png", rtype="script")


def test_regex_is_case_insensitive_unless_match_case():
    e = eng(r"/\/Promo\//", r"/\/Exact\//$match-case")
    assert blocked(e, "https://x.org/PROMO/a")
    assert blocked(e, "https://x.org/Exact/a")
    assert not blocked(e, "https://x.org/exact/a")


def test_regex_re2_cannot_take_is_rejected_and_counted():
    e = eng(r"/(ads)\1/", r"/(?=tracker)/", "||ok.example^")
    assert e.stats["t"].rejected == 2
    assert e.stats["t"].used == 1


# --- exceptions and $important ------------------------------------------------------------------

def test_exception_overrides_block_and_says_which():
    e = eng("||ads.example^", "@@||ads.example/allowed/")
    m = e.match("https://ads.example/allowed/x.js", PAGE, "script")
    assert m == Match(False, "@@||ads.example/allowed/", "t", "||ads.example^", "t", False)
    m = e.match("https://ads.example/other.js", PAGE, "script")
    assert m.blocked and m.filter == "||ads.example^" and m.overridden_filter is None


def test_exception_alone_decides_nothing():
    e = eng("@@||good.example^")
    assert e.match("https://good.example/x", PAGE, "script") is None


def test_important_overrides_exception_and_reports_it():
    e = Engine.from_lists([("a", "||ads.example^$important"), ("b", "@@||ads.example^")])
    m = e.match("https://ads.example/x.js", PAGE, "script")
    assert m.blocked and m.important
    assert (m.filter, m.list) == ("||ads.example^$important", "a")
    assert (m.overridden_filter, m.overridden_list) == ("@@||ads.example^", "b")


def test_important_found_even_when_another_block_filter_matched_first():
    e = eng("||ads.example^", "/x.js$important", "@@||ads.example^")
    m = e.match("https://ads.example/x.js", PAGE, "script")
    assert m.blocked and m.important and m.filter == "/x.js$important"
    m = e.match("https://ads.example/y.js", PAGE, "script")
    assert not m.blocked


def test_match_reports_list_name():
    e = Engine.from_lists([("easylist", "||a.example^"), ("easyprivacy", "||b.example^")])
    assert e.match("https://b.example/", PAGE, "image").list == "easyprivacy"
    assert e.match("https://a.example/", PAGE, "image").list == "easylist"


# --- party --------------------------------------------------------------------------------------

@pytest.mark.parametrize("opt,third_expected,first_expected", [
    ("third-party", True, False), ("3p", True, False), ("~third-party", False, True),
    ("first-party", False, True), ("1p", False, True), ("~first-party", True, False),
])
def test_party_options(opt, third_expected, first_expected):
    e = eng(f"||cdn.news.example^${opt}", f"||cdn.other.example^${opt}")
    assert blocked(e, "https://cdn.other.example/x.js") is third_expected
    assert blocked(e, "https://cdn.news.example/x.js") is first_expected


def test_party_uses_registrable_domain():
    e = eng("||stats.example.co.uk^$third-party")
    assert not blocked(e, "https://stats.example.co.uk/", "https://www.example.co.uk/")
    assert blocked(e, "https://stats.example.co.uk/", "https://other.co.uk/")


# --- resource types -----------------------------------------------------------------------------

TYPES = ["main_frame", "sub_frame", "script", "image", "stylesheet", "xmlhttprequest", "font",
         "media", "object", "ping", "csp_report", "websocket", "other"]


@pytest.mark.parametrize("opt,rtype", [
    ("script", "script"), ("image", "image"), ("stylesheet", "stylesheet"),
    ("xmlhttprequest", "xmlhttprequest"), ("xhr", "xmlhttprequest"), ("subdocument", "sub_frame"),
    ("frame", "sub_frame"), ("document", "main_frame"), ("doc", "main_frame"),
    ("object", "object"), ("ping", "ping"), ("media", "media"), ("font", "font"),
    ("websocket", "websocket"), ("other", "other"),
])
def test_each_type_option_matches_its_type_only(opt, rtype):
    e = eng(f"||t.example^${opt}")
    for t in TYPES:
        assert blocked(e, "https://t.example/x", rtype=t) is (t == rtype), t


def test_negated_types_and_all():
    e = eng("||neg.example^$~script,~image", "||all.example^$all")
    assert not blocked(e, "https://neg.example/x", rtype="script")
    assert not blocked(e, "https://neg.example/x", rtype="image")
    assert blocked(e, "https://neg.example/x", rtype="xmlhttprequest")
    for t in TYPES:
        assert blocked(e, "https://all.example/x", rtype=t)


def test_several_type_options_are_ored():
    # adblockparser ANDs them, so `$script,xmlhttprequest` never matched there
    e = eng("||adobedtm.example^", "@@||adobedtm.example^*/launch-$script,xmlhttprequest")
    m = e.match("https://assets.adobedtm.example/x/launch-abc.min.js", PAGE, "script")
    assert m is not None and not m.blocked
    m = e.match("https://assets.adobedtm.example/x/launch-abc.min.js", PAGE, "xmlhttprequest")
    assert not m.blocked
    assert e.match("https://assets.adobedtm.example/x/launch-abc.png", PAGE, "image").blocked


def test_filter_without_type_applies_to_every_type():
    e = eng("||every.example^")
    for t in TYPES:
        assert blocked(e, "https://every.example/x", "https://every.example/", rtype=t)


# --- domain= ------------------------------------------------------------------------------------

def test_domain_include_covers_subdomains():
    e = eng("/ad.js$domain=news.example")
    assert blocked(e, "https://cdn.org/ad.js", "https://news.example/")
    assert blocked(e, "https://cdn.org/ad.js", "https://www.news.example/")
    assert not blocked(e, "https://cdn.org/ad.js", "https://othernews.example/")
    assert not blocked(e, "https://cdn.org/ad.js", "https://news.example.org/")


def test_domain_exclusion_and_most_specific_wins():
    e = eng("/ad.js$domain=example.com|~shop.example.com", "/x.js$domain=~example.net|www.example.net",
            "/y.js$domain=~blog.example.org")
    assert blocked(e, "https://c.org/ad.js", "https://www.example.com/")
    assert not blocked(e, "https://c.org/ad.js", "https://shop.example.com/")
    assert not blocked(e, "https://c.org/ad.js", "https://a.shop.example.com/")
    assert blocked(e, "https://c.org/x.js", "https://www.example.net/")
    assert not blocked(e, "https://c.org/x.js", "https://example.net/")
    assert blocked(e, "https://c.org/y.js", "https://www.example.org/")
    assert not blocked(e, "https://c.org/y.js", "https://blog.example.org/")


def test_domain_entity_wildcard():
    e = eng("/promo.js$domain=shop.*")
    assert blocked(e, "https://c.org/promo.js", "https://shop.co.uk/")
    assert blocked(e, "https://c.org/promo.js", "https://www.shop.com.ar/")
    assert not blocked(e, "https://c.org/promo.js", "https://shop.example.com/")


def test_no_initiator_is_third_party_without_page_domain():
    e = eng("||tp.example^$third-party", "||fp.example^$~third-party", "||inc.example^$domain=a.org",
            "||exc.example^$domain=~a.org")
    for page in (None, ""):
        assert blocked(e, "https://tp.example/", page)
        assert not blocked(e, "https://fp.example/", page)
        assert not blocked(e, "https://inc.example/", page)   # includes never apply
        assert blocked(e, "https://exc.example/", page)       # nothing to exclude


# --- badfilter, denyallow, redirects, non-blocking, inactive ------------------------------------

def test_badfilter_disables_the_same_filter_across_lists():
    e = Engine.from_lists([("a", "||bad.example^\n||bad2.example^$script"),
                           ("b", "||bad.example^$badfilter\n||bad2.example^$script,badfilter")])
    assert not blocked(e, "https://bad.example/")
    assert not blocked(e, "https://bad2.example/")
    assert e.stats["a"].disabled == 2
    assert ("||bad.example^", "a", False, False) not in set(e.filters())


def test_denyallow():
    e = eng("*$script,3p,denyallow=cdn.example|static.example,domain=news.example")
    assert blocked(e, "https://tracker.org/x.js", "https://news.example/")
    assert not blocked(e, "https://cdn.example/x.js", "https://news.example/")
    assert not blocked(e, "https://a.static.example/x.js", "https://news.example/")
    assert not blocked(e, "https://tracker.org/x.js", "https://other.example/")


def test_redirect_filters_block():
    e = eng("||r1.example^$redirect=noopjs", "||r2.example^$redirect-rule=noopjs,script",
            "||r3.example^$empty")
    assert blocked(e, "https://r1.example/a.js")
    assert blocked(e, "https://r2.example/a.js")
    assert blocked(e, "https://r3.example/a.js")


@pytest.mark.parametrize("f", ["||p.example^$popup", "||p.example^$csp=script-src 'none'",
                               "||p.example^$removeparam=utm_source", "||p.example^$generichide",
                               "@@||p.example^$generichide", "||p.example^$popup,third-party"])
def test_non_blocking_filters_never_block(f):
    e = eng(f)
    for t in TYPES:
        assert e.match("https://p.example/x", PAGE, t) is None
    assert e.stats["t"].non_blocking == 1 and e.stats["t"].used == 0


def test_unhonourable_option_makes_filter_inactive_not_broad():
    e = eng("||m.example^$method=post", "||h.example^$header=x-foo")
    assert not blocked(e, "https://m.example/")
    assert not blocked(e, "https://h.example/")
    assert e.stats["t"].inactive == 2


def test_unknown_option_is_rejected():
    e = eng("||u.example^$frobnicate", "||v.example^$domain=", "*$script")
    assert e.stats["t"].rejected == 3
    assert e.match("https://v.example/x.js", PAGE, "script") is None


def test_cosmetic_and_comments_are_skipped_and_counted():
    text = "[Adblock Plus 2.0]\n! comment\nexample.com##.ad\n##.banner\nexample.com#@#.ad\n" \
           "example.com#?#div:has(.ad)\nexample.com##+js(noop)\nexample.com#$#abort\n||n.example^\n"
    e = Engine.from_lists([("t", text)])
    st = e.stats["t"]
    assert st.cosmetic == 6 and st.used == 1 and st.skipped == 8 and st.rejected == 0


# --- API details --------------------------------------------------------------------------------

def test_match_is_a_small_immutable_object():
    m = eng("||a.example^").match("https://a.example/", PAGE, "image")
    assert isinstance(m, tuple)
    with pytest.raises(AttributeError):
        m.blocked = False  # type: ignore[misc]


def test_unknown_request_type_is_other_and_non_http_urls_are_ignored():
    e = eng("||a.example^$other")
    assert blocked(e, "https://a.example/", rtype="speculative")
    assert e.match("data:text/plain,hi", PAGE, "other") is None
    assert e.match("", PAGE, "other") is None


def test_bare_host_filters_are_the_only_plain_hosts():
    # Only `||host^` with nothing else goes to the plain-host index (listed first by filters());
    # options, paths and exceptions keep their own text.
    e = eng("||plain.example^", "||opt.example^$third-party", "||path.example/x", "@@||exc.example^")
    plain = list(e._blocks.plain.items())
    assert [(host, e.lists[list_id]) for host, list_id in plain] == [("plain.example", "t")]
    assert sorted(t for t, *_ in e.filters()) == sorted(
        ["||plain.example^", "||opt.example^$third-party", "||path.example/x", "@@||exc.example^"])


def test_filters_lists_every_active_network_filter():
    e = eng("||plain.example^", "/x.js$important", "@@||exc.example^", "##.ad", "||p.example^$popup")
    assert sorted(e.filters()) == sorted([
        ("||plain.example^", "t", False, False), ("/x.js$important", "t", False, True),
        ("@@||exc.example^", "t", True, False)])


def test_list_stats_fields():
    st = eng("||a.example^").stats["t"]
    assert isinstance(st, ListStats)
    assert (st.used, st.skipped, st.rejected, st.cosmetic, st.inactive) == (1, 0, 0, 0, 0)


def test_private_suffixes_count_as_public_for_party():
    # As in browsers' notion of site and in adblock-rust: a.blogspot.com and b.blogspot.com are
    # different sites.
    e = eng("||blogspot.com^$third-party")
    assert blocked(e, "https://a.blogspot.com/x", "https://b.blogspot.com/")
    assert not blocked(e, "https://a.blogspot.com/x", "https://a.blogspot.com/")


def test_a_github_io_neighbour_is_third_party():
    e = eng("||bob.github.io^$third-party")
    assert blocked(e, "https://bob.github.io/t.js", "https://alice.github.io/")
    assert not blocked(e, "https://bob.github.io/t.js", "https://bob.github.io/")


def test_snippet_and_html_filters_are_cosmetic():
    e = eng("#$#abort-on-property-read ads", "example.com#$#log", "example.com$$script[src]",
            "example.com#%#//scriptlet('x')", "# a plain comment")
    st = e.stats["t"]
    assert st.cosmetic == 4 and st.skipped == 5 and st.rejected == 0


def test_internationalised_hostname_filter_matches_punycode_urls():
    e = eng("||bücher.example^")
    assert blocked(e, "https://xn--bcher-kva.example/x")
    assert blocked(e, "https://www.xn--bcher-kva.example/x")
