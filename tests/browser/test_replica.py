"""End to end on a replica of real pages: every number and word Crumbs shows matches what reached the servers.

Real headless Chromium with the extension, the real companion (``crumbs serve``) with the shipped rules,
and a fake web (:mod:`.replica`) serving six real pages of the shared corpus with their real third-party
hosts and paths. Its request log is the truth about what left the browser. For every page:

- the badge number is the distinct tracker domains the companion recorded on the site;
- no domain presented as blocked (API, popup, site page) had a request reach the server;
- the badge is green only when no request to a tracker domain reached the server;
- per domain, requests = reached + blocked, and reached = the requests the server got;
- popup, site page and tracker page show the same category label for the same tracker;
- the site page's count of requests to the site's own other hosts is what those hosts got.

Then across pages: each row of the overview's "reached you on N of M sites" has N = the sites
where the server got at least one request of that company's (or tracker's) domains, and M = the pages.
The run's figures are printed and written to test-artifacts/truth/replica.json.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import requests

from companion.sites import site_of

from .conftest import wait_for
from .fakeweb import Server, make_cert
from .replica import ReplicaWeb, load_pages

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "truth"
GREEN = [0x1B, 0x7F, 0x3B]


@pytest.fixture(scope="module")
def pages(corpus_path):
    return load_pages(corpus_path)


@pytest.fixture(scope="module")
def web(tmp_path_factory, pages):
    """The replica (shadows the shared fake web) over http and https, sharing one request log."""
    app = ReplicaWeb(pages)
    http = Server(app)
    https = Server(app, ssl_context=tuple(str(p) for p in make_cert(tmp_path_factory.mktemp("tls-replica"))))
    yield {"app": app, "http": http, "https": https}
    http.close()
    https.close()


def server_hits(log: list[dict], page) -> Counter:
    """Requests the server got from this page, per registrable domain of the third-party hosts it names."""
    hosts = {r["host"] for r in page.requests}
    return Counter(site_of(e["host"]) for e in log if e["host"] in hosts)


def settled(companion, site: str, hits: Counter):
    """The companion's report of the site once every request that reached a server is recorded as reached."""
    report = companion.site(site)
    reached = {t["domain"]: t["reached"] for t in report["third_parties"]}
    if report["third_parties"] and all(reached.get(d, 0) >= n for d, n in hits.items() if d != site):
        return report
    return None


def stable(companion, site: str, report: dict) -> dict:
    """The report once it stops moving (late reports delivered) for a second."""
    for _ in range(30):
        time.sleep(1.0)
        now = companion.site(site)
        if now == report:
            return now
        report = now
    raise AssertionError(f"{site}: the record kept moving")


def history_session(companion) -> requests.Session:
    link = companion.api("POST", "/api/v1/history-link").json()["url"]
    session = requests.Session()
    assert session.get(link, timeout=10).status_code == 200
    return session


