"""The popup served by the extension's worker with its first frame drawn in (issue 14, item 1).

Real headless Chromium with the extension and the real companion. The worker answers the popup's navigation
with popup.html and this page's rows already in it, so they are on screen as the document is parsed, before
any script of the popup runs; popup.js then takes those rows over (wires their buttons) without drawing
them again. Here: the served document itself, that nothing is redrawn, that a click on a served row acts,
and that the page keeps the extension pages' policy (no inline script).
"""

from __future__ import annotations

import re

import pytest

from .conftest import EXTENSION_ID, companion_away, news_page_recorded, wait_for
from .fakeweb import TRACKER_DOMAINS

pytestmark = pytest.mark.browser

# Counts the rows that come and go in the popup's lists, from before its first byte is parsed.
WATCH_ROWS = """(() => {
  if (!location.pathname.startsWith('/popup/')) return;
  window.__rows = {added: 0, removed: 0, scriptsRan: null};
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) if (n.nodeType === 1 && n.matches('li.tp')) window.__rows.added += 1;
      for (const n of r.removedNodes) if (n.nodeType === 1 && n.matches('li.tp')) window.__rows.removed += 1;
    }
  }).observe(document, {subtree: true, childList: true});
})()"""


def _rows_in(html: str) -> list[str]:
    return re.findall(r'<li class="tp [a-z]+" data-domain="([^"]+)"', html)


def test_the_worker_serves_the_popup_with_the_pages_rows_in_it_and_popup_js_takes_them_over(browser, companion):
    tab = news_page_recorded(browser, companion)
    with companion_away(browser, companion):
        popup = browser.ctx.new_page()
        popup.add_init_script(WATCH_ROWS)
        response = popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html?tab={tab}")
        popup.wait_for_selector("body[data-ready='true']")
        assert response.from_service_worker, "the worker answered the popup's navigation"
        served = response.text()
        assert response.headers["content-security-policy"].startswith("script-src 'self'")
        # The document itself holds the page's three trackers, the header and the away words.
        trackers = set(TRACKER_DOMAINS.values())
        assert trackers <= set(_rows_in(served)), served[-3000:]
        assert '<h1 id="site" class="site">news.example</h1>' in served
        assert "3 trackers on this page · none got through" in served
        assert "The companion is not answering." in served
        assert 'id="first-frame"' in served
        # popup.js found those rows and kept them: none drawn again, none taken away.
        rows = popup.evaluate("window.__rows")
        in_doc = popup.locator("li.tp[data-domain]").count()
        assert rows["removed"] == 0 and rows["added"] == in_doc == len(_rows_in(served)), rows
        assert popup.evaluate("document.querySelectorAll('li.tp[data-domain]')[0].dataset.domain") == _rows_in(served)[0]
        # ... and wired their buttons: a choice made while the companion is away is taken.
        ga = TRACKER_DOMAINS["ga"]
        popup.locator(f"li[data-domain='{ga}']").get_by_role("button", name="Allow on this site").click()
        popup.wait_for_selector("#away-note:not([hidden])")
        # (its request on this load was blocked, as the row still says; the choice is the one in force)
        row = popup.locator(f"li[data-domain='{ga}']")
        assert row.get_by_role("button", name="Allow on this site").get_attribute("aria-pressed") == "true"
        assert row.locator(".state").text_content() == "Blocked on this page"
        queued = browser.ev("self.crumbs.offline.list()")
        assert [(o["kind"], o["tracker"], o["action"]) for o in queued] == [("site-tracker", ga, "allow")], queued
        # The extension pages' policy holds on the served page: an inline script does not run.
        assert popup.evaluate("""() => { const s = document.createElement('script');
          s.textContent = 'window.__inline = 1'; document.head.append(s); return window.__inline === undefined; }""")


def test_the_served_popup_with_the_companion_up_is_taken_over_and_refined_by_its_answer(browser, companion):
    tab = news_page_recorded(browser, companion)
    popup = browser.ctx.new_page()
    popup.add_init_script(WATCH_ROWS)
    response = popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html?tab={tab}")
    popup.wait_for_selector("body[data-ready='true']")
    assert response.from_service_worker
    served = response.text()
    assert set(TRACKER_DOMAINS.values()) <= set(_rows_in(served))
    # The first frame says only what the page's requests did, and claims no choice in force.
    body = served[served.index("<body>"):]
    assert 'aria-pressed="true"' not in body and body.count('aria-busy="true"') == len(_rows_in(served))
    rows = popup.evaluate("window.__rows")
    assert rows["removed"] == 0, rows
    # The companion's answer is drawn in the same rows: its words and the choice in force.
    ga = TRACKER_DOMAINS["ga"]
    row = popup.locator(f"li[data-domain='{ga}']")
    assert row.get_by_role("button", name="Default").get_attribute("aria-pressed") == "true"
    assert popup.locator(".seg[aria-busy]").count() == 0
    row.get_by_role("button", name="Allow on this site").click()
    popup.wait_for_selector("#reload:not([hidden])")
    choices = companion.api("GET", "/api/v1/choices").json()
    assert [(c["site"], c["tracker"], c["action"]) for c in choices["site_tracker"]] == [("news.example", ga, "allow")]


