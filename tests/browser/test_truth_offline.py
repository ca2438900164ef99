"""End to end: what Crumbs says matches what reached the servers, and the popup stays useful with the companion away.

Real headless Chromium with the extension, the real companion, and the fake web whose request log is the
truth about what left the browser. Adds three pages to the fake web: one where a tracker company has one
request blocked and one let through (a path the lists do not name), one that loads a font through
@font-face (cacheable, so a second visit is served from the browser's cache), and reuses the news pages.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from .conftest import EXTENSION_ID, wait_for
from .fakeweb import GIF, TRACKER_DOMAINS, TRACKER_HOSTS, WIDGET_HOST, FakeWeb, Server, failed, make_cert

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "extension"

GOOGLE = "www.google.com"
BLOCKED_PATH = "/pagead/1p-user-list/42/pixel.gif"  # ||google.com/pagead/ in the shipped list
THROUGH_PATH = "/recaptcha/api.js"  # no filter names it
FONT_HOST = "fonts.fontcdn.test"
FONT_URL = f"http://{FONT_HOST}/crumbs-sans.woff2"
OWN_PAGE = "www.ownsite.example"  # a page, and another host of its own site
OWN_ASSET = "img.ownsite.example"  # http: Chromium caches nothing from a certificate it had to ignore


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><script>window.loaded=[];window.failed=[];</script></head>"
            f"<body>{body}<script>window.addEventListener('load',()=>{{window.done=true;}});</script></body></html>")


class TruthWeb(FakeWeb):
    """The shared fake web, plus the pages of this module."""

    def __call__(self, environ, start_response):
        req = Request(environ)
        host = (req.host or "").split(":")[0]
        resp = None
        if host == "partly.example" and req.path == "/":
            resp = Response(_page("partly", (
                f'<img src="https://{GOOGLE}{BLOCKED_PATH}" onload="loaded.push(\'pagead\')" onerror="failed.push(\'pagead\')">'
                f'<script src="https://{GOOGLE}{THROUGH_PATH}?render=explicit" onload="loaded.push(\'recaptcha\')"'
                ' onerror="failed.push(\'recaptcha\')"></script>')), content_type="text/html")
        elif host == "font.example" and req.path == "/":
            resp = Response(_page("font", (
                f"<style>@font-face{{font-family:CrumbsSans;src:url({FONT_URL}) format('woff2')}}"
                "body{font-family:CrumbsSans,sans-serif}</style><p>Some text in a web font.</p>"
                "<script>document.fonts.load('16px CrumbsSans').finally(()=>{window.fontTried=true;});</script>")),
                content_type="text/html")
            resp.headers["Cache-Control"] = "no-store"
        elif host == OWN_PAGE and req.path == "/":
            resp = Response(_page("own", (
                f'<img src="http://{OWN_ASSET}/logo.gif" onload="loaded.push(\'own\')">'
                f'<img src="https://{TRACKER_HOSTS["ga"]}/collect?v=1" onerror="failed.push(\'ga\')">')),
                content_type="text/html")
            resp.headers["Cache-Control"] = "no-store"
        elif host == FONT_HOST:
            resp = Response(b"wOF2-not-really", content_type="font/woff2")
            resp.headers["Access-Control-Allow-Origin"] = "*"
            resp.headers["Cache-Control"] = "public, max-age=3600"  # a second visit is served from the cache
        elif host == GOOGLE and req.path.startswith("/pagead/"):
            resp = Response(GIF, content_type="image/gif")
            resp.headers["Cache-Control"] = "no-store"
        if resp is None:
            return super().__call__(environ, start_response)
        with self.lock:
            self.log.append({"host": host, "path": req.path, "scheme": req.scheme,
                             "referer": req.headers.get("Referer", "")})
        return resp(environ, start_response)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """This module's fake web (shadows the shared one) over http and https, sharing one request log."""
    folder = tmp_path_factory.mktemp("tls-truth")
    app = TruthWeb(log=[], lock=threading.Lock())
    http = Server(app)
    https = Server(app, ssl_context=tuple(str(p) for p in make_cert(folder)))
    yield {"app": app, "http": http, "https": https}
    http.close()
    https.close()


