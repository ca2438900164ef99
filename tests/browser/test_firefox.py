"""End to end in a real headless Firefox (Debian's firefox-esr) with the extension and the real companion.

The same checks as the Chromium news-page test, on the Firefox code paths: an MV3 event page
(background `scripts`, not a service worker), `browser.*` promises, Firefox's webRequest details
(documentUrl/originUrl, no initiator), its error string for requests cancelled by declarativeNetRequest,
and its per-tab badge. Firefox is driven over WebDriver BiDi (see firefox.py).

What the test reads, and from where: the page's own view (window.loaded / window.failed), the fake
tracker servers' request log, the companion's API, and the badge through an extension page (BiDi
cannot evaluate in the background, and cannot navigate to moz-extension:// URLs; the extension opens
its pairing page on install, and that page is an extension context with the `browser` APIs).
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from .breakage_pages import BY_NAME, serve
from .conftest import EXTENSION_SRC, wait_for
from .fakeweb import TRACKER_DOMAINS, TRACKER_HOSTS, WIDGET_HOST
from .firefox import FAKE_HOSTS, FIREFOX, Firefox, Tunnel, new_uuid, profile_prefs

pytestmark = pytest.mark.browser



class FirefoxRun:
    """A Firefox with the extension installed, and an extension page to evaluate `browser.*` calls in."""

    def __init__(self, ff: Firefox, ext_uuid: str, web) -> None:
        self.ff, self.web = ff, web
        self.base = f"moz-extension://{ext_uuid}/"
        self.ext_ctx = wait_for(self._extension_context, timeout=20, what="the extension's pairing page to open")

    def _extension_context(self):
        return next((c["context"] for c in self.ff.contexts() if c["url"].startswith(self.base)), None)

    def ev(self, expression: str):
        return self.ff.evaluate(self.ext_ctx, expression)

    def bg(self, expression: str):
        """Evaluate in the background page (`crumbs` is its test hook, as in the Chromium tests)."""
        return self.ev(f"browser.runtime.getBackgroundPage().then(bg => (async (crumbs) => {expression})(bg.crumbs))")

    def open(self, url: str) -> str:
        ctx = self.ff.new_tab()
        self.ff.navigate(ctx, url)
        wait_for(lambda: self.ff.evaluate(ctx, "window.done === true"), what=f"{url} to finish loading")
        return ctx

    def page(self, ctx: str, expression: str):
        return self.ff.evaluate(ctx, expression)

    def tab_id(self, url_pattern: str) -> int:
        ids = wait_for(lambda: self.ev(f"browser.tabs.query({{url: {json.dumps(url_pattern)}}}).then(t => t.map(x => x.id))"),
                       what=f"a tab at {url_pattern}")
        return ids[0]

    def badge(self, tab_id: int) -> dict:
        return self.ev(f"""Promise.all([browser.action.getBadgeText({{tabId: {tab_id}}}),
                                         browser.action.getTitle({{tabId: {tab_id}}}),
                                         browser.action.getBadgeBackgroundColor({{tabId: {tab_id}}})])
                         .then(([text, title, color]) => ({{text, title, color}}))""")


@pytest.fixture
def firefox(tmp_path, web):
    assert (FIREFOX and shutil.which(FIREFOX)), f"{FIREFOX} is missing: `make firefox` installs Debian's firefox-esr"
    ext = tmp_path / "extension"
    shutil.copytree(EXTENSION_SRC, ext, ignore=shutil.ignore_patterns("test", "*.md"))
    ext_uuid = new_uuid()
    tunnel = Tunnel(web["http"].port, web["https"].port)
    prefs = profile_prefs(FAKE_HOSTS, tunnel, ext_uuid)
    ff = None
    try:
        ff = Firefox(tmp_path / "profile", prefs, tmp_path / "firefox.log")
        ff.send("webExtension.install", {"extensionData": {"type": "path", "path": str(ext)}})
        run = FirefoxRun(ff, ext_uuid, web["app"])
        wait_for(lambda: run.bg("crumbs && crumbs.ready.then(() => true)"), what="the background page to start")
        web["app"].clear()
        yield run
    finally:
        if ff is not None:
            ff.close()
        tunnel.close()


def test_firefox_news_page_trackers_blocked_recorded_and_counted(firefox, companion):
    started = time.monotonic()
    # Firefox grants MV3 host permissions to this install; without them webRequest sees nothing.
    assert firefox.ev("browser.permissions.contains({origins: ['<all_urls>']})") is True

    # Pair by writing the two storage keys: the extension's contract says that is enough.
    firefox.ev(f"browser.storage.local.set({{companion: {json.dumps(companion.base)}, "
               f"token: {json.dumps(companion.token)}}}).then(() => true)")
    version = companion.api("GET", "/api/v1/dnr").json()["version"]
    wait_for(lambda: firefox.bg("crumbs.syncRules().then(() => crumbs.rules.version)") == version,
             what=f"rules version {version} in Firefox")

    page = firefox.open("http://news.example/article")
    tab = firefox.tab_id("http://news.example/*")

    # The browser's rules (from the companion) blocked the trackers: their servers saw nothing. The pixel
    # failed; the GA and Meta Pixel scripts were answered by Crumbs' stand-ins (they mark themselves).
    assert set(firefox.page(page, "window.failed")) == {"dc"}
    assert set(firefox.page(page, "window.loaded")) == {"own", "widget", "ga", "fb"}
    assert firefox.page(page, "[window.ga.crumbsStandIn, window.fbq.crumbsStandIn]") == [True, True]
    for host in TRACKER_HOSTS.values():
        assert firefox.web.hits(host) == [], host
    assert firefox.web.hits("news.example") and firefox.web.hits(WIDGET_HOST)

    # The reports arrive: the companion recorded the third parties with the right verdicts.
    def parties():
        got = {t["domain"]: t for t in companion.site("news.example")["third_parties"]}
        return got if all(d in got for d in [*TRACKER_DOMAINS.values(), "widgets.test"]) else None
    got = wait_for(parties, timeout=20, what="the companion to record the news page's third parties")
    for domain in TRACKER_DOMAINS.values():
        assert got[domain]["tracker"] is True, domain
        assert got[domain]["blocked_now"] is True, domain
        assert got[domain]["blocked"] >= 1, (domain, got[domain])  # Firefox's NS_ERROR_ABORT read as blocked
    assert "Google" in got["google-analytics.com"]["owner"]
    assert got["widgets.test"]["tracker"] is False and got["widgets.test"]["blocked_now"] is False
    assert got["widgets.test"]["blocked"] == 0
    assert "news.example" not in got

    # The badge: three distinct tracker domains, all blocked (green).
    badge = wait_for(lambda: (b := firefox.badge(tab))["text"] == "3" and b, what="badge 3")
    assert "3 trackers on this page: all blocked, none of their requests got through" in badge["title"]
    assert badge["color"][:3] == [0x1B, 0x7F, 0x3B]
    assert firefox.bg("crumbs.status()") == "ok"

    # A new page in the same tab starts from zero. (Firefox keeps a tab's badge across navigations and
    # tells the extension about the new page only after tabs.onUpdated says 'complete'.)
    firefox.ff.navigate(page, "http://news.example/no-trackers.html")
    wait_for(lambda: firefox.badge(tab)["text"] == "", what="badge reset on navigation")
    assert time.monotonic() - started < 60


def test_firefox_the_page_befores_parting_beacon_counts_for_it_not_for_the_next_page(firefox, companion):
    # Firefox names each request's own document: the beacon a page sends as it is left is reported once the
    # tab holds the next page, and must count neither on that page's badge nor in that page's site's history.
    from .test_e2e import LEAVING_PAGE

    firefox.ev(f"browser.storage.local.set({{companion: {json.dumps(companion.base)}, "
               f"token: {json.dumps(companion.token)}}}).then(() => true)")
    version = companion.api("GET", "/api/v1/dnr").json()["version"]
    wait_for(lambda: firefox.bg("crumbs.syncRules().then(() => crumbs.rules.version)") == version,
             what=f"rules version {version} in Firefox")
    firefox.web.pages[("leaving.example", "/page")] = (LEAVING_PAGE, "text/html")
    page = firefox.open("http://leaving.example/page")
    tab = firefox.tab_id("http://leaving.example/*")
    firefox.ff.navigate(page, "http://next.example/no-trackers.html")
    wait_for(lambda: companion.third_party("leaving.example", "doubleclick.net"), timeout=20,
             what="the companion to record the parting beacon on leaving.example")
    assert companion.third_party("next.example", "doubleclick.net") is None
    wait_for(lambda: firefox.bg("crumbs.tabs().get(%d).pageUrl" % tab) == "http://next.example/no-trackers.html",
             what="the extension to see the next page")
    badge = firefox.badge(tab)
    assert badge["text"] == "", badge
    assert firefox.web.hits("stats.g.doubleclick.net") == []


def test_firefox_stand_ins_keep_ga_and_gtm_pages_working(firefox, companion):
    """The same declarativeNetRequest redirects to the extension's stand-ins, in Firefox: GA's hitCallback
    follows the link, GTM's eventCallback runs, and neither Google host receives anything."""
    serve(firefox.web)
    firefox.ev(f"browser.storage.local.set({{companion: {json.dumps(companion.base)}, "
               f"token: {json.dumps(companion.token)}}}).then(() => true)")
    version = companion.api("GET", "/api/v1/dnr").json()["version"]
    wait_for(lambda: firefox.bg("crumbs.syncRules().then(() => crumbs.rules.version)") == version,
             what=f"rules version {version} in Firefox")

    for name in ("google-analytics", "google-gtag", "google-tag-manager"):
        scenario = BY_NAME[name]
        ctx = firefox.open(scenario.url)
        if scenario.click:
            firefox.page(ctx, f"document.querySelector({json.dumps(scenario.click)}).click(), true")
        wait_for(lambda: firefox.page(ctx, scenario.works), what=f"the {name} page to work in Firefox")
        for host in scenario.tracker_hosts:
            assert firefox.web.hits(host) == [], (name, host)

    # The reports say so: blocked, and the stand-in is named in the verdict.
    def ga_party():
        return next((t for t in companion.site("shop.example")["third_parties"]
                     if t["domain"] == "google-analytics.com" and t["blocked"] >= 1), None)
    ga = wait_for(ga_party, timeout=20, what="the GA report from Firefox")
    assert ga["blocked_now"] and "Google Analytics (analytics.js)" in ga["stand_ins"]


