"""Our engine against adblock-rust (the `adblock` 0.6 binding, test-only dependency).

1. Over every request of the shared corpus with EasyList+EasyPrivacy, at least 99.5% of the
   block/allow decisions must be identical (today: all of them).
2. Each known class of difference has its own test below, which states who is right and why,
   and checks both engines really behave that way.
"""
from __future__ import annotations

import json

import adblock
import pytest

from companion.engine import Engine



def rust_engine(text: str) -> adblock.Engine:
    fs = adblock.FilterSet(debug=True)
    fs.add_filter_list(text)
    return adblock.Engine(fs, optimize=False)


@pytest.fixture(scope="module")
def both(tmp_path_factory, list_paths):
    ours = Engine.from_files(list_paths, cache_dir=tmp_path_factory.mktemp("cache"))
    fs = adblock.FilterSet(debug=True)
    for p in list_paths:
        fs.add_filter_list(p.read_text(encoding="utf-8"))
    return ours, adblock.Engine(fs, optimize=False)


def test_whole_corpus_agrees_with_adblock_rust(both, corpus_path):
    ours, rust = both
    total = same = 0
    blocked = excepted = 0
    differences = []
    with corpus_path.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            m = ours.match(r["url"], r["source_url"], r["type"])
            a = rust.check_network_urls(r["url"], r["source_url"], r["type"])
            mine = bool(m and m.blocked)
            total += 1
            blocked += mine
            excepted += bool(m and not m.blocked)
            if mine == a.matched:
                same += 1
                if a.matched:
                    assert m.filter and m.list in ("easylist", "easyprivacy")
            else:
                differences.append((r, m, a.filter, a.exception))
    assert total == 46416
    assert blocked > 9000 and excepted > 0  # the comparison is not trivially "nothing matches"
    assert same / total >= 0.995, differences[:20]


def test_cached_engine_decides_like_a_fresh_one(both, tmp_path, list_paths, corpus_path):
    ours, _ = both
    fresh = Engine.from_files(list_paths)
    with corpus_path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 7:
                continue
            r = json.loads(line)
            a = ours.match(r["url"], r["source_url"], r["type"])
            b = fresh.match(r["url"], r["source_url"], r["type"])
            assert (a and (a.blocked, a.filter)) == (b and (b.blocked, b.filter))


def test_engine_stats_on_the_real_lists(both):
    ours, _ = both
    el, ep = ours.stats["easylist"], ours.stats["easyprivacy"]
    assert el.lines == 80370 and ep.lines == 56306
    assert el.cosmetic > 24000 and ep.cosmetic >= 35
    assert el.used + ep.used > 100_000
    assert el.rejected + ep.rejected < 20


# --- classes of difference ----------------------------------------------------------------------
# None of these occur in the corpus today; each is a deliberate choice.

def _both_small(text: str):
    return Engine.from_lists([("t", text)]), rust_engine(text)


def test_difference_no_initiator_is_third_party():
    """adblock-rust, given an empty source URL, applies both `$third-party` and `$~third-party`
    filters. We follow the issue: a request without a page is third-party, so a first-party-only
    filter cannot apply (it would be guessing that the page shares the request's site)."""
    ours, rust = _both_small("||fp.example^$~third-party\n||tp.example^$third-party")
    assert rust.check_network_urls("https://fp.example/x", "", "script").matched
    assert ours.match("https://fp.example/x", "", "script") is None
    assert rust.check_network_urls("https://tp.example/x", "", "script").matched
    assert ours.match("https://tp.example/x", "", "script").blocked


def test_difference_options_the_2022_adblock_rust_drops():
    """The bundled 2022 adblock-rust does not know `denyallow`, entity domains (`domain=shop.*`),
    `$all`, `$empty` or ABP's `$rewrite`, and drops such filters. uBlock Origin (denyallow,
    entities, all, empty) and Adblock Plus (rewrite) define them, and the issue asks for them:
    we honour them."""
    text = ("||dny.example^$denyallow=ok.dny.example\n/promo.js$domain=shop.*\n"
            "||all.example^$all\n||emp.example^$empty\n||rw.example^$rewrite=abp-resource:blank-js")
    ours, rust = _both_small(text)
    cases = [("https://x.dny.example/", "https://a.com/"), ("https://c.org/promo.js", "https://shop.com/"),
             ("https://all.example/", "https://a.com/"), ("https://emp.example/", "https://a.com/"),
             ("https://rw.example/", "https://a.com/")]
    for url, page in cases:
        assert not rust.check_network_urls(url, page, "script").matched, url
        assert ours.match(url, page, "script").blocked, url
    assert ours.match("https://ok.dny.example/", "https://a.com/", "script") is None


def test_difference_redirect_rule_blocks():
    """adblock-rust 0.6 ignores `$redirect-rule`. The issue says redirect filters block; note that
    uBlock Origin itself only redirects with `redirect-rule` when another filter blocks, so on
    this point we follow the issue's wording rather than uBO (EasyPrivacy has one such filter)."""
    ours, rust = _both_small("||rr.example^$redirect-rule=noopjs")
    assert not rust.check_network_urls("https://rr.example/a.js", "https://a.com/", "script").matched
    assert ours.match("https://rr.example/a.js", "https://a.com/", "script").blocked
    ours, rust = _both_small("||rd.example^$redirect=noopjs")
    assert rust.check_network_urls("https://rd.example/a.js", "https://a.com/", "script").matched
    assert ours.match("https://rd.example/a.js", "https://a.com/", "script").blocked


def test_difference_csp_report_requests():
    """adblock-rust never applies a filter to a `csp_report` request, not even one without type
    options. ABP and uBO apply type-less filters to every request type, so we block a CSP report
    sent to a blocked host (a report to a tracker is still a request to a tracker)."""
    ours, rust = _both_small("||csp.example^")
    assert not rust.check_network_urls("https://csp.example/r", "https://a.com/", "csp_report").matched
    assert ours.match("https://csp.example/r", "https://a.com/", "csp_report").blocked


def test_difference_important_reports_the_overridden_exception():
    """Same decision as adblock-rust, but we also say which exception `$important` overrode."""
    text = "||imp.example^$important\n@@||imp.example^"
    ours, rust = _both_small(text)
    a = rust.check_network_urls("https://imp.example/", "https://a.com/", "script")
    m = ours.match("https://imp.example/", "https://a.com/", "script")
    assert a.matched and a.important and m.blocked and m.important
    assert m.overridden_filter == "@@||imp.example^"