def colour(browser, tab: int) -> list[int]:
    return browser.ev(f"chrome.action.getBadgeBackgroundColor({{tabId: {tab}}})")


GREEN = [0x1B, 0x7F, 0x3B]


def test_a_partly_blocked_tracker_is_said_to_be_partly_blocked(browser, companion):
    browser.pair(companion)
    page = browser.open("http://partly.example/")
    tab = browser.tab_id("http://partly.example/*")

    # The truth: the listed path never reached the server, the unlisted one did.
    assert set(page.evaluate("window.failed")) == {"pagead"}
    assert set(page.evaluate("window.loaded")) == {"recaptcha"}
    google_paths = [h["path"] for h in browser.web.hits(GOOGLE)]
    assert google_paths == [THROUGH_PATH], google_paths

    # The badge: one tracker domain, not green, and the tooltip says one request got through.
    badge = wait_for(lambda: (b := browser.badge(tab))["text"] == "1" and "got through" in b["title"] and b,
                     what="badge 1 with requests that got through")
    assert "1 request got through" in badge["title"], badge
    assert colour(browser, tab)[:3] != GREEN

    # The companion has both requests, as one tracker of this site.
    recorded = wait_for(lambda: (t := companion.third_party("partly.example", "google.com")) and t["requests"] == 2 and t,
                        what="google.com recorded on partly.example")
    assert recorded["tracker"] is True

    # The popup: "Partly blocked", and which request got through and why.
    popup = browser.popup(tab)
    row = popup.locator("li[data-domain='google.com']")
    row.wait_for()
    assert row.locator(".state").text_content() == "Partly blocked — 1 of 2 requests got through"
    assert "Blocked" != row.locator(".state").text_content()
    assert row.locator(".counts").text_content() == "On this page: 2 requests, 1 blocked, 1 got through"
    row.locator(".through summary").click()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    popup.set_viewport_size({"width": 400, "height": 700})
    popup.screenshot(path=str(ARTIFACTS / "popup-partly-blocked.png"), full_page=True)
    through = row.locator(".through-list li")
    assert through.count() == 1
    text = through.first.text_content()
    assert f"{GOOGLE}{THROUGH_PATH}" in text and "no filter names this address" in text, text
    assert "render=explicit" not in text  # the query (often an identifier) is not shown
    assert "Google" in row.locator(".owner").text_content()


def test_another_host_of_the_pages_own_site_is_reported_but_not_called_a_third_party(browser, companion):
    """The extension no longer guesses sites: img.ownsite.example is reported, and the companion's verdict
    (first party) keeps it out of the page's third parties, the badge and the popup."""
    browser.pair(companion)
    page = browser.open(f"http://{OWN_PAGE}/")
    tab = browser.tab_id(f"http://{OWN_PAGE}/*")
    assert page.evaluate("window.loaded") == ["own"]
    assert [h["path"] for h in browser.web.hits(OWN_ASSET)] == ["/logo.gif"]  # it was really requested

    summary = wait_for(lambda: (t := browser.ev(f"self.crumbs.tabs().summary({tab})")) and t["pageDomain"]
                       and t["domains"] and all(d["pending"] == 0 for d in t["domains"]) and t,
                       what="the companion's verdicts for the page")
    assert summary["pageDomain"] == "ownsite.example"
    assert [d["domain"] for d in summary["domains"]] == ["google-analytics.com"], summary["domains"]
    assert browser.badge(tab)["text"] == "1"

    popup = browser.popup(tab)
    assert popup.locator("#site").text_content() == "ownsite.example"
    popup.locator("li[data-domain='google-analytics.com']").wait_for()
    assert popup.locator("li[data-domain='ownsite.example']").count() == 0
    assert popup.locator("li[data-domain='img.ownsite.example']").count() == 0


