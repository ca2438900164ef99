"""The toolbar button's popup, opened as a person opens it (toolbar.py): Chromium with a window on a
virtual screen, `chrome.action.openPopup()`, the real companion.

The other popup tests open popup.html?tab=ID as a page, which names its tab. A click on the button names
none: the extension's worker serves the popup of the focused window's active tab, and popup.js checks it
asked about the same tab. Here: the popup is the tab in front's, drawn by the worker, and it acts; it
follows the person to another tab and back; with the companion away it still shows the page's record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import EXTENSION_ID, companion_away, news_page_recorded, wait_for
from .fakeweb import TRACKER_DOMAINS
from .toolbar import open_toolbar_popup

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "extension"

SHOWN = """(() => ({
  ready: document.body.dataset.ready === 'true',
  served: document.getElementById('first-frame') !== null,
  site: document.getElementById('site').textContent,
  summary: document.getElementById('page-summary').hidden ? null : document.getElementById('page-summary').textContent,
  status: document.getElementById('status').textContent,
  rows: [...document.querySelectorAll('#tracker-list li[data-domain]')].map((li) => li.dataset.domain),
}))()"""


def _open(browser, page):
    """Click the toolbar button with `page`'s tab in front; the popup once popup.js has drawn all it will."""
    popup = open_toolbar_popup(browser.sw, browser.devtools_port, EXTENSION_ID, page)
    shown = wait_for(lambda: (lambda v: v if v and v["ready"] else None)(popup.eval(SHOWN)),
                     what="the toolbar popup drawn")
    return popup, shown


def _page_at(browser, prefix: str):
    return next(p for p in browser.ctx.pages if p.url.startswith(prefix))


def test_the_toolbar_button_opens_the_popup_of_the_tab_in_front_and_it_acts(windowed_browser, companion):
    browser = windowed_browser
    news_page_recorded(browser, companion)
    news = _page_at(browser, "http://news.example/")
    popup, shown = _open(browser, news)
    assert shown["served"], "the worker drew the popup of the tab in front"
    assert shown["site"] == "news.example"
    assert set(TRACKER_DOMAINS.values()) <= set(shown["rows"]), shown
    assert shown["status"].startswith("3 trackers on this page"), shown
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    popup.screenshot(ARTIFACTS / "toolbar-popup-news.png")
    # A choice made in it reaches the companion.
    ga = TRACKER_DOMAINS["ga"]
    popup.eval(f"document.querySelector('li[data-domain={json.dumps(ga)}] button[data-action=\"allow-here\"]').click()")
    wait_for(lambda: [(c["site"], c["tracker"], c["action"])
                      for c in companion.api("GET", "/api/v1/choices").json()["site_tracker"]]
             == [("news.example", ga, "allow")], what="the choice at the companion")
    wait_for(lambda: popup.eval("!document.getElementById('reload').hidden"), what="the offer to reload")
    popup.close()

    # Another tab in front: its popup, not the last one's.
    plain = browser.ctx.new_page()
    plain.goto("http://plain.example/no-trackers.html")
    plain.wait_for_function("window.done === true")
    popup, shown = _open(browser, plain)
    assert shown["site"] == "plain.example" and shown["rows"] == [], shown
    popup.close()
    # And back.
    popup, shown = _open(browser, news)
    assert shown["site"] == "news.example" and set(TRACKER_DOMAINS.values()) <= set(shown["rows"]), shown
    popup.close()


def test_with_the_companion_away_the_toolbar_popup_shows_the_pages_own_record(windowed_browser, companion):
    browser = windowed_browser
    news_page_recorded(browser, companion)
    news = _page_at(browser, "http://news.example/")
    with companion_away(browser, companion):
        popup, shown = _open(browser, news)
        assert shown["served"] and shown["site"] == "news.example"
        assert shown["status"].startswith("The companion is not answering."), shown
        assert set(TRACKER_DOMAINS.values()) <= set(shown["rows"])
        assert shown["summary"] == "3 trackers on this page · none got through", shown
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        popup.screenshot(ARTIFACTS / "toolbar-popup-companion-away.png")
        popup.close()
