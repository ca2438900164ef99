"""Stand-in scripts: the catalog, the redirect rules and their precedence, and where the stand-in is named.

Precedence is checked on the compiled rule set itself with a small model of how the browser picks a rule
(highest priority wins; on a tie allow > allowAllRequests > block > redirect), for the subset of conditions
Crumbs emits. The real browsers are checked by tests/browser/test_surrogates.py and test_firefox.py.
"""

from __future__ import annotations

import json
from fnmatch import fnmatch
from pathlib import Path

import pytest
from click.testing import CliRunner

from companion import surrogates
from companion.cli import main as cli_main
from companion.dnr import BrowserRules, compile_rules
from companion.dnr.redirects import MAX_UNSAFE_RULES, redirect_rules
from companion.engine import parse_filter
from companion.sites import parse_url
from companion.surrogates import CATALOG, find, for_hosts

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
GA = "https://www.google-analytics.com/analytics.js"
GTM = "https://www.googletagmanager.com/gtm.js?id=GTM-1"
NEWS = "https://news.example/story"


# -- the catalog ---------------------------------------------------------------------------------------

def test_every_stand_in_file_is_in_the_catalog_and_the_other_way_round():
    files = {f"/surrogates/{p.name}" for p in (EXTENSION / "surrogates").glob("*.js")}
    assert files == {s.resource for s in CATALOG}
    assert len({s.name for s in CATALOG}) == len(CATALOG)


def test_the_manifest_lets_pages_load_the_stand_ins_and_nothing_else():
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    (entry,) = manifest["web_accessible_resources"]
    assert entry["matches"] == ["<all_urls>"] and entry["use_dynamic_url"] is True
    for s in CATALOG:
        assert any(fnmatch(s.resource.lstrip("/"), pattern) for pattern in entry["resources"]), s.resource
    assert not any(fnmatch("pairing/pairing.html", p) or fnmatch("src/background.js", p) for p in entry["resources"])


def test_each_pattern_matches_its_sample_and_names_the_samples_registrable_domain():
    for s in CATALOG:
        for p in s.patterns:
            assert find(p.sample, "script") is s, p.sample
            assert parse_url(p.sample).domain == p.domain, p.sample
            assert p.condition() == {"urlFilter": p.url_filter, "resourceTypes": ["script"]}


@pytest.mark.parametrize("url", [
    "https://notgoogle-analytics.com/analytics.js",  # || anchors at a label boundary
    "https://evil.example/?u=www.google-analytics.com/analytics.js",  # not in the host
    "https://www.google-analytics.com/collect?v=1",  # the tracker, but not a script it stands in for
    "https://connect.facebook.net/en_US/sdk.js",
])
def test_other_urls_get_no_stand_in(url):
    assert find(url, "script") is None


def test_only_scripts_are_replaced():
    assert find(GA, "script").name == "google-analytics"
    assert find(GA, "image") is None and find(GA, "xmlhttprequest") is None
    assert find("https://connect.facebook.net/de_DE/fbevents.js").name == "meta-pixel"
    assert find("https://www.googletagmanager.com/gtag/js?id=G-1").resource == find(GTM).resource  # one file


def test_stand_ins_for_the_hosts_a_site_saw():
    names = [s.name for s in for_hosts(["www.google-analytics.com"], "google-analytics.com")]
    assert names == ["google-analytics", "google-analytics-ga"]
    assert for_hosts(["stats.g.doubleclick.net"], "doubleclick.net")[0].name == "google-analytics-ga"
    assert for_hosts(["ad.doubleclick.net"], "doubleclick.net") == []
    assert for_hosts(["www.google-analytics.com"], "doubleclick.net") == []


# -- redirect rules ------------------------------------------------------------------------------------

def _always(verdict):
    return lambda pattern: verdict


def test_redirects_sit_one_above_each_block_and_share_its_scope():
    rules = redirect_rules(site_tracker=[("news.example", "google-analytics.com", "block"),
                                         ("blog.example", "google-analytics.com", "block"),
                                         ("shop.example", "google-analytics.com", "allow")],
                           everywhere=[("googletagmanager.com", "block"), ("facebook.net", "allow")],
                           report_only=False, lists=_always("block"))
    ga = [r for r in rules if r["condition"]["urlFilter"] == "||google-analytics.com/analytics.js"]
    assert sorted(r["priority"] for r in ga) == [101, 401]
    site = next(r for r in ga if r["priority"] == 401)
    assert site["condition"]["initiatorDomains"] == ["blog.example", "news.example"]
    assert site["action"] == {"type": "redirect", "redirect": {"extensionPath": "/surrogates/google-analytics.js"}}
    gtm = [r for r in rules if r["condition"]["urlFilter"] == "||googletagmanager.com/gtm.js"]
    assert sorted(r["priority"] for r in gtm) == [101, 201]
    for r in rules:
        assert r["condition"]["resourceTypes"] == ["script"] and r["condition"]["domainType"] == "thirdParty"