# -- issue 12: Global Privacy Control and click-to-load in Firefox ------------------------------


def _extras(firefox, expression: str):
    """Evaluate with the background's issue-12 hooks (`extras`: {gpc, clickToLoad})."""
    return firefox.ev("browser.runtime.getBackgroundPage().then(bg => (async (extras) => "
                      f"{expression})(bg.crumbsExtras))")


def _gpc_hits(firefox) -> list[dict]:
    return firefox.web.hits("news.example") + firefox.web.hits("cdn.widgets.test")


def test_firefox_sends_gpc_header_and_flag_and_the_setting_turns_both_off(firefox, companion):
    assert _extras(firefox, "extras.gpc.sync().then(() => browser.declarativeNetRequest.getEnabledRulesets())") == ["gpc"]
    page = firefox.open("http://news.example/gpc.html")
    assert firefox.page(page, "window.gpc") is True  # read by the page's first script
    assert firefox.page(page, "navigator.globalPrivacyControl") is True
    wait_for(lambda: firefox.web.hits("cdn.widgets.test"), what="the third-party image")
    hits = _gpc_hits(firefox)
    assert {h["path"] for h in hits} >= {"/gpc.html", "/first-party.js", "/api/ping", "/pic.png"}
    assert all(h["gpc"] == "1" for h in hits), hits

    # The setting off: neither the header nor the flag (Firefox's own attribute says false).
    firefox.ev("browser.storage.local.set({gpc: false}).then(() => true)")
    wait_for(lambda: _extras(firefox, "extras.gpc.sync().then(() => browser.declarativeNetRequest.getEnabledRulesets())")
             == [], what="the GPC ruleset off")
    firefox.web.clear()
    off = firefox.open("http://news.example/gpc.html?off")
    assert firefox.page(off, "window.gpc") is not True
    assert firefox.page(off, "navigator.globalPrivacyControl") is not True
    wait_for(lambda: firefox.web.hits("cdn.widgets.test"), what="the third-party image")
    hits = _gpc_hits(firefox)
    assert hits and all(h["gpc"] is None for h in hits), hits


