"""The popup draws the page's own record at once, then the companion's answer (issue 14, item 1).

Real headless Chromium with the extension and the real companion. The companion's answer for the site is
held back (the popup's ask for it waits until the test lets it go), so what
the popup shows before it is seen for sure, not by luck of timing: this page's third parties, in words
that only say what their requests did, and no button claiming which choice is in force. A click made
then waits for the companion's answer and acts on it.
"""

from __future__ import annotations

import pytest

from .conftest import EXTENSION_ID, news_page_recorded, wait_for
from .fakeweb import TRACKER_DOMAINS

pytestmark = pytest.mark.browser


def test_the_popup_shows_the_page_before_the_companion_answers_and_a_click_waits_for_it(browser, companion):
    # The extension's record of the page is complete: three trackers, named by the companion's verdicts.
    tab = news_page_recorded(browser, companion)

    popup = browser.ctx.new_page()
    # Hold the popup's ask for the companion's answer (to the background, which asks the companion) until
    # the test lets it go: the real message, only later.
    popup.add_init_script("""(() => {
      if (!location.pathname.startsWith('/popup/')) return;
      const send = chrome.runtime.sendMessage.bind(chrome.runtime);
      let release;
      const released = new Promise((r) => { release = r; });
      window.__held = 0;
      window.__release = () => release();
      chrome.runtime.sendMessage = (msg, ...rest) => {
        if (msg && msg.type === 'site') { window.__held += 1; return released.then(() => send(msg, ...rest)); }
        return send(msg, ...rest);
      };
    })()""")
    popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html?tab={tab}")
    popup.wait_for_selector("body[data-drawn='true']")
    popup.wait_for_function("window.__held > 0")

    # Before the answer: the page's three trackers, as its requests went; nothing of the companion's own.
    seen = popup.evaluate("""() => ({
      ready: document.body.dataset.ready || null,
      site: document.getElementById('site').textContent,
      status: document.getElementById('status').textContent,
      states: Object.fromEntries([...document.querySelectorAll('li[data-domain]')]
        .map((li) => [li.dataset.domain, li.querySelector('.state').textContent])),
      counts: document.querySelector('#tracker-list li .counts').textContent,
      rows: document.querySelectorAll('li[data-domain]').length,
      pressed: document.querySelectorAll("button[aria-pressed='true']").length,
      busy: document.querySelectorAll(".seg[aria-busy='true']").length,
      trustHidden: document.getElementById('trust').hidden,
    })""")
    assert seen["ready"] is None, seen
    assert seen["site"] == "news.example"
    assert seen["status"] == "3 trackers on this page · none got through", seen
    assert {seen["states"][d] for d in TRACKER_DOMAINS.values()} == {"Blocked on this page"}, seen
    assert seen["counts"].startswith("On this page: 1 request"), seen
    # Which choice is in force is the companion's to say: no button claims it yet, and trust is not offered.
    assert seen["rows"] >= 4 and seen["busy"] == seen["rows"] and seen["pressed"] == 0, seen  # trackers, widgets.test
    assert seen["trustHidden"] is True

    # A click now waits for the answer, then acts on it.
    ga = TRACKER_DOMAINS["ga"]
    popup.locator(f"li[data-domain='{ga}']").get_by_role("button", name="Block on this site").click()
    popup.wait_for_timeout(100)
    assert companion.api("GET", "/api/v1/choices").json()["site_tracker"] == [], "nothing chosen before the answer"
    popup.evaluate("window.__release()")

    popup.wait_for_selector("body[data-ready='true']")
    popup.wait_for_selector("#reload:not([hidden])")
    choices = companion.api("GET", "/api/v1/choices").json()
    assert [(c["site"], c["tracker"], c["action"]) for c in choices["site_tracker"]] == [("news.example", ga, "block")]
    # The companion's words and choices now, each row where it was.
    row = popup.locator(f"li[data-domain='{ga}']")
    assert row.locator(".state").text_content().startswith("Blocked on this site by you")
    assert row.get_by_role("button", name="Block on this site").get_attribute("aria-pressed") == "true"
    assert popup.locator(".seg[aria-busy]").count() == 0
    assert popup.locator("#trust").is_visible()


