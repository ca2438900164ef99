""""Page broken?" in the popup, end to end in headless Chromium with the real companion: one click trusts
the site for an hour, reloads the tab (whose trackers then load), and the companion keeps a report of the
trackers that were blocked on the page."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import wait_for
from .fakeweb import TRACKER_DOMAINS, TRACKER_HOSTS, failed

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "extension"


def test_page_broken_trusts_for_an_hour_reloads_and_records_the_blocked_trackers(browser, companion):
    browser.pair(companion)
    page = browser.open("http://news.example/article")
    assert failed(page) == {"ga", "dc", "fb"}
    tab = browser.tab_id("http://news.example/*")
    wait_for(lambda: browser.badge(tab)["text"] == "3", what="the three blocked trackers counted")

    popup = browser.popup(tab)
    popup.wait_for_selector("#broken:not([hidden])")
    popup.set_viewport_size({"width": 420, "height": 900})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    popup.screenshot(path=str(ARTIFACTS / "popup-page-broken.png"), full_page=True)
    browser.web.clear()
    before = time.time() * 1000
    with page.expect_navigation():
        popup.get_by_role("button", name="Page broken?").click()
    page.wait_for_function("window.done === true")

    # Trusted for an hour, so after the reload every tracker on the page loaded.
    assert set(page.evaluate("window.loaded")) == {"own", "ga", "dc", "fb", "widget"}
    assert all(browser.web.hits(h) for h in TRACKER_HOSTS.values())
    trusted = companion.api("GET", "/api/v1/choices").json()["trusted"]
    assert [t["site"] for t in trusted] == ["news.example"]
    assert before + 3_500_000 < trusted[0]["until"] < time.time() * 1000 + 3_700_000

    # The report: this site, and the trackers the browser had blocked on the page.
    reports = companion.api("GET", "/api/v1/breakage").json()["reports"]
    assert [(r["site"], r["trackers"]) for r in reports] == [("news.example", sorted(TRACKER_DOMAINS.values()))]

    # The popup, shown again for the same tab, says what happened.
    popup.wait_for_selector("#broken-done:not([hidden])")
    assert "trusts news.example for an hour" in popup.locator("#broken-done").text_content()
    assert popup.locator("#trust-state").text_content().startswith("You trust this site until")
