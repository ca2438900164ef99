"""End to end, in a real headless Chromium with the extension and the real companion.

Each test observes the browser (what the page loaded, the badge) and the servers (what the fake
tracker servers received, what the companion recorded), never the extension's internals alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from .conftest import EXTENSION_ID, wait_for
from .fakeweb import TRACKER_DOMAINS, TRACKER_HOSTS, WIDGET_HOST, failed, loaded, replaced

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "extension"
GA = TRACKER_HOSTS["ga"]


def recorded(companion, site: str, domains) -> dict:
    """Wait until the companion lists every domain as a third party of site; return them by domain."""
    def ready():
        parties = {t["domain"]: t for t in companion.site(site)["third_parties"]}
        return parties if all(d in parties for d in domains) else None
    return wait_for(ready, what=f"the companion to record {sorted(domains)} on {site}")


def test_news_page_trackers_are_blocked_recorded_and_counted(browser, companion):
    browser.pair(companion)
    page = browser.open("http://news.example/article")
    tab = browser.tab_id("http://news.example/*")

    # The browser's rules blocked the three trackers: their servers saw nothing. The pixel failed; the two
    # scripts were answered by Crumbs' stand-ins, so the page got working (harmless) scripts instead.
    assert failed(page) == {"ga", "dc", "fb"}
    assert replaced(page) == {"ga", "fb"} and set(page.evaluate("window.failed")) == {"dc"}
    assert loaded(page) == {"own", "widget"}
    for host in TRACKER_HOSTS.values():
        assert browser.web.hits(host) == [], host
    assert browser.web.hits(WIDGET_HOST)

    # The companion recorded them with the right verdicts.
    parties = recorded(companion, "news.example", [*TRACKER_DOMAINS.values(), "widgets.test"])
    for domain in TRACKER_DOMAINS.values():
        assert parties[domain]["tracker"] is True, domain
        assert parties[domain]["blocked_now"] is True, domain
        assert parties[domain]["blocked"] >= 1, domain
        assert parties[domain]["owner"], domain
    assert "Google" in parties["google-analytics.com"]["owner"]
    assert parties["widgets.test"]["tracker"] is False
    assert parties["widgets.test"]["blocked_now"] is False
    assert "news.example" not in parties  # first party: not reported

    # The badge counts the distinct tracker domains of this page, all blocked.
    badge = wait_for(lambda: (b := browser.badge(tab))["text"] == "3" and b, what="badge 3")
    assert "3 trackers on this page: all blocked, none of their requests got through" in badge["title"]
    colour = browser.ev(f"chrome.action.getBadgeBackgroundColor({{tabId: {tab}}})")
    assert colour[:3] == [0x1B, 0x7F, 0x3B]  # the "all blocked" green

    # A new page in the same tab starts from zero.
    with page.expect_navigation():
        page.goto("http://news.example/no-trackers.html")
    wait_for(lambda: browser.badge(tab)["text"] == "", what="badge reset on navigation")


# A page that sends a beacon to a tracker as it is left (the usual "pagehide" analytics ping).
LEAVING_PAGE = """<!doctype html><title>leaving</title><p>goodbye
<script>addEventListener('pagehide', () => navigator.sendBeacon('https://stats.g.doubleclick.net/pixel.gif?bye=1', 'x'));
window.done = true;</script>"""


def test_the_page_befores_parting_beacon_counts_for_it_not_for_the_next_page(browser, companion):
    # Chromium reports the beacon after the next page's response started, from the tab the next page holds:
    # it was counted on the next page's badge ("1 tracker on this page") and recorded on the next page's site.
    browser.pair(companion)
    browser.web.pages[("leaving.example", "/page")] = (LEAVING_PAGE, "text/html")
    page = browser.open("http://leaving.example/page")
    tab = browser.tab_id("http://leaving.example/*")
    assert browser.badge(tab)["text"] == ""
    with page.expect_navigation():
        page.goto("http://next.example/no-trackers.html")
    recorded(companion, "leaving.example", ["doubleclick.net"])  # the beacon was seen, blocked, and reported ...
    assert companion.third_party("next.example", "doubleclick.net") is None  # ... for the page that sent it
    badge = browser.badge(tab)
    assert badge["text"] == "", badge
    assert browser.web.hits("stats.g.doubleclick.net") == []


def test_blocking_a_tracker_on_one_site_through_the_popup(browser, companion):
    # The person once allowed Google Analytics everywhere; now they block it on news.example only.
    assert companion.api("PUT", f"/api/v1/choices/trackers/{TRACKER_DOMAINS['ga']}", json={"action": "allow"}).ok
    browser.pair(companion)
    page = browser.open("http://news.example/article")
    assert "ga" in loaded(page) and browser.web.hits(GA)
    tab = browser.tab_id("http://news.example/*")
    recorded(companion, "news.example", TRACKER_DOMAINS.values())

    popup = browser.popup(tab)
    popup.set_viewport_size({"width": 420, "height": 640})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    popup.screenshot(path=str(ARTIFACTS / "popup-news.png"), full_page=True)
    assert popup.locator("#site").text_content() == "news.example"
    row = popup.locator(f"li[data-domain='{TRACKER_DOMAINS['ga']}']")
    assert "Google" in row.locator(".owner").text_content()
    # The Pixel's script was answered by a stand-in; DoubleClick was only a pixel here; GA is allowed.
    states = {d: popup.locator(f"li[data-domain='{d}'] .state").text_content() for d in TRACKER_DOMAINS.values()}
    assert states["facebook.net"] == "Blocked (Crumbs' default) · replaced with a stand-in", states
    assert "stand-in" not in states["doubleclick.net"] and "stand-in" not in states["google-analytics.com"], states
    row.get_by_role("button", name="Block on this site").click()
    popup.wait_for_selector("#reload:not([hidden])")
    choices = companion.api("GET", "/api/v1/choices").json()
    assert [(c["site"], c["tracker"], c["action"]) for c in choices["site_tracker"]] == [
        ("news.example", "google-analytics.com", "block")]

    # The popup's offer to reload: after it, the tracker's server receives nothing from news.example ...
    browser.web.clear()
    browser.reloaded(page, lambda: popup.click("#reload-tab"))
    assert "ga" in failed(page)
    assert browser.web.hits(GA) == []
    # ... while the same tracker still loads on another site.
    other = browser.open("http://other.example/page")
    assert "ga" in loaded(other)
    assert [h for h in browser.web.hits(GA) if "other.example" in h["referer"]]

    # Allowing it again on this site restores it.
    popup.reload()
    popup.wait_for_selector("body[data-ready='true']")
    popup.locator(f"li[data-domain='{TRACKER_DOMAINS['ga']}']").get_by_role("button", name="Allow on this site").click()
    popup.wait_for_selector("#reload:not([hidden])")
    browser.web.clear()
    browser.reloaded(page, lambda: popup.click("#reload-tab"))
    assert "ga" in loaded(page)
    assert [h for h in browser.web.hits(GA) if "news.example" in h["referer"]]


def test_trusting_a_site_unblocks_everything_on_it(browser, companion):
    browser.pair(companion)
    page = browser.open("http://news.example/article")
    assert failed(page) == {"ga", "dc", "fb"}
    tab = browser.tab_id("http://news.example/*")
    recorded(companion, "news.example", TRACKER_DOMAINS.values())

    popup = browser.popup(tab)
    popup.select_option("#trust-duration", "day")
    popup.click("#trust-on")
    popup.wait_for_selector("#reload:not([hidden])")
    assert popup.locator("#trust-state").text_content().startswith("You trust this site")
    browser.web.clear()
    browser.reloaded(page, lambda: popup.click("#reload-tab"))
    assert failed(page) == set()
    assert loaded(page) == {"own", "ga", "dc", "fb", "widget"}
    for host in TRACKER_HOSTS.values():
        assert browser.web.hits(host), host

    # Trust is per site: another site is still protected.
    browser.web.clear()
    other = browser.open("http://other.example/page")
    assert failed(other) == {"ga", "dc", "fb"}
    assert all(browser.web.hits(h) == [] for h in TRACKER_HOSTS.values())

    # Stop trusting: blocked again.
    popup.click("#trust-off")
    popup.wait_for_selector("#trust-on:not([hidden])")
    browser.reloaded(page, lambda: popup.click("#reload-tab"))
    assert failed(page) == {"ga", "dc", "fb"}


def test_companion_down_rules_hold_badge_off_and_reports_arrive_later(browser, companion):
    browser.pair(companion)
    browser.open("http://news.example/article")
    recorded(companion, "news.example", TRACKER_DOMAINS.values())

    companion.stop()
    browser.web.clear()
    page = browser.open("http://offline.example/page")
    tab = browser.tab_id("http://offline.example/*")
    # Pages still load, and the browser's rules still block.
    assert "own" in loaded(page) and "widget" in loaded(page)
    assert failed(page) == {"ga", "dc", "fb"}
    assert all(browser.web.hits(h) == [] for h in TRACKER_HOSTS.values())
    # The badge is not "off": it still counts (from the companion's last answers) and says blocking goes on.
    badge = wait_for(lambda: (b := browser.badge(tab))["text"] == "3" and "not answering" in b["title"] and b,
                     what="badge 3, companion not answering")
    assert "blocking continues with the last rules" in badge["title"]
    assert browser.ev("self.crumbs.reporter.queue.length") >= 4
    # The queue is in storage (written at most once a second), so a stopped service worker would
    # not lose it.
    wait_for(lambda: len(browser.ev("chrome.storage.local.get('queue').then(r => r.queue ? r.queue.items : [])")) >= 4,
             timeout=5, what="the queue written to storage")

    # The companion comes back: the queued reports arrive, and the badge counts again.
    companion.start()
    parties = wait_for(lambda: _offline_parties(companion), timeout=40, what="the queued reports to arrive")
    assert all(parties[d]["blocked"] >= 1 for d in TRACKER_DOMAINS.values())
    wait_for(lambda: (b := browser.badge(tab))["text"] == "3" and "not answering" not in b["title"], timeout=20,
             what="badge 3 after the companion came back")
    assert browser.status() == "ok"


def _offline_parties(companion):
    parties = {t["domain"]: t for t in companion.site("offline.example")["third_parties"]}
    return parties if all(d in parties for d in TRACKER_DOMAINS.values()) else None


def test_a_choice_made_elsewhere_reaches_the_browser_with_the_next_report(browser, companion):
    browser.pair(companion)
    before = browser.ev("self.crumbs.rules.version")
    page = browser.open("http://news.example/article")
    assert "fb" in failed(page)
    # The person allows Facebook everywhere from the terminal while the companion runs.
    companion.cli("allow", TRACKER_DOMAINS["fb"])
    # Browsing on sends reports; their answers carry the new rules version, which the extension fetches.
    browser.open("http://other.example/next")
    wait_for(lambda: browser.ev("self.crumbs.rules.version") != before, timeout=20, what="the new rules")
    browser.web.clear()
    page.reload()
    page.wait_for_function("window.done === true")
    assert "fb" in loaded(page)
    assert browser.web.hits(TRACKER_HOSTS["fb"])


def test_a_web_page_cannot_read_the_companion_or_pair_itself(browser, companion):
    code = companion.pairing_code()
    page = browser.open("http://news.example/article")
    result = page.evaluate(
        """async ({base, code, ext}) => {
          const out = {};
          const attempt = async (name, fn) => {
            try { out[name] = await fn(); } catch (e) { out[name] = 'error: ' + e.message; }
          };
          const json = {'Content-Type': 'application/json'};
          await attempt('pair', async () => (await fetch(base + '/api/v1/pair',
            {method: 'POST', headers: json, body: JSON.stringify({code})})).text());
          await attempt('pairNoCors', async () => { const r = await fetch(base + '/api/v1/pair',
            {method: 'POST', mode: 'no-cors', body: JSON.stringify({code})}); return r.type + ':' + (await r.text()); });
          await attempt('choices', async () => (await fetch(base + '/api/v1/choices')).text());
          await attempt('sites', async () => (await fetch(base + '/api/v1/sites/news.example')).text());
          await attempt('pairingPage', async () => (await fetch(ext + '/pairing/pairing.html')).text());
          out.canMessage = typeof chrome !== 'undefined' && !!(chrome.runtime && chrome.runtime.sendMessage);
          return out;
        }""",
        {"base": companion.base, "code": code, "ext": f"chrome-extension://{EXTENSION_ID}"})
    text = json.dumps(result)
    assert companion.token not in text
    assert result["pair"].startswith("error"), result
    # Chromium may not even send it (local network access from a page); if it does, the answer is opaque.
    assert result["pairNoCors"] in ("opaque:", "error: Failed to fetch"), result
    assert result["choices"].startswith("error") and result["sites"].startswith("error"), result
    assert result["pairingPage"].startswith("error"), result
    assert result["canMessage"] is False
    # Even a browser without those protections gets nothing: the companion refuses a page's Origin.
    forged = requests.post(f"{companion.base}/api/v1/pair", json={"code": code}, timeout=5,
                           headers={"Origin": "http://news.example"})
    assert forged.status_code == 403 and companion.token not in forged.text
    # Nothing got paired by the page.
    assert browser.ev("chrome.storage.local.get(['companion', 'token'])") == {}
    assert browser.status() == "unpaired"

    # The person pairs through the extension's own page by typing a code: no long strings to copy.
    pairing = browser.ctx.new_page()
    pairing.goto(f"chrome-extension://{EXTENSION_ID}/pairing/pairing.html")
    pairing.fill("#code", companion.pairing_code())
    pairing.fill("#port", str(companion.port))
    pairing.click("#pair")
    # "Pairing…" already has class ok: wait for the outcome, not the start.
    pairing.wait_for_selector("#result.ok:has-text('Paired.')")
    assert browser.ev("chrome.storage.local.get(['companion', 'token'])") == {
        "companion": companion.base, "token": companion.token}
    wait_for(lambda: browser.status() == "ok", what="paired status")
    # The page keeps showing the port it paired on, also when opened again (not the default 8737).
    assert pairing.input_value("#port") == str(companion.port)
    pairing.reload()
    wait_for(lambda: pairing.input_value("#port") == str(companion.port), what="the paired port on the page")


def test_the_popup_opens_the_history_page_signed_in(browser, companion):
    browser.pair(companion)
    browser.open("http://news.example/article")
    tab = browser.tab_id("http://news.example/*")
    recorded(companion, "news.example", TRACKER_DOMAINS.values())
    popup = browser.popup(tab)
    # Everything the popup shows came in as text: no markup from the companion's data.
    assert popup.locator("#third-parties li").count() >= 4
    assert popup.locator("#third-parties script, #third-parties img").count() == 0
    with browser.ctx.expect_page() as opened:
        popup.click("#history")
    history = opened.value
    assert history.url.startswith(f"{companion.base}/signin/")
    # The one-time sign-in page moves on to the history itself, signed in.
    history.wait_for_url(lambda url: url.startswith(companion.base) and "/signin/" not in url, timeout=10_000)
    history.wait_for_load_state()
    assert "blocked" in history.locator("body").text_content()  # the history itself, not a sign-in refusal