def test_a_font_counts_once_and_a_cached_font_reaches_no_one(browser, companion):
    browser.pair(companion)
    # Watch for Chromium's cache-only attempts, to say in the report whether this run had one.
    browser.ev("""self.__errors = []; chrome.webRequest.onErrorOccurred.addListener(
                    (d) => self.__errors.push([d.url, d.error]), {urls: ['<all_urls>']}); true""")
    page = browser.open("http://font.example/")
    page.wait_for_function("window.fontTried === true")
    tab = browser.tab_id("http://font.example/*")
    sent = len(browser.web.hits(FONT_HOST))
    assert sent == 1

    def font_on_page():
        tp = next((d for d in browser.ev(f"self.crumbs.tabs().summary({tab})")["domains"]
                   if d["domain"] == "fontcdn.test"), None)
        return tp if tp and tp["pending"] == 0 else None
    first = wait_for(font_on_page, what="the font on the page's record")
    assert (first["reached"], first["requests"], first["cache"]) == (sent, sent, 0)
    recorded = wait_for(lambda: companion.third_party("font.example", "fontcdn.test"), what="the font recorded")
    assert recorded["requests"] == sent

    # Again, in the same tab: the browser's cache answers, nothing reaches the font server.
    browser.reloaded(page, lambda: page.goto("http://font.example/"))
    page.wait_for_function("window.fontTried === true")
    wait_for(lambda: (tp := font_on_page()) and tp["cache"] + tp["reached"] >= 1, what="the second visit's font")
    second = font_on_page()
    assert len(browser.web.hits(FONT_HOST)) == sent + second["reached"]
    assert second["reached"] == 0 and second["cache"] == 1, second
    # The companion's count stays equal to what the font server received.
    browser.open("http://news.example/flush")  # one more report, so the companion has had everything before it
    wait_for(lambda: companion.third_party("news.example", "widgets.test"), what="a later report")
    assert companion.third_party("font.example", "fontcdn.test")["requests"] == len(browser.web.hits(FONT_HOST))
    errors = browser.ev("self.__errors")
    cache_misses = [e for e in errors if "ERR_CACHE_MISS" in e[1]]
    print(f"ERR_CACHE_MISS attempts seen in this run: {cache_misses}")


def test_with_the_companion_away_the_popup_lists_the_page_and_trust_works_at_once(browser, companion):
    browser.pair(companion)
    browser.open("http://news.example/article")  # the companion names these trackers once
    wait_for(lambda: all(companion.third_party("news.example", d) for d in TRACKER_DOMAINS.values()),
             what="the news page recorded")

    companion.stop()
    browser.web.clear()
    page = browser.open("http://offline.example/page")
    tab = browser.tab_id("http://offline.example/*")
    assert failed(page) == {"ga", "dc", "fb"}  # still blocked by the last rules
    assert all(browser.web.hits(h) == [] for h in TRACKER_HOSTS.values())

    # The badge is not "off": it counts the page's trackers and says blocking continues.
    badge = wait_for(lambda: (b := browser.badge(tab))["text"] == "3" and "not answering" in b["title"] and b,
                     what="badge 3 with the companion away")
    assert "blocking continues with the last rules" in badge["title"]
    assert "history will catch up" in badge["title"]
    assert colour(browser, tab)[:3] == GREEN

    popup = browser.popup(tab)
    status = popup.locator("#status").text_content()
    assert "Blocking continues with the last rules" in status and "history will catch up" in status, status
    assert "off" not in popup.locator("#power").text_content().lower()
    rows = {popup.locator("#tracker-list li").nth(i).get_attribute("data-domain"): popup.locator("#tracker-list li").nth(i)
            for i in range(popup.locator("#tracker-list li").count())}
    assert set(TRACKER_DOMAINS.values()) <= set(rows), rows.keys()
    assert "Google" in rows["google-analytics.com"].locator(".owner").text_content()
    assert rows["google-analytics.com"].locator(".state").text_content().startswith("Blocked")
    assert popup.locator("#page-summary").text_content() == "3 trackers on this page · none got through"

    # "Block on this site" for the widget, and "Trust this site": both at once, in the browser.
    popup.click("#others-title")
    popup.locator("li[data-domain='widgets.test']").get_by_role("button", name="Block on this site").click()
    popup.wait_for_selector("#away-note:not([hidden])")
    # Its row says the person's block at once (it said "Not a known tracker" until the page was reloaded).
    assert popup.locator("li[data-domain='widgets.test'] .state").text_content() == (
        "Blocked on this site by you now — its request got through on this load")
    popup.select_option("#trust-duration", "always")
    popup.click("#trust-on")
    popup.wait_for_selector("#trust-off:not([hidden])")
    assert "companion gets this choice when it is back" in popup.locator("#away-note").text_content()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    popup.set_viewport_size({"width": 400, "height": 700})
    popup.screenshot(path=str(ARTIFACTS / "popup-companion-away.png"), full_page=True)
    browser.web.clear()
    browser.reloaded(page, lambda: popup.click("#reload-tab"))
    assert set(page.evaluate("window.loaded")) == {"own", "ga", "dc", "fb"}
    assert set(page.evaluate("window.failed")) == {"widget"}
    for host in TRACKER_HOSTS.values():
        assert browser.web.hits(host), host  # the fake web sees them
    assert browser.web.hits(WIDGET_HOST) == []
    # Now some tracker requests got through on this page: the badge says so.
    wait_for(lambda: "got through" in browser.badge(tab)["title"] and colour(browser, tab)[:3] != GREEN,
             what="a badge that is not green after trusting")

    # The companion comes back: it gets both choices, its rules take over, and the browser's own ones go.
    companion.start()
    def delivered():
        choices = companion.api("GET", "/api/v1/choices").json()
        return choices if choices.get("trusted") and choices.get("site_tracker") else None
    choices = wait_for(delivered, timeout=60, what="the choices made while away to reach the companion")
    assert "offline.example" in str(choices["trusted"]), choices
    assert [(c["site"], c["tracker"], c["action"]) for c in choices["site_tracker"]] == [
        ("offline.example", "widgets.test", "block")]
    wait_for(lambda: browser.ev("self.crumbs.offline.ops.length") == 0
             and browser.ev("chrome.declarativeNetRequest.getSessionRules()") == [],
             timeout=30, what="the session rules to give way to the companion's")
    browser.web.clear()
    page.reload()
    page.wait_for_function("window.done === true")
    assert set(page.evaluate("window.loaded")) == {"own", "ga", "dc", "fb"}
    assert browser.web.hits(WIDGET_HOST) == []