def _click(firefox, ctx: str, selector_js: str) -> None:
    """A real (trusted) click on the element selector_js finds, through WebDriver BiDi input actions."""
    x, y = firefox.page(ctx, f"(() => {{ const r = ({selector_js}).getBoundingClientRect(); "
                             "return [Math.round(r.x + r.width / 2), Math.round(r.y + r.height / 2)]; })()")
    firefox.ff.send("input.performActions", {"context": ctx, "actions": [{
        "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "x": x, "y": y}, {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0}]}]})


def test_firefox_click_to_load_placeholder_loads_the_blocked_video_on_click(firefox, companion):
    assert companion.api("PUT", "/api/v1/choices/trackers/youtube.com", json={"action": "block"}).ok
    firefox.ev(f"browser.storage.local.set({{companion: {json.dumps(companion.base)}, "
               f"token: {json.dumps(companion.token)}}}).then(() => true)")
    version = companion.api("GET", "/api/v1/dnr").json()["version"]
    wait_for(lambda: firefox.bg("crumbs.syncRules().then(() => crumbs.rules.version)") == version,
             what=f"rules version {version} in Firefox")
    page = firefox.open("http://news.example/embeds.html")
    holder = "document.querySelector(\"[data-crumbs-ctl='youtube']\")"
    wait_for(lambda: firefox.page(page, f"!!{holder}"), what="the placeholder")
    assert [h for h in firefox.web.hits("www.youtube.com") if h["path"].startswith("/embed/")] == []
    text = firefox.page(page, f"{holder}.shadowRoot.textContent")
    assert "YouTube video blocked by Crumbs" in text and "Google (YouTube) will see your visit on news.example" in text
    size = firefox.page(page, f"[{holder}.offsetWidth, {holder}.offsetHeight]")
    assert size == [480, 270]

    _click(firefox, page, f"{holder}.shadowRoot.querySelector('button')")
    wait_for(lambda: [h for h in firefox.web.hits("www.youtube.com") if h["path"].startswith("/embed/")],
             what="the player to be requested after the click")
    wait_for(lambda: firefox.page(page, "!!document.querySelector('iframe#video')"), what="the frame back in place")
    # Another page stays blocked.
    firefox.web.clear()
    other = firefox.open("http://other.example/embeds.html")
    wait_for(lambda: firefox.page(other, f"!!{holder}"), what="the placeholder on another site")
    assert [h for h in firefox.web.hits("www.youtube.com") if h["path"].startswith("/embed/")] == []