def words(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def test_every_number_and_word_matches_what_reached_the_servers(browser, companion, pages):
    browser.pair(companion)
    log = browser.web
    history = history_session(companion)
    figures = {"sites": [], "replayed_requests": 0, "server_got": 0}
    reached_sites: dict[str, set[str]] = defaultdict(set)  # company or unowned domain -> sites the server got it from
    labels_checked = 0

    for page in pages:
        site = site_of(page.url)
        log.clear()
        tab_page = browser.ctx.new_page()
        tab_page.goto(page.url)
        tab_page.wait_for_function("window.done === true", timeout=60_000)
        tab = browser.tab_id(page.url.split("?")[0] + "*")
        # Let late requests land, then read the truth.
        tab_page.wait_for_timeout(1500)
        hits = server_hits(log.log, page)
        report = wait_for(lambda: settled(companion, site, hits), timeout=30,
                          what=f"{site}: every request that reached a server recorded")
        report = stable(companion, site, report)
        hits = server_hits(log.log, page)  # and anything that landed meanwhile
        parties = {t["domain"]: t for t in report["third_parties"]}
        trackers = {d for d, t in parties.items() if t["tracker"]}

        # Per domain: requests = reached + blocked; reached = what the server got; blocked means none got through.
        for d, t in parties.items():
            assert t["requests"] == t["reached"] + t["blocked"], (site, t)
            assert t["reached"] == hits.get(d, 0), (site, d, t["reached"], hits.get(d, 0))
            if t["state"] == "blocked":
                assert hits.get(d, 0) == 0, (site, d)
        # Nothing the server got is missing from the record (its own site's other hosts are not third parties).
        assert {d for d in hits if d != site} <= set(parties), (site, set(hits) - set(parties))

        # The badge: the distinct tracker domains; green only when no tracker request reached a server.
        tracker_hits = sum(hits.get(d, 0) for d in trackers)
        badge = wait_for(lambda: (b := browser.badge(tab))["text"] == str(len(trackers)) and b,
                         what=f"{site}: badge {len(trackers)}")
        colour = browser.ev(f"chrome.action.getBadgeBackgroundColor({{tabId: {tab}}})")[:3]
        assert (colour == GREEN) == (tracker_hits == 0), (site, colour, tracker_hits, badge)

        # The popup: nothing called blocked got through; its category labels.
        popup = browser.popup(tab)
        popup.locator("li[data-domain]").first.wait_for()
        popup_rows = popup.eval_on_selector_all(
            "li[data-domain]", "els => els.map(e => ({domain: e.dataset.domain, blocked: e.classList.contains('blocked'),"
            " state: e.querySelector('.state').textContent, category: e.querySelector('.category').textContent}))")
        popup.close()
        for row in popup_rows:
            if row["blocked"]:
                assert hits.get(row["domain"], 0) == 0, (site, row)

        # The history's site page: the same states, the same labels.
        html = history.get(f"{companion.base}/site/{site}?p=today", timeout=10).text
        own = re.search(r'id="own-hosts">Requests to this site\'s other hosts of its own [^:]*: ([\d,]+)\.', html)
        assert int(own.group(1).replace(",", "")) == hits.get(site, 0), (site, own.group(1), hits.get(site, 0))
        site_rows = dict(re.findall(r'data-domain="([^"]+)" data-state="([a-z-]+)"', html))
        site_labels = dict(re.findall(r'data-domain="([^"]+)"[^>]*>.*?<td class="category">([^<]*)</td>', html, re.S))
        for d, state in site_rows.items():
            assert state == parties[d]["state"], (site, d)
            if state == "blocked":
                assert hits.get(d, 0) == 0, (site, d)
        by_domain = {r["domain"]: r for r in popup_rows}
        for d in trackers:
            label = parties[d]["category_label"]
            tracker_html = history.get(f"{companion.base}/tracker/{d}?p=today", timeout=10).text
            found = re.search(r'<h2 id="category">([^<]*)</h2>', tracker_html)
            assert (found.group(1) if found else None) == label, (d, label)
            assert site_labels[d] == (label or "—"), (site, d)
            if d in by_domain:
                assert by_domain[d]["category"] == (label or ""), (site, d, by_domain[d])
                labels_checked += 1

        for d, n in hits.items():
            if n and d in parties and d != site:
                reached_sites[parties[d]["owner"] or d].add(site)
        figures["replayed_requests"] += len(page.requests)
        figures["server_got"] += sum(hits.values())
        figures["sites"].append({
            "site": site, "replayed": len(page.requests), "server_got": sum(hits.values()),
            "third_parties": len(parties), "trackers": len(trackers),
            "trackers_reached": sum(1 for d in trackers if parties[d]["reached"]),
            "trackers_stopped": sum(1 for d in trackers if not parties[d]["reached"]),
            "requests_recorded": sum(t["requests"] for t in parties.values()),
            "own_other_hosts": hits.get(site, 0),
            "reached": sum(t["reached"] for t in parties.values()),
            "blocked": sum(t["blocked"] for t in parties.values()),
            "badge": badge["text"], "badge_green": colour == GREEN, "badge_title": badge["title"],
        })
        tab_page.close()

    # The overview: for every company or tracker, "reached you on N of M sites" is the truth.
    overview = history.get(f"{companion.base}/?p=today&all=1", timeout=10).text
    rows = re.findall(r'<tr data-name="([^"]+)">(.*?)</tr>', overview, re.S)
    assert rows
    listed = {}
    for name, row in rows:
        cell = re.search(r'class="num sites-reached">(\d+) of (\d+)<', row)
        listed[name] = int(cell.group(1))
        assert int(cell.group(2)) == len(pages)
        assert listed[name] == len(reached_sites.get(name, ())), (name, listed[name], sorted(reached_sites.get(name, ())))
    for name, sites in reached_sites.items():
        if name in listed:
            continue
        # Not listed: never a tracker anywhere in the period (a CDN, a font host).
        assert all(not t["tracker"] for p in pages for t in companion.site(site_of(p.url))["third_parties"]
                   if (t["owner"] or t["domain"]) == name), name
    headline = words(re.search(r'id="reach-line">(.*?)</p>', overview, re.S).group(1))
    top_name, top_sites = rows[0][0], listed[rows[0][0]]
    assert headline.startswith(f"{top_name} reached you on {top_sites} of your {len(pages)} sites"), headline
    assert top_sites == max(listed.values())

    figures.update({
        "pages": len(pages),
        "trackers": sum(s["trackers"] for s in figures["sites"]),
        "reached": sum(s["reached"] for s in figures["sites"]),
        "blocked": sum(s["blocked"] for s in figures["sites"]),
        "requests_recorded": sum(s["requests_recorded"] for s in figures["sites"]),
        "companies_listed": len(listed),
        "headline": headline,
        "labels_checked_in_popup": labels_checked,
    })
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "replica.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    assert labels_checked > 0
