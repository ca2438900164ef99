"""The breakage suite: pages that depend on a blocked script's API keep working with Crumbs' stand-ins.

In a real headless Chromium with the extension and the real companion. For every stand-in, a local page
(tests/browser/breakage_pages.py) uses the script's API the way sites do; the test checks the page's own
outcome (a link followed in a callback, an ad slot filled by the page, the content video playing), and the
fake web's log for the tracker's hosts. The same pages with the same blocking rules minus the redirects
(what blocking without stand-ins would do) fail, which shows the stand-ins are what makes them work.
Precedence: on a trusted site, or for a tracker the person allows, the real script is fetched; a block the
person set for the tracker on a trusted site still gets the stand-in.
"""

from __future__ import annotations

import json

import pytest

from .breakage_pages import BY_NAME, SCENARIOS, SITE, serve
from .conftest import EXTENSION_ID, wait_for

pytestmark = pytest.mark.browser


def visit(browser, scenario, settle_ms: int = 0):
    """Open the scenario's page, do its click if any, and return the page."""
    page = browser.ctx.new_page()
    page.goto(scenario.url)
    page.wait_for_function("window.done === true")
    if scenario.click:
        page.click(scenario.click)
    if settle_ms:
        page.wait_for_timeout(settle_ms)
    return page


def works(page, scenario, timeout_ms: int = 8000) -> bool:
    try:
        page.wait_for_function(scenario.works, timeout=timeout_ms)
        return True
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: the page's path never completed
        return False


def tracker_hits(browser, scenario) -> list[dict]:
    return [h for host in scenario.tracker_hosts for h in browser.web.hits(host)]


def test_every_stand_in_keeps_its_page_working_while_the_tracker_gets_nothing(browser, companion):
    serve(browser.web)
    browser.pair(companion)
    rules = companion.api("GET", "/api/v1/dnr").json()["rules"]
    redirects = {r["action"]["redirect"]["extensionPath"] for r in rules if r["action"]["type"] == "redirect"}
    assert len(redirects) >= len({s.name for s in SCENARIOS}) - 1  # gtag and gtm share one stand-in

    for scenario in SCENARIOS:
        page = visit(browser, scenario)
        assert works(page, scenario), (scenario.name, page.evaluate("window.errors"))
        assert tracker_hits(browser, scenario) == [], scenario.name
        page.close()

    # use_dynamic_url: a page cannot fetch a stand-in at the extension's fixed ID (only the browser's redirect can).
    probe = browser.ctx.new_page()
    probe.goto(BY_NAME["comscore"].url)
    fetched = probe.evaluate(
        "fetch('chrome-extension://' + arguments_id + '/surrogates/google-analytics.js')"
        ".then(r => 'fetched ' + r.status, e => 'error')".replace("arguments_id", json.dumps(EXTENSION_ID)))
    assert fetched == "error"

    # The companion was told: the verdicts name the stand-in, the site's page says "replaced".
    parties = wait_for(lambda: (got := {t["domain"]: t for t in companion.site(SITE)["third_parties"]})
                       and "google-analytics.com" in got and "googletagmanager.com" in got and got,
                       what="the companion to record the stand-in pages")
    ga = parties["google-analytics.com"]
    assert ga["blocked"] >= 1 and ga["blocked_now"] is True
    assert "Google Analytics (analytics.js)" in ga["stand_ins"]
    verdict = companion.api("POST", "/api/v1/check", json={
        "url": "https://www.google-analytics.com/analytics.js", "page_url": scenario_url("google-analytics"),
        "type": "script"}).json()
    assert verdict["blocked"] is True and verdict["surrogate"] == "google-analytics"


def scenario_url(name: str) -> str:
    return BY_NAME[name].url


def test_the_same_pages_break_when_blocking_has_no_stand_ins(browser, companion):
    """Crumbs' own rules minus the redirects, installed by hand in an unpaired extension: plain blocking."""
    serve(browser.web)
    rules = companion.api("GET", "/api/v1/dnr").json()["rules"]
    plain = [r for r in rules if r["action"]["type"] != "redirect"]
    assert len(plain) < len(rules)
    browser.ev(f"chrome.declarativeNetRequest.updateDynamicRules({{addRules: {json.dumps(plain)}}})")

    broken = []
    for scenario in SCENARIOS:
        page = visit(browser, scenario, settle_ms=300)
        if not works(page, scenario, timeout_ms=1500):
            broken.append(scenario.name)
        assert tracker_hits(browser, scenario) == [], scenario.name  # blocked all the same
        page.close()
    assert broken == [s.name for s in SCENARIOS]


def test_a_trusted_site_or_an_allowed_tracker_gets_the_real_script(browser, companion):
    serve(browser.web)
    ga = BY_NAME["google-analytics"]
    gtm = BY_NAME["google-tag-manager"]
    assert companion.api("PUT", f"/api/v1/choices/trust/{SITE}", json={"duration": "day"}).ok
    browser.pair(companion)

    page = visit(browser, gtm)
    wait_for(lambda: browser.web.hits("www.googletagmanager.com"), what="the real gtm.js to be fetched")
    assert page.evaluate("window.google_tag_manager === undefined")  # the fake web's gtm.js is not the stand-in

    # A block the person set for this tracker on the trusted site still wins (400 over trust's 300), and it
    # comes with the stand-in (401): the page works, Google gets nothing.
    assert companion.api("PUT", f"/api/v1/choices/sites/{SITE}/trackers/google-analytics.com",
                         json={"action": "block"}).ok
    browser.wait_rules(companion.api("GET", "/api/v1/dnr").json()["version"])
    browser.web.clear()
    page = visit(browser, ga)
    assert works(page, ga)
    assert browser.web.hits("www.google-analytics.com") == []

    # Not trusted any more, but Google Tag Manager allowed everywhere (200 over the lists' 101 redirect).
    assert companion.api("DELETE", f"/api/v1/choices/trust/{SITE}").ok
    assert companion.api("PUT", "/api/v1/choices/trackers/googletagmanager.com", json={"action": "allow"}).ok
    browser.wait_rules(companion.api("GET", "/api/v1/dnr").json()["version"])
    browser.web.clear()
    page = visit(browser, gtm)
    wait_for(lambda: browser.web.hits("www.googletagmanager.com"), what="the real gtm.js for an allowed tracker")
    assert page.evaluate("window.google_tag_manager === undefined")
    # ... while other stand-ins on the same page still apply.
    page = visit(browser, BY_NAME["google-publisher-tag"])
    assert works(page, BY_NAME["google-publisher-tag"])
    assert browser.web.hits("securepubads.g.doubleclick.net") == []
