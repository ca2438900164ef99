"""Click-to-load placeholders and Global Privacy Control, end to end in headless Chromium.

What is observed: the page (placeholders, what page script reads), the fake web's request log (which
requests reached the embed's server, and with which Sec-GPC header) and the companion's stored choices.
Embeds are blocked the way a person gets there: by blocking the embed's company (here from the API,
as the popup or `crumbs block` would), since the shipped lists leave the players themselves alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import wait_for
from .embedpages import X_HOST, YOUTUBE_HOST

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "extension"


def block_everywhere(companion, *trackers: str) -> None:
    for tracker in trackers:
        assert companion.api("PUT", f"/api/v1/choices/trackers/{tracker}", json={"action": "block"}).ok


def embed_hits(browser, host: str, prefix: str) -> list[dict]:
    return [h for h in browser.web.hits(host) if h["path"].startswith(prefix)]


def gpc_ready(browser) -> None:
    browser.ev("self.crumbsExtras.gpc.sync()")


def test_a_blocked_video_gets_a_placeholder_and_loads_on_one_click_in_that_tab_only(browser, companion):
    block_everywhere(companion, "youtube.com", "twitter.com")
    browser.pair(companion)
    page = browser.open("http://news.example/embeds.html")

    # Blocked: the player's server saw nothing, and a placeholder of the frame's size stands in its place.
    holder = page.locator("[data-crumbs-ctl='youtube']")
    holder.wait_for()
    assert embed_hits(browser, YOUTUBE_HOST, "/embed/") == []
    assert page.locator("iframe#video").count() == 0
    box = holder.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (480, 270)
    region = page.get_by_role("region", name="YouTube video blocked by Crumbs")
    assert "Google (YouTube) will see your visit on news.example" in region.text_content()
    assert page.locator("[data-crumbs-ctl] img, [data-crumbs-ctl] link").count() == 0  # nothing remote
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "clicktoload-placeholder.png"), full_page=True)

    # A page's own script cannot press the button for the person.
    page.evaluate("""document.querySelector("[data-crumbs-ctl='youtube']").shadowRoot
                     .querySelector('button').click()""")
    page.wait_for_timeout(500)
    assert embed_hits(browser, YOUTUBE_HOST, "/embed/") == []

    # One real click loads it in this frame now: the player's server sees the request.
    page.get_by_role("button", name="Load YouTube video").click()
    wait_for(lambda: embed_hits(browser, YOUTUBE_HOST, "/embed/"), what="the player to be requested")
    page.locator("iframe#video").wait_for()
    assert page.locator("[data-crumbs-ctl='youtube']").count() == 0
    player = page.frame_locator("iframe#video").locator("#player")
    assert player.text_content() == "the player"

    # Another site stays blocked...
    browser.web.clear()
    other = browser.open("http://other.example/embeds.html")
    other.locator("[data-crumbs-ctl='youtube']").wait_for()
    # ... and so does the next page in the same tab.
    with page.expect_navigation():
        page.goto("http://news.example/embeds.html?next")
    page.locator("[data-crumbs-ctl='youtube']").wait_for()
    assert embed_hits(browser, YOUTUBE_HOST, "/embed/") == []
    # Nothing was stored: that was for one frame, once.
    assert companion.api("GET", "/api/v1/choices").json()["site_tracker"] == []


def test_allow_on_this_site_persists_as_a_companion_choice(browser, companion):
    block_everywhere(companion, "youtube.com", "twitter.com")
    browser.pair(companion)
    page = browser.open("http://news.example/embeds.html")
    page.get_by_role("button", name="Always allow YouTube on news.example").click()
    wait_for(lambda: embed_hits(browser, YOUTUBE_HOST, "/embed/"), what="the player to be requested")
    choices = companion.api("GET", "/api/v1/choices").json()["site_tracker"]
    assert [(c["site"], c["tracker"], c["action"]) for c in choices] == [("news.example", "youtube.com", "allow")]

    # A new page on the site loads it without asking (the companion's rule, not the tab's session rule).
    browser.web.clear()
    again = browser.open("http://news.example/embeds.html?later")
    again.locator("iframe#video").wait_for()
    wait_for(lambda: embed_hits(browser, YOUTUBE_HOST, "/embed/"), what="the player on the allowed site")
    assert again.locator("[data-crumbs-ctl='youtube']").count() == 0
    # The X post is still blocked there (only YouTube was allowed), and YouTube elsewhere.
    again.locator("[data-crumbs-ctl='x']").wait_for()
    browser.web.clear()
    other = browser.open("http://other.example/embeds.html")
    other.locator("[data-crumbs-ctl='youtube']").wait_for()
    assert embed_hits(browser, YOUTUBE_HOST, "/embed/") == []


def test_a_blocked_widget_script_gets_a_placeholder_and_builds_its_post_when_loaded(browser, companion):
    block_everywhere(companion, "twitter.com")
    browser.pair(companion)
    page = browser.open("http://news.example/embeds.html")
    page.locator("[data-crumbs-ctl='x']").wait_for()
    assert embed_hits(browser, X_HOST, "/widgets.js") == []
    assert page.locator("blockquote.twitter-tweet").is_hidden()
    page.get_by_role("button", name="Load X (Twitter) post").click()
    # The widget script ran and its own frame loaded (the frame from the embed's host is let through too).
    page.locator("iframe.x-embed").wait_for()
    assert page.evaluate("window.xWidgetsRan") == 1
    wait_for(lambda: embed_hits(browser, X_HOST, "/embed/"), what="the post's frame to be requested")
    assert embed_hits(browser, X_HOST, "/widgets.js")


def test_on_a_trusted_site_or_for_an_allowed_tracker_the_embed_just_loads(browser, companion):
    block_everywhere(companion, "youtube.com")
    assert companion.api("PUT", "/api/v1/choices/trust/trusted.example", json={"duration": "day"}).ok
    browser.pair(companion)
    page = browser.open("http://trusted.example/embeds.html")
    page.locator("iframe#video").wait_for()
    wait_for(lambda: embed_hits(browser, YOUTUBE_HOST, "/embed/"), what="the player on the trusted site")
    page.wait_for_timeout(300)
    assert page.locator("[data-crumbs-ctl]").count() == 0


def test_gpc_header_on_the_page_and_its_subrequests_and_the_page_reads_true(browser, companion):
    gpc_ready(browser)
    page = browser.open("http://news.example/gpc.html")
    assert page.evaluate("window.gpc") is True  # read by the page's first script, at document start
    assert page.evaluate("navigator.globalPrivacyControl") is True
    wait_for(lambda: browser.web.hits("cdn.widgets.test"), what="the third-party image")
    own = browser.web.hits("news.example")
    assert {h["path"] for h in own} >= {"/gpc.html", "/first-party.js", "/api/ping"}
    for hit in own + browser.web.hits("cdn.widgets.test"):
        assert hit["gpc"] == "1", hit

    # A trusted site gets what the setting says, like any other.
    browser.pair(companion)
    assert companion.api("PUT", "/api/v1/choices/trust/news.example", json={"duration": "hour"}).ok
    browser.wait_rules(companion.api("GET", "/api/v1/dnr").json()["version"])
    browser.web.clear()
    trusted = browser.open("http://news.example/gpc.html?trusted")
    assert trusted.evaluate("window.gpc") is True
    hits = browser.web.hits("news.example") + browser.web.hits("cdn.widgets.test")
    assert hits and all(h["gpc"] == "1" for h in hits), hits


def test_gpc_turned_off_in_the_popup_sends_neither_header_nor_flag(browser, companion):
    browser.pair(companion)
    gpc_ready(browser)
    first = browser.open("http://news.example/gpc.html")
    tab = browser.tab_id("http://news.example/*")
    popup = browser.popup(tab)
    box = popup.get_by_role("checkbox", name="Send Global Privacy Control")
    assert box.is_checked()
    box.uncheck()
    wait_for(lambda: browser.ev("chrome.storage.local.get('gpc').then(r => r.gpc)") is False, what="the setting saved")
    wait_for(lambda: browser.ev("chrome.declarativeNetRequest.getEnabledRulesets()") == [], what="the header ruleset off")
    gpc_ready(browser)
    # The companion keeps the setting too.
    wait_for(lambda: companion.api("GET", "/api/v1/settings/gpc").json() == {"gpc": False}, what="the companion's copy")

    browser.web.clear()
    page = browser.open("http://news.example/gpc.html?off")
    assert page.evaluate("window.gpc") is not True
    assert page.evaluate("navigator.globalPrivacyControl") is not True
    wait_for(lambda: browser.web.hits("cdn.widgets.test"), what="the third-party image")
    hits = browser.web.hits("news.example") + browser.web.hits("cdn.widgets.test")
    assert hits and all(h["gpc"] is None for h in hits), hits

    # And back on.
    popup.reload()
    popup.wait_for_selector("body[data-ready='true']")
    popup.get_by_role("checkbox", name="Send Global Privacy Control").check()
    wait_for(lambda: browser.ev("chrome.declarativeNetRequest.getEnabledRulesets()") == ["gpc"], what="the header ruleset on")
    gpc_ready(browser)
    browser.web.clear()
    browser.reloaded(first, first.reload)
    assert first.evaluate("window.gpc") is True
    assert all(h["gpc"] == "1" for h in browser.web.hits("news.example"))