def test_the_welcome_page_opens_on_install_and_names_the_real_buttons(browser, companion):
    welcome_url = f"chrome-extension://{EXTENSION_ID}/welcome/welcome.html"
    wait_for(lambda: welcome_url in str(browser.ev("chrome.tabs.query({}).then(t => t.map(x => x.url || x.pendingUrl))")),
             what="the welcome page opened on install")
    page = wait_for(lambda: next((p for p in browser.ctx.pages if p.url == welcome_url), None),
                    what=f"the welcome page among {[p.url for p in browser.ctx.pages]}")
    page.wait_for_selector("body[data-ready='true']")
    text = page.locator("body").inner_text()
    for words in ("The number", "Green", "Red", "pin", "Pair now"):
        assert words in text, words
    # Not paired yet: the one command and the button, named as it is.
    assert page.locator("body").get_attribute("data-status") == "unpaired"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "welcome.png"), full_page=True)
    help_text = page.locator("#companion-help").text_content()
    assert "crumbs serve" in help_text and "choose 'Pair now'" in help_text
    assert page.get_by_role("button", name="Pair now").is_visible()
    # Every button a message names exists with that name in the popup too.
    popup = browser.ctx.new_page()
    popup.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html")
    popup.wait_for_selector("body[data-ready='true']")  # the popup shows its buttons once it knows the status
    assert popup.get_by_role("button", name="Pair now").count() == 1
    assert popup.get_by_role("button", name="Open history", include_hidden=True).count() == 1  # hidden until paired

    # Paired (by any means): the page says so, and offers the history.
    browser.pair(companion)
    page.wait_for_selector("body[data-status='ok']", timeout=15_000)
    assert "Connected" in page.locator("#companion-state").text_content()
    assert page.get_by_role("button", name="Open history").is_visible()
    assert not page.get_by_role("button", name="Pair now").is_visible()
    with browser.ctx.expect_page() as opened:
        page.get_by_role("button", name="Open history").click()
    assert opened.value.url.startswith(f"{companion.base}/signin/")
