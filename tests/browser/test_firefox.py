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
from .firefox import FAKE_HOSTS, FIREFOX, Firefox, Tunnel, new_uuid, pac

pytestmark = pytest.mark.browser

GECKO_ID = json.loads((EXTENSION_SRC / "manifest.json").read_text())["browser_specific_settings"]["gecko"]["id"]


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
    prefs = {
        "network.proxy.type": 2,
        "network.proxy.autoconfig_url": "data:application/x-ns-proxy-autoconfig," + pac(FAKE_HOSTS, tunnel.port),
        "network.proxy.allow_hijacking_localhost": False,
        "dom.security.https_first": False,
        "dom.security.https_only_mode": False,
        # A known moz-extension:// origin (it is random per profile otherwise).
        "extensions.webextensions.uuids": json.dumps({GECKO_ID: ext_uuid}),
        "browser.shell.checkDefaultBrowser": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.enabled": False,
        "app.update.enabled": False,
    }
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
    assert "3 blocked, 0 allowed" in badge["title"]
    assert badge["color"][:3] == [0x1B, 0x7F, 0x3B]
    assert firefox.bg("crumbs.status()") == "ok"

    # A new page in the same tab starts from zero. (Firefox keeps a tab's badge across navigations and
    # tells the extension about the new page only after tabs.onUpdated says 'complete'.)
    firefox.ff.navigate(page, "http://news.example/no-trackers.html")
    wait_for(lambda: firefox.badge(tab)["text"] == "", what="badge reset on navigation")
    assert time.monotonic() - started < 60


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