def test_a_popup_for_a_tab_with_no_record_is_served_and_says_so(browser, companion):
    browser.pair(companion)
    popup = browser.ctx.new_page()
    response = popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html?tab=999999")
    popup.wait_for_selector("body[data-ready='true']")
    assert response.from_service_worker
    assert popup.locator("#site").text_content() == "This page is not a website"
    assert popup.locator("li[data-domain]").count() == 0


# Holds popup.js when boot.js asks for it, until the test lets it go: the span in which a person sees the
# served page and popup.js has not taken it over yet, made as long as the test needs.
HOLD_POPUP_JS = """(() => {
  if (!location.pathname.startsWith('/popup/')) return;
  const append = HTMLHeadElement.prototype.append;
  HTMLHeadElement.prototype.append = function (...nodes) {
    if (nodes.some((n) => n.src && n.src.endsWith('/popup/popup.js'))) {
      window.__releasePopupJs = () => append.apply(this, nodes);
      return;
    }
    return append.apply(this, nodes);
  };
})()"""


def test_the_served_popup_loads_popup_js_after_it_is_shown_and_keeps_a_click_made_before(browser, companion):
    """The browser shows a popup once its document has loaded, script files included: the served page names
    only boot.js, which asks for popup.js after the load and its first frame, and keeps a click made before
    popup.js took the page over; popup.js then makes it again."""
    tab = news_page_recorded(browser, companion)
    with companion_away(browser, companion):
        popup = browser.ctx.new_page()
        popup.add_init_script(HOLD_POPUP_JS)
        popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html?tab={tab}")
        popup.wait_for_function("typeof window.__releasePopupJs === 'function'")
        # Loaded (the browser shows the popup now), with no script of popup.js's in it: the served rows are
        # all the page has, and boot.js is what asked for popup.js.
        scripts = "[...document.scripts].filter((s) => s.src).map((s) => new URL(s.src).pathname)"
        loaded = "performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
        assert popup.evaluate(loaded) and popup.evaluate(scripts) == ["/popup/boot.js"]
        ga = TRACKER_DOMAINS["ga"]
        row = popup.locator(f"li[data-domain='{ga}']")
        row.get_by_role("button", name="Allow on this site").click()
        # Nothing acted on it yet (popup.js is held), and the served button did not take it as its own.
        assert browser.ev("self.crumbs.offline.list()") == []
        assert popup.locator("body[data-ready]").count() == 0
        popup.evaluate("window.__releasePopupJs()")
        popup.wait_for_selector("body[data-ready='true']")
        popup.wait_for_selector("#away-note:not([hidden])")
        assert row.get_by_role("button", name="Allow on this site").get_attribute("aria-pressed") == "true"
        queued = browser.ev("self.crumbs.offline.list()")
        assert [(o["kind"], o["tracker"], o["action"]) for o in queued] == [("site-tracker", ga, "allow")], queued
        assert sorted(popup.evaluate(scripts)) == ["/popup/boot.js", "/popup/popup.js"]
        # From here on a click is popup.js's own, at once: "Block on this site" takes the allow's place.
        row.get_by_role("button", name="Block on this site").click()
        site_ops = lambda: [(o["tracker"], o["action"]) for o in browser.ev("self.crumbs.offline.list()")  # noqa: E731
                            if o["kind"] == "site-tracker"]
        wait_for(lambda: site_ops() == [(ga, "block")], what="the block queued in the allow's place")
        assert row.get_by_role("button", name="Block on this site").get_attribute("aria-pressed") == "true"


def test_a_click_kept_before_popup_js_waits_for_the_companions_answer_like_any_click(browser, companion):
    """With the companion up, which choice "Default" undoes is the companion's to say: a kept click is made
    again only once that answer is awaited (it removed nothing when replayed on the served rows, which carry
    no choice). Of two buttons clicked on one row before popup.js ran, the last counts."""
    tab = news_page_recorded(browser, companion)
    ga, dc = TRACKER_DOMAINS["ga"], TRACKER_DOMAINS["dc"]
    assert companion.api("PUT", f"/api/v1/choices/sites/news.example/trackers/{ga}", json={"action": "block"}).ok
    popup = browser.ctx.new_page()
    popup.add_init_script(HOLD_POPUP_JS)
    popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html?tab={tab}")
    popup.wait_for_function("typeof window.__releasePopupJs === 'function'")
    popup.locator(f"li[data-domain='{ga}'] button[data-action='reset']").click()
    popup.locator(f"li[data-domain='{dc}'] button[data-action='block-here']").click()
    popup.locator(f"li[data-domain='{dc}'] button[data-action='allow-here']").click()  # the last one counts
    popup.evaluate("window.__releasePopupJs()")
    popup.wait_for_selector("body[data-ready='true']")
    site_choices = lambda: sorted((c["tracker"], c["action"])  # noqa: E731
                                  for c in companion.api("GET", "/api/v1/choices").json()["site_tracker"])
    wait_for(lambda: site_choices() == [(dc, "allow")], what="the block undone and the allow made")
    wait_for(lambda: popup.locator(f"li[data-domain='{ga}'] button[data-action='reset']").get_attribute("aria-pressed")
             == "true", what="the row saying its default is in force again")