def test_list_level_redirects_follow_what_the_lists_do():
    important = redirect_rules(site_tracker=[], everywhere=[], report_only=False, lists=_always("important"))
    assert {r["priority"] for r in important} == {131}
    assert redirect_rules(site_tracker=[], everywhere=[], report_only=False, lists=_always(None)) == []
    assert redirect_rules(site_tracker=[], everywhere=[], report_only=False, lists=None) == []
    # Report-only: the lists block nothing, so no stand-in; the person's own blocks still get theirs.
    report_only = redirect_rules(site_tracker=[], everywhere=[("google-analytics.com", "block")],
                                 report_only=True, lists=_always("block"))
    assert report_only and {r["priority"] for r in report_only} == {201}


def test_the_unsafe_rule_limit_is_kept_and_the_persons_blocks_go_first():
    many = [(f"site{i}.example", "google-analytics.com", "block") for i in range(3)]
    rules = redirect_rules(site_tracker=many, everywhere=[], report_only=False, lists=_always("block"), max_unsafe=3)
    assert len(rules) == 3 and rules[0]["priority"] == 401
    assert len(redirect_rules(site_tracker=[], everywhere=[], report_only=False, lists=_always("block"))) < MAX_UNSAFE_RULES


def test_redirects_count_against_the_rule_budget_before_list_filters():
    redirects = redirect_rules(site_tracker=[], everywhere=[], report_only=False, lists=_always("block"))
    _, rules = compile_rules(site_tracker=[], trusted_sites=[], everywhere=[], report_only=False,
                             list_filters=[parse_filter("||a.example^"), parse_filter("||b.example/x")],
                             redirects=redirects, max_rules=len(redirects) + 1,
                             translate=lambda parsed: {"urlFilter": parsed.text})
    assert len(rules) == len(redirects) + 1
    assert [r["id"] for r in rules] == list(range(1, len(rules) + 1))
    assert sum(r["action"]["type"] == "redirect" for r in rules) == len(redirects)


# -- precedence, on the compiled rules -----------------------------------------------------------------

_ACTION_RANK = {"allow": 4, "allowAllRequests": 3, "block": 2, "upgradeScheme": 1, "redirect": 0}


def _host_in(host: str, domains) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _matches(cond: dict, url: str, rtype: str, page: str) -> bool:
    req, top = parse_url(url), parse_url(page)
    if "resourceTypes" in cond and rtype not in cond["resourceTypes"]:
        return False
    if "requestDomains" in cond and not _host_in(req.host, cond["requestDomains"]):
        return False
    if "initiatorDomains" in cond and not _host_in(top.host, cond["initiatorDomains"]):
        return False
    if cond.get("domainType") == "thirdParty" and req.domain == top.domain:
        return False
    if "urlFilter" in cond and not surrogates._regex(cond["urlFilter"]).search(url):
        return False
    if "regexFilter" in cond:
        return False  # not used by these tests' rules
    return True


def browser_outcome(rules, url: str, page: str, rtype: str = "script") -> str:
    """'real', 'blocked' or the stand-in path: what Chrome would do with this request on this page."""
    candidates = [r for r in rules if r["action"]["type"] != "allowAllRequests" and _matches(r["condition"], url, rtype, page)]
    # allowAllRequests rules apply through the page's main frame.
    candidates += [r for r in rules if r["action"]["type"] == "allowAllRequests"
                   and _matches(r["condition"], page, "main_frame", page)]
    if not candidates:
        return "real"
    best = max(candidates, key=lambda r: (r["priority"], _ACTION_RANK[r["action"]["type"]]))
    kind = best["action"]["type"]
    if kind == "redirect":
        return best["action"]["redirect"]["extensionPath"]
    return "blocked" if kind == "block" else "real"


def rules_of(companion):
    return BrowserRules(companion, min_interval=0).get()[1]


