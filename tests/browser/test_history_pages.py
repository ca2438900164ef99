"""The history pages in a real headless Chromium, against the real companion process.

A history is written into the companion's database (another process, as `crumbs open` does),
then a person's path is followed: the page refuses them, `crumbs open --print` signs them in,
they read the overview (the reach line, the chart's bars), open the map (its nodes), search,
open a site, block a tracker there, and forget a site. Screenshots of each page are saved under
``test-artifacts/history/`` (or ``$CRUMBS_ARTIFACTS/history``) for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from companion.config import DataPaths
from companion.storage import RecordedEvent, Store, now_ms

from .conftest import ROOT, wait_for

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("CRUMBS_ARTIFACTS", ROOT / "test-artifacts")) / "history"
HOSTILE_SITE = "<img src=x onerror=alert(1)>.example"
HOSTILE_HOST = "\"'><script>alert(2)</script>.evil.test"


def fill(make_verdict, data_dir: Path) -> None:
    """Five sites; Google on four of them (two domains), Meta on two, a hostile name on one."""
    now = now_ms()
    plan = [
        ("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 5),
        ("news.example", "www.google-analytics.com", "google-analytics.com", True, False, 3),
        ("shop.example", "www.google-analytics.com", "google-analytics.com", True, True, 2),
        ("shop.example", "connect.facebook.net", "facebook.net", True, False, 2),
        ("blog.example", "stats.g.doubleclick.net", "doubleclick.net", True, False, 4),
        ("recipes.example", "connect.facebook.net", "facebook.net", True, True, 1),
        ("recipes.example", "securepubads.g.doubleclick.net", "doubleclick.net", True, True, 2),
        (HOSTILE_SITE, HOSTILE_HOST, "evil.test", True, False, 2),
    ]
    events = []
    for site, host, domain, tracker, blocked, n in plan:
        for i in range(n):
            # spread over the last three days so the chart has several bars
            events.append(RecordedEvent(make_verdict(site, host, domain, tracker, blocked, "||x^" if tracker else None), now - (i % 3) * 86_400_000 - i, blocked))
    store = Store(DataPaths.at(data_dir).database)
    try:
        store.record(events)
    finally:
        store.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def signed_in_page(browser, companion):
    link = companion.cli("open", "--print", "--port", str(companion.port)).strip().splitlines()[0]
    assert link.startswith(f"{companion.base}/signin/")
    page = browser.ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(link)
    page.wait_for_url(f"{companion.base}/")  # the sign-in page refreshes to the overview, cookie set
    return page, dialogs


def test_history_pages_as_a_person_uses_them(browser, companion, make_verdict):
    fill(make_verdict, companion.data_dir)

    # Without signing in: a page that says how to sign in, and none of the history.
    anonymous = browser.ctx.new_page()
    response = anonymous.goto(f"{companion.base}/")
    assert response.status == 401
    assert "crumbs open" in anonymous.inner_text("main")
    assert "news.example" not in anonymous.content()
    shot(anonymous, "0-sign-in-needed")
    anonymous.close()

    page, dialogs = signed_in_page(browser, companion)
    cookie = next(c for c in browser.ctx.cookies(companion.base) if c["name"] == "crumbs_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # not readable by script

    # Overview: the reach line and the chart's bars.
    reach = page.inner_text("#reach-line")
    # news and blog: a Google request got through; shop and recipes: every one was blocked.
    assert re.sub(r"\s+", " ", reach).strip() == "Google reached you on 2 of your 5 sites; Crumbs stopped it on 2 more the last 7 days."
    bars = page.locator("svg.timeline rect.bar")
    assert bars.count() == 14  # 7 days, blocked and allowed
    heights = [float(h) for h in page.eval_on_selector_all("svg.timeline rect.bar", "els => els.map(e => e.getAttribute('height'))")]
    assert sum(1 for h in heights if h > 0) >= 4  # three days with data, blocked and allowed
    box = page.locator("svg.timeline").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50  # drawn, not collapsed
    shot(page, "1-overview")

    # The map: one node per site, trackers sized by reach; pointing at a node highlights its lines (map.js).
    page.click("header nav >> text=Map")
    page.wait_for_selector("svg.graph")
    assert page.locator("svg.graph a.site").count() == 5
    assert page.locator("svg.graph a.tracker").count() == 4
    page.hover('svg.graph a.tracker[data-name="doubleclick.net"] circle')
    wait_for(lambda: page.locator("svg.graph path.edge.hl").count() == 3, what="the map to highlight doubleclick's lines")
    shot(page, "2-map")

    # Search, then follow a result to its site.
    page.click("header nav >> text=Search")
    page.fill("input[name=q]", "shop")
    page.click("form.search button")
    page.wait_for_selector("#result-count")
    assert page.inner_text("#result-count").startswith("2 results")
    shot(page, "3-search")
    page.click("table.results a.site >> nth=0")
    page.wait_for_url(re.compile(r".*/site/shop\.example.*"))
    assert "facebook.net" in page.inner_text("table.parties")
    shot(page, "4-site")

    # Block facebook.net on this site with the page's control: the companion's choices change.
    row = page.locator("table.parties tr", has_text="facebook.net")
    with page.expect_navigation():
        row.locator("button", has_text="Block here").click()
    assert "blocked here" in page.locator("table.parties tr", has_text="facebook.net").inner_text()
    choices = companion.api("GET", "/api/v1/choices").json()
    assert any(c["site"] == "shop.example" and c["tracker"] == "facebook.net" and c["action"] == "block"
               for c in choices["site_tracker"])

    # A tracker page and its company.
    page.goto(f"{companion.base}/tracker/doubleclick.net")
    assert "Owned by Google" in page.inner_text("main")
    page.click("main a.company")
    page.wait_for_url(re.compile(r".*/company/Google.*"))
    assert "google-analytics.com" in page.inner_text("main")
    shot(page, "5-company")

    # The hostile names render as text, and nothing ran.
    page.goto(f"{companion.base}/site/{quote(HOSTILE_SITE, safe='')}")
    assert HOSTILE_SITE in page.inner_text("h1")
    page.goto(f"{companion.base}/tracker/evil.test")
    assert HOSTILE_HOST in page.inner_text("ul.hosts")
    page.goto(f"{companion.base}/search?p=all")
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []
    shot(page, "6-hostile-names")

    # Your data: forget a site, with confirmation; the page says it is deleted, and it is.
    page.click("header nav >> text=Your data")
    page.fill("form.forget input[name=site]", "blog.example")
    page.click("form.forget >> text=Forget this site")
    page.wait_for_selector("#confirm")
    shot(page, "7-forget-confirm")
    page.click("#confirm")
    page.wait_for_selector("#forgotten")
    assert "Deleted from the database" in page.inner_text("#forgotten")
    shot(page, "8-forgotten")
    store = Store(DataPaths.at(companion.data_dir).database)
    try:
        assert store.conn.execute("SELECT count(*) FROM domains WHERE name = 'blog.example'").fetchone()[0] == 0
    finally:
        store.close()
    page.goto(f"{companion.base}/")
    assert "of your 4 sites" in page.inner_text("#reach-line")

    # Signing out ends it.
    page.click("form.signout button")
    page.wait_for_load_state()
    assert page.goto(f"{companion.base}/").status == 401