def test_the_popup_opened_for_the_active_tab_asks_about_that_tab(browser, companion):
    """Without ?tab= (as from the toolbar) the popup and the background look up the active tab in parallel;
    here the active tab is the popup's own page, which is no website, and the popup says so."""
    browser.pair(companion)
    browser.open("http://news.example/article")
    popup = browser.ctx.new_page()
    popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html")
    popup.wait_for_selector("#power:not([hidden])")
    assert popup.locator("#site").text_content() == "This page is not a website"
    assert popup.locator("#status").text_content() == "Crumbs shows trackers on websites only."
    assert popup.locator("li[data-domain]").count() == 0
    asked = popup.evaluate("chrome.tabs.query({active: true, currentWindow: true})"
                           ".then(([t]) => chrome.runtime.sendMessage({type: 'tab-info', active: true})"
                           ".then((info) => [t.id, info.tabId]))")
    assert asked[0] == asked[1], asked


def test_a_companion_gone_unnoticed_is_said_away_when_the_popup_opens_and_no_choice_is_said_lost(browser, companion):
    browser.pair(companion)
    browser.open("http://news.example/article")
    tab = browser.tab_id("http://news.example/*")
    wait_for(lambda: browser.ev(f"self.crumbs.tabs().summary({tab}).domains.every((d) => d.pending === 0)"),
             what="the companion's verdicts for every request of the page")
    companion.stop()  # the extension may not have noticed yet: the popup's ask for the site finds out
    try:
        popup = browser.popup(tab)
        assert popup.locator("#status").text_content().startswith("The companion is not answering."), (
            popup.locator("#status").text_content())
        assert popup.locator("#power").text_content() == "Blocking · companion away"
        assert popup.locator("#error").is_hidden(), popup.locator("#error").text_content()
        assert {popup.locator(f"li[data-domain='{d}']").count() for d in TRACKER_DOMAINS.values()} == {1}
        assert popup.locator("#page-summary").text_content() == "3 trackers on this page · none got through"
    finally:
        companion.start()


def test_the_tab_record_asked_for_the_popup_starts_the_companions_answer_which_serves_one_ask(browser, companion):
    """The popup's tab-info message (with `prefetch`) makes the background ask the companion for the site at
    once; the popup's later `site` ask gets that answer, once: a second ask goes to the companion again. A
    choice made between the two shows which answer each ask got."""
    browser.pair(companion)
    browser.open("http://news.example/article")
    tab = browser.tab_id("http://news.example/*")
    wait_for(lambda: browser.ev(f"self.crumbs.tabs().summary({tab}).domains.every((d) => d.pending === 0)"),
             what="the companion's verdicts for every request of the page")
    page = browser.ctx.new_page()  # any page of the extension may send the popup's messages
    page.goto(f"chrome-extension://{EXTENSION_ID}/welcome/welcome.html")
    info = page.evaluate(f"chrome.runtime.sendMessage({{type: 'tab-info', tabId: {tab}, prefetch: true}})")
    assert info["site"] == "news.example", info
    assert wait_for(lambda: browser.ev("""(async () => {
      const early = self.crumbs.siteAsked().get('news.example');
      return Boolean(early && (await early.answer).body);
    })()"""), what="the companion's answer asked with the tab's record")

    ga = TRACKER_DOMAINS["ga"]
    companion.api("PUT", f"/api/v1/choices/sites/news.example/trackers/{ga}", json={"action": "allow"}).raise_for_status()
    ask = "chrome.runtime.sendMessage({type: 'site', site: 'news.example'}).then((a) => a.body.third_parties)"
    first = {tp["domain"]: tp["choice"]["here"] for tp in page.evaluate(ask)}
    second = {tp["domain"]: tp["choice"]["here"] for tp in page.evaluate(ask)}
    assert first[ga] is None, "the first ask gets the answer asked with the tab's record, before the choice"
    assert second[ga] == "allow", "a second ask goes to the companion"
    assert browser.ev("self.crumbs.siteAsked().size") == 0

    # Without `prefetch` (the welcome page's own ask) nothing is asked ahead.
    page.evaluate(f"chrome.runtime.sendMessage({{type: 'tab-info', tabId: {tab}}})")
    page.wait_for_timeout(200)
    assert browser.ev("self.crumbs.siteAsked().size") == 0