def test_precedence_of_stand_ins_against_choices_and_trust(companion):
    assert browser_outcome(rules_of(companion), GA, NEWS) == "/surrogates/google-analytics.js"
    assert browser_outcome(rules_of(companion), GA, NEWS, "image") == "blocked"  # a GA pixel: no stand-in
    assert browser_outcome(rules_of(companion), "https://stats.g.doubleclick.net/p.gif", NEWS, "image") == "blocked"

    companion.set_trust("news.example", "day")
    assert browser_outcome(rules_of(companion), GA, NEWS) == "real"  # trusted: the real script
    assert browser_outcome(rules_of(companion), GA, "https://other.example/") == "/surrogates/google-analytics.js"

    companion.set_site_tracker("news.example", "google-analytics.com", "block")  # beats trust, with its stand-in
    assert browser_outcome(rules_of(companion), GA, NEWS) == "/surrogates/google-analytics.js"
    assert browser_outcome(rules_of(companion), GTM, NEWS) == "real"  # the rest of the trusted site is real

    companion.set_tracker("googletagmanager.com", "allow")  # allowed everywhere: real everywhere
    assert browser_outcome(rules_of(companion), GTM, "https://other.example/") == "real"
    companion.set_site_tracker("other.example", "googletagmanager.com", "block")  # but blocked here: stand-in
    assert browser_outcome(rules_of(companion), GTM, "https://other.example/") == "/surrogates/google-tag.js"

    companion.set_report_only(True)  # report-only: lists block nothing; the person's blocks still apply
    rules = rules_of(companion)
    assert browser_outcome(rules, GA, "https://third.example/") == "real"
    assert browser_outcome(rules, GTM, "https://other.example/") == "/surrogates/google-tag.js"


# -- where the stand-in is named -----------------------------------------------------------------------

def test_the_verdict_names_the_stand_in_of_a_blocked_script_only(companion):
    v = companion.check(GA, NEWS, "script")
    assert v.blocked and v.surrogate == "google-analytics" and v.to_dict()["surrogate"] == "google-analytics"
    assert companion.check(GA, NEWS, "image").surrogate is None
    assert companion.check("https://cdn.widgets.test/w.js", NEWS, "script").surrogate is None
    companion.set_trust("news.example", "hour")
    assert companion.check(GA, NEWS, "script").surrogate is None  # the real script loads


def test_the_api_and_the_openapi_document_carry_the_stand_in(client, auth):
    v = client.post("/api/v1/check", json={"url": GA, "page_url": NEWS, "type": "script"}, headers=auth).get_json()
    assert v["surrogate"] == "google-analytics"
    r = client.post("/api/v1/events", headers=auth, json={"events": [
        {"url": GA, "page_url": NEWS, "type": "script", "tab_id": 1, "browser_blocked": True}]})
    assert r.get_json()["results"][0]["verdict"]["surrogate"] == "google-analytics"
    doc = client.get("/api/v1/openapi.json", headers=auth).get_json()
    assert "surrogate" in doc["components"]["schemas"]["Verdict"]["properties"]
    site = client.get("/api/v1/sites/news.example", headers=auth).get_json()
    (ga,) = [t for t in site["third_parties"] if t["domain"] == "google-analytics.com"]
    assert "Google Analytics (analytics.js)" in ga["stand_ins"] and ga["blocked_now"] is True


def test_a_tracker_seen_only_through_pixels_has_no_stand_in_on_the_site_page(client, auth):
    pixel = "https://stats.g.doubleclick.net/collect?v=1"  # the host dc.js comes from, but an image
    client.post("/api/v1/events", headers=auth, json={"events": [
        {"url": pixel, "page_url": NEWS, "type": "image", "tab_id": 1},
        {"url": "https://www.google-analytics.com/g/collect", "page_url": NEWS, "type": "ping", "tab_id": 1}]})
    site = client.get("/api/v1/sites/news.example", headers=auth).get_json()
    parties = {t["domain"]: t for t in site["third_parties"]}
    assert parties["doubleclick.net"]["blocked_now"] and parties["doubleclick.net"]["stand_ins"] == []
    assert parties["google-analytics.com"]["stand_ins"] == []
    # Trusted: nothing is replaced, whatever was loaded.
    client.post("/api/v1/events", headers=auth, json={"events": [{"url": GA, "page_url": NEWS, "type": "script"}]})
    assert client.put("/api/v1/choices/trust/news.example", json={"duration": "hour"}, headers=auth).status_code == 200
    site = client.get("/api/v1/sites/news.example", headers=auth).get_json()
    assert all(t["stand_ins"] == [] for t in site["third_parties"])


def test_crumbs_check_says_replaced_with_a_stand_in(data_dir):
    data_dir.mkdir()  # a folder the person made: a named one that does not exist is refused
    out = CliRunner().invoke(cli_main, ["check", GA, "--page", NEWS, "--type", "script", "--data-dir", str(data_dir)])
    assert out.exit_code == 0, out.output
    assert "replaced with a stand-in: google-analytics" in out.output
    out = CliRunner().invoke(cli_main, ["check", GA, "--page", NEWS, "--type", "image", "--data-dir", str(data_dir)])
    assert "stand-in" not in out.output
