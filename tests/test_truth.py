"""Issue 10, the companion's side: every number and word it shows is true.

Outcome counting (blocked only when the browser blocked it), the migration keeping old data's
meaning, per-domain 'Partly blocked' with what got through and why, reach words, the same
totals for a company on every view, every company reachable, one category label per tracker,
times in the machine's zone, and a reloaded sign-in link.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time

import pytest

from companion import auth
from companion.history import History, period
from companion.storage import BLOCKED, DAY_MS, OUTCOME, RULE_BLOCKED, SCHEMA_VERSION, RecordedEvent, Store, now_ms

NEWS = "https://www.news.example/story.html"
GA = "https://www.google-analytics.com/analytics.js"


def post(client, auth, events):
    r = client.post("/api/v1/events", json={"events": events}, headers=auth)
    assert r.status_code == 200
    return r.get_json()


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|span|h2|div)>', html, re.S)
    assert found, element_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()


# -- outcome counting ---------------------------------------------------------------------


def test_a_request_counts_as_blocked_only_when_the_browser_blocked_it(client, auth, companion):
    body = post(client, auth, [
        # The companion decides to block Google Analytics, but the browser let this one through
        # (its rules had not caught up): it reached the tracker.
        {"url": GA, "page_url": NEWS, "type": "script", "tab_id": 3, "outcome": "reached"},
        {"url": GA + "?2", "page_url": NEWS, "type": "script", "tab_id": 3, "outcome": "blocked"},
        # An older extension says the same with browser_blocked only.
        {"url": GA + "?3", "page_url": NEWS, "type": "script", "tab_id": 3, "browser_blocked": True},
    ])
    assert all(r["ok"] and r["verdict"]["blocked"] for r in body["results"])  # what the companion meant
    assert body["tabs"] == {"3": {"trackers": 1, "blocked": 0, "reached": 1}}  # one got through: not blocked
    rows = companion.store.conn.execute("SELECT kind & 255 FROM requests ORDER BY id").fetchall()
    flags = [f for (f,) in rows]
    assert [bool(f & BLOCKED) for f in flags] == [False, True, True]
    assert all(f & RULE_BLOCKED for f in flags)
    assert [bool(f & OUTCOME) for f in flags] == [True, True, False]
    assert companion.store.conn.execute("SELECT requests, blocked, reached FROM daily").fetchall() == [(3, 2, 1)]


def test_every_request_of_a_domain_blocked_makes_it_blocked_on_the_tab(client, auth):
    body = post(client, auth, [
        {"url": GA, "page_url": NEWS, "type": "script", "tab_id": 4, "outcome": "blocked"},
        {"url": GA + "?b", "page_url": NEWS, "type": "ping", "tab_id": 4, "outcome": "blocked"},
    ])
    assert body["tabs"] == {"4": {"trackers": 1, "blocked": 1, "reached": 0}}


@pytest.mark.parametrize("event, reason", [
    ({"outcome": "cache"}, "'outcome' must be 'reached' or 'blocked'"),
    ({"outcome": True}, "'outcome' must be 'reached' or 'blocked'"),
    ({"outcome": "reached", "browser_blocked": True}, "contradicts"),
    ({"browser_blocked": "yes"}, "'browser_blocked' must be true or false"),
])
def test_a_bad_outcome_is_refused_with_a_reason_and_nothing_is_recorded(client, auth, companion, event, reason):
    body = post(client, auth, [{"url": GA, "page_url": NEWS, "type": "script", **event}])
    assert body["results"][0]["ok"] is False and reason in body["results"][0]["error"]
    assert companion.store.count_requests() == 0


def test_the_openapi_document_names_the_outcome(client, auth):
    doc = client.get("/api/v1/openapi.json", headers=auth).get_json()
    event = doc["components"]["schemas"]["Event"]["properties"]
    assert event["outcome"]["enum"] == ["reached", "blocked", None]


def test_migration_keeps_old_data_meaning(tmp_path, make_verdict):
    """A database of schema 2 (blocked counted from the verdict or the browser) upgrades in place
    (through 3, breakage reports, and 4, outcomes):
    what was blocked stays blocked, what was not is what got through."""
    path = tmp_path / "old.sqlite3"
    s = Store(path)
    s.close()
    conn = sqlite3.connect(path)
    # Rebuild the schema-2 shape: no 'reached', no web_sessions.code_hash, and rows written as then.
    conn.executescript("""
        DROP TABLE daily;
        CREATE TABLE daily (day INTEGER NOT NULL, site_id INTEGER NOT NULL, domain_id INTEGER NOT NULL,
            requests INTEGER NOT NULL, trackers INTEGER NOT NULL, blocked INTEGER NOT NULL,
            PRIMARY KEY (day, site_id, domain_id)) WITHOUT ROWID;
        DROP TABLE web_sessions;
        DROP TABLE breakage_trackers;
        DROP TABLE breakage_reports;
        DROP TABLE requests;
        CREATE TABLE requests (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, site_id INTEGER REFERENCES domains(id),
            host_id INTEGER NOT NULL REFERENCES hosts(id), type INTEGER NOT NULL, flags INTEGER NOT NULL,
            decided_by INTEGER NOT NULL, filter_id INTEGER REFERENCES filters(id));
        CREATE INDEX requests_site_time ON requests(site_id, time);
        CREATE TABLE web_sessions (id_hash TEXT PRIMARY KEY, csrf TEXT NOT NULL, expires INTEGER NOT NULL);
        INSERT INTO domains (id, name) VALUES (1, 'news.example'), (2, 'doubleclick.net');
        INSERT INTO hosts (id, name, domain_id) VALUES (1, 'ad.doubleclick.net', 2);
        INSERT INTO requests (time, site_id, host_id, type, flags, decided_by) VALUES
            (1000, 1, 1, 3, 7, 3), (1001, 1, 1, 3, 3, 5);
        INSERT INTO daily VALUES (0, 1, 2, 5, 5, 3);
        PRAGMA user_version = 2;
    """)
    conn.commit()
    conn.close()
    s = Store(path)
    assert s.schema_version == SCHEMA_VERSION
    assert s.conn.execute("SELECT requests, blocked, reached FROM daily").fetchone() == (5, 3, 2)
    flags = [f for (f,) in s.conn.execute("SELECT kind & 255 FROM requests ORDER BY id")]
    assert flags[0] & BLOCKED and flags[0] & RULE_BLOCKED and not flags[0] & OUTCOME
    assert not flags[1] & (BLOCKED | RULE_BLOCKED)
    s.close()


# -- per-domain state, got through and why -------------------------------------------------


def test_partly_blocked_names_the_host_that_got_through_and_what_let_it(client, auth, app, sign_in, companion):
    post(client, auth, [
        # The shipped list names google.com/pagead/; the browser blocked it.
        {"url": "https://www.google.com/pagead/1p-user-list/1", "page_url": NEWS, "type": "image", "outcome": "blocked"},
        # A request to the same domain that no filter names got through.
        {"url": "https://www.google.com/recaptcha/api.js", "page_url": NEWS, "type": "script", "outcome": "reached"},
    ])
    report = client.get("/api/v1/sites/news.example", headers=auth).get_json()
    (g,) = [t for t in report["third_parties"] if t["domain"] == "google.com"]
    assert (g["requests"], g["reached"], g["blocked"], g["state"]) == (2, 1, 1, "partly-blocked")
    (through,) = g["got_through"]
    assert through["host"] == "www.google.com" and through["requests"] == 1 and through["filter"] is None
    assert through["why"] == "no filter list names this request"
    sign_in(client, companion)
    html = client.get("/site/news.example?p=today").get_data(as_text=True)
    row = re.search(r'data-domain="google.com" data-state="partly-blocked">(.*?)</tr>', html, re.S).group(1)
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    assert "Partly blocked" in words and "1 of 2 requests got through" in words
    assert "www.google.com (1): no filter list names this request" in words
    assert "The site's own requests" not in html
    assert "Requests to this site's other hosts of its own (such as a cdn. or static. host): 0." in text_of(html, "own-hosts")


def test_a_request_meant_to_be_blocked_that_got_through_says_so(client, auth):
    post(client, auth, [
        {"url": GA, "page_url": NEWS, "type": "script", "outcome": "blocked"},
        {"url": GA + "?late", "page_url": NEWS, "type": "script", "outcome": "reached"},
    ])
    report = client.get("/api/v1/sites/news.example", headers=auth).get_json()
    (through,) = report["third_parties"][0]["got_through"]
    assert through["filter"] == "||google-analytics.com^"
    assert "the browser's rules had not caught up" in through["why"]


def test_a_domain_is_blocked_only_when_none_of_its_requests_got_through(client, auth, sign_in, companion):
    post(client, auth, [{"url": GA, "page_url": NEWS, "type": "script", "outcome": "blocked"}])
    sign_in(client, companion)
    html = client.get("/site/news.example?p=today").get_data(as_text=True)
    assert 'data-domain="google-analytics.com" data-state="blocked"' in html
    report = client.get("/api/v1/sites/news.example", headers=auth).get_json()
    assert report["third_parties"][0]["state"] == "blocked" and report["third_parties"][0]["got_through"] == []


def test_requests_whose_detail_retention_deleted_are_counted_as_no_longer_explained(
        companion, make_verdict, client, sign_in, csrf_of):
    # The counts come from the daily totals, which retention keeps; the reasons from the detail, which it
    # deletes. "12 of 108 requests got through" listed a reason for 2 of them and said nothing of the other 10.
    now = now_ms()
    old = now - 20 * DAY_MS
    ads = lambda blocked: make_verdict("news.example", "securepubads.g.doubleclick.net", "doubleclick.net",  # noqa: E731
                                       True, blocked, "||doubleclick.net^", decided_by=None if blocked else "site-tracker")
    ga = lambda blocked: make_verdict("news.example", "www.google-analytics.com", "google-analytics.com",  # noqa: E731
                                      True, blocked, "||google-analytics.com^", decided_by=None if blocked else "site-tracker")
    companion.store.record(
        [RecordedEvent(ads(False), old + i, False) for i in range(10)]
        + [RecordedEvent(ads(True), old + 100 + i, True) for i in range(50)]
        + [RecordedEvent(ads(False), now - 1000 - i, False) for i in range(2)]
        + [RecordedEvent(ads(True), now - 2000 - i, True) for i in range(46)]
        # Every request of this one that got through is older than the retention window.
        + [RecordedEvent(ga(False), old, False), RecordedEvent(ga(True), now - 3000, True)])
    sign_in(client, companion)
    assert client.post("/data/retention", data={"csrf": csrf_of(client), "days": "7"}).status_code == 200

    def row(path: str, domain: str) -> str:
        html = client.get(path).get_data(as_text=True)
        found = re.search(rf'data-domain="{re.escape(domain)}" data-state="partly-blocked">(.*?)</tr>', html, re.S)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))

    words = row("/site/news.example?p=all", "doubleclick.net")
    assert "Partly blocked" in words and "12 of 108 requests got through" in words
    assert "securepubads.g.doubleclick.net (2): you allowed it on this site" in words
    assert ("10 more: their detail is older than the retention window of 7 days, so what let them through is "
            "no longer known.") in words
    words = row("/site/news.example?p=all", "google-analytics.com")
    assert "1 of 2 requests got through" in words
    assert ("1 request: its detail is older than the retention window of 7 days, so what let it through is "
            "no longer known.") in words
    # Within the window every request that got through has its reason, and nothing more is said.
    words = row("/site/news.example?p=7d", "doubleclick.net")
    assert "2 of 48 requests got through" in words and "(2): you allowed it on this site" in words
    assert "retention window" not in words


# -- reach words and totals across views ---------------------------------------------------


def fill_reach(store: Store, make_verdict, now: int) -> None:
    """Meta: reached on one site, stopped on three; Google: reached on two (one by a non-tracker
    font of its own), stopped on one; over today and four days ago (a frozen and a live part)."""
    plan = [
        # (days ago, site, host, domain, tracker, browser blocked, count)
        (0, "a.example", "connect.facebook.net", "facebook.net", True, False, 1),
        (0, "a.example", "connect.facebook.net", "facebook.net", True, True, 2),
        (0, "b.example", "connect.facebook.net", "facebook.net", True, True, 3),
        (4, "c.example", "connect.facebook.net", "facebook.net", True, True, 1),
        (0, "d.example", "connect.facebook.net", "facebook.net", True, True, 1),
        (0, "a.example", "stats.g.doubleclick.net", "doubleclick.net", True, False, 2),
        (4, "b.example", "www.google-analytics.com", "google-analytics.com", True, True, 4),
        (4, "c.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 1),
        (0, "c.example", "fonts.gstatic.example", "gstatic.example", False, False, 5),
        (0, "e.example", "cdn.other.example", "other.example", False, False, 1),
        (0, None, "stats.g.doubleclick.net", "doubleclick.net", True, False, 1),
    ]
    events = []
    for ago, site, host, domain, tracker, blocked, n in plan:
        for i in range(n):
            events.append(RecordedEvent(make_verdict(site, host, domain, tracker, blocked, "||x^" if tracker else None),
                                        now - ago * DAY_MS - i, blocked))
    store.record(events)


@pytest.fixture
def reach_trackers(tmp_path):
    from companion.trackerdb import TrackerDB

    return TrackerDB({
        "categories": {"advertising": {"label": "Advertising", "learns": "What you read."},
                       "analytics": {"label": "Analytics", "learns": "How you use sites."},
                       "tag-manager": {"label": "Tag manager", "learns": "Which tags run."}},
        "companies": {"Google": {"domains": ["doubleclick.net", "google-analytics.com", "gstatic.example"]},
                      "Meta": {"domains": ["facebook.net"]}},
        "trackers": {"doubleclick.net": {"owner": "Google", "category": "advertising", "description": "Ads."},
                     "google-analytics.com": {"owner": "Google", "category": "tag-manager", "description": "Stats."},
                     "facebook.net": {"owner": "Meta", "category": "advertising", "description": "Pixel."}},
    })


@pytest.fixture
def reach_web(app, companion, make_verdict, reach_trackers, sign_in):
    fill_reach(companion.store, make_verdict, now_ms())
    app.extensions["crumbs_history"] = History(companion.store, reach_trackers)
    client = app.test_client()
    sign_in(client, companion)
    return client


def test_reach_tells_reached_from_stopped(companion, make_verdict, reach_trackers):
    now = now_ms()
    fill_reach(companion.store, make_verdict, now)
    h = History(companion.store, reach_trackers)
    snap = h.snapshot(period("7d", now))
    reach = {r["name"]: r for r in h.reach(snap, None)}
    meta, google = reach["Meta"], reach["Google"]
    assert (meta["sites_reached"], meta["sites_stopped"], meta["of_sites"]) == (1, 3, 5)
    # c.example: the font got through (Google's server got it) though its tracker was blocked.
    assert (google["sites_reached"], google["sites_stopped"]) == (2, 1)
    assert (google["requests"], google["reached"], google["blocked"]) == (2 + 4 + 1 + 5 + 1, 2 + 5 + 1, 4 + 1)
    assert "Other" not in reach and "other.example" not in reach  # never a tracker: not listed


def test_a_company_has_the_same_figures_on_every_view(reach_web):
    overview = reach_web.get("/?p=7d&all=1").get_data(as_text=True)
    row = re.search(r'<tr data-name="Google">(.*?)</tr>', overview, re.S).group(1)
    cells = dict(re.findall(r'class="num ([a-z-]+)">([^<]*)<', row))
    company = reach_web.get("/company/Google?p=7d").get_data(as_text=True)
    assert cells == {"sites-reached": "2 of 5", "sites-stopped": "1", "requests": "13", "reached": "8", "blocked": "5"}
    assert text_of(company, "requests") == cells["requests"]
    assert text_of(company, "reached") == cells["reached"]
    assert text_of(company, "blocked") == cells["blocked"]
    line = text_of(company, "reach-line")
    assert line.startswith("Google reached you on 2 of your 5 sites; Crumbs stopped it on 1 more")
    # Its site rows add up to the same totals (requests, tracker requests, got through, blocked), and the
    # tracker requests to what the line says of them.
    rows = re.findall(r'<tr data-site="[^"]*">(.*?)</tr>', company, re.S)
    nums = [[int(n) for n in re.findall(r'class="num">(\d+)<', r)] for r in rows]
    requests, trackers, reached, blocked = (sum(col) for col in zip(*nums))
    assert (requests, reached, blocked) == (13, 8, 5)
    assert 0 < trackers < requests and text_of(company, "tracker-requests") == str(trackers)


def test_the_overview_headline_is_the_true_reach(reach_web):
    html = reach_web.get("/?p=7d").get_data(as_text=True)
    assert text_of(html, "reach-line") == "Google reached you on 2 of your 5 sites; Crumbs stopped it on 1 more the last 7 days."
    meta = reach_web.get("/company/Meta?p=7d").get_data(as_text=True)
    assert text_of(meta, "reach-line").startswith("Meta reached you on 1 of your 5 sites; Crumbs stopped it on 3 more")
    tracker = reach_web.get("/tracker/facebook.net?p=7d").get_data(as_text=True)
    assert text_of(tracker, "reach-line").startswith("facebook.net reached you on 1 of your 5 sites; Crumbs stopped it on 3 more")


def test_every_company_can_be_seen(companion, make_verdict, reach_trackers, app, sign_in):
    now = now_ms()
    events = [RecordedEvent(make_verdict(f"s{i}.example", f"t.track{i}.example", f"track{i}.example", True, False, "||x^"),
                            now - i, False) for i in range(15)]
    companion.store.record(events)
    app.extensions["crumbs_history"] = History(companion.store, reach_trackers)
    client = sign_in(app.test_client(), companion)
    html = client.get("/?p=today").get_data(as_text=True)
    assert len(re.findall(r"<tr data-name=", html)) == 12
    assert "show all 15" in text_of(html, "reach-count")
    full = client.get("/?p=today&all=1").get_data(as_text=True)
    assert len(re.findall(r"<tr data-name=", full)) == 15 and text_of(full, "reach-count") == "All 15 shown."


# -- one category label per tracker --------------------------------------------------------


def test_one_label_per_tracker_in_every_view(client, auth, sign_in, companion):
    """google.com lists hosts under other categories (analytics.google.com): every view shows the domain's one label."""
    db = companion.trackers
    facts = db.facts("google.com")
    assert facts is not None and db.facts("analytics.google.com") == facts
    body = post(client, auth, [
        {"url": "https://analytics.google.com/g/collect?v=2", "page_url": NEWS, "type": "ping", "outcome": "blocked"},
        {"url": "https://www.google.com/recaptcha/api.js", "page_url": NEWS, "type": "script", "outcome": "reached"},
    ])
    labels = {r["verdict"]["category_label"] for r in body["results"]}
    assert labels == {facts.category_label}
    api = client.get("/api/v1/sites/news.example", headers=auth).get_json()
    assert {t["category_label"] for t in api["third_parties"] if t["domain"] == "google.com"} == {facts.category_label}
    sign_in(client, companion)
    site = client.get("/site/news.example?p=today").get_data(as_text=True)
    cell = re.search(r'data-domain="google.com"[^>]*>.*?<td class="category">([^<]*)</td>', site, re.S).group(1)
    tracker = client.get("/tracker/google.com?p=today").get_data(as_text=True)
    assert cell == text_of(tracker, "category") == facts.category_label


def test_search_shows_labels_not_slugs(reach_web):
    html = reach_web.get("/search?p=7d&q=google-analytics").get_data(as_text=True)
    cells = re.findall(r'<td class="category">([^<]*)</td>', html)
    assert cells and set(cells) == {"Tag manager"}
    assert "tag-manager</td>" not in html


def test_facts_of_a_domain_listed_only_by_its_hosts(reach_trackers):
    from companion.trackerdb import TrackerDB

    db = TrackerDB({
        "categories": {"analytics": {"label": "Analytics", "learns": "x"}, "advertising": {"label": "Advertising", "learns": "y"}},
        "companies": {"Acme": {"domains": ["acme.example"]}},
        "trackers": {"ads.acme.example": {"owner": "Acme", "category": "advertising", "description": "Ads."},
                     "m.acme.example": {"owner": "Acme", "category": "analytics", "description": "Stats."},
                     "n.acme.example": {"owner": "Acme", "category": "analytics", "description": "More stats."}},
    })
    # The category most of its listed hosts share, whichever host is asked about.
    assert {db.facts(h).category_label for h in ("acme.example", "ads.acme.example", "www.acme.example")} == {"Analytics"}
    assert db.facts("nothing.example") is None


# -- local time ----------------------------------------------------------------------------


@pytest.fixture
def paris():
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_times_are_shown_in_the_machines_time_zone_and_it_says_which(paris, signed_in, companion):
    # 2026-01-15 12:34 UTC is 13:34 in Paris (winter, UTC+01:00).
    when = 1_768_480_440_000
    companion.set_site_tracker("news.example", "doubleclick.net", "block")
    companion.store.conn.execute("UPDATE site_tracker_choices SET created = ?", (when,))
    companion.store.conn.commit()
    html = signed_in.get("/choices").get_data(as_text=True)
    assert "2026-01-15 13:34" in html and "12:34" not in html
    zone = text_of(html, "time-zone")
    assert "Europe/Paris (UTC+01:00)" in zone or "Europe/Paris (UTC+02:00)" in zone  # the offset today


@pytest.fixture
def auckland():
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Auckland"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_days_are_the_machines_days(auckland, tmp_path, make_verdict, daily_disagreements, small_trackers):
    """2026-01-15 20:00 UTC is already 2026-01-16 09:00 in Auckland (UTC+13:00 in summer): that is its day."""
    from companion.history import day_to_iso
    from companion.storage import day_of, day_start

    when = 1_768_507_200_000  # 2026-01-15T20:00:00Z
    assert day_to_iso(day_of(when)) == "2026-01-16"
    assert day_start(day_of(when)) == 1_768_474_800_000  # 2026-01-16T00:00+13:00 = 2026-01-15T11:00Z
    store = Store(tmp_path / "tz.sqlite3")
    try:
        store.record([RecordedEvent(make_verdict("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, "||x^"),
                                    when, True),
                      RecordedEvent(make_verdict("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, "||x^"),
                                    1_768_474_800_000 - 1, True)])  # one millisecond before local midnight
        days = sorted(day_to_iso(d) for (d,) in store.conn.execute("SELECT day FROM daily"))
        assert days == ["2026-01-15", "2026-01-16"]
        h = History(store, small_trackers)
        today = period("today", when)
        assert h.overview(h.snapshot(today))["third_party_requests"] == 1
        assert h.site("news.example", today)["third_parties"][0]["first_seen"] == when
        removed = h.forget_days(day_of(when), day_of(when))
        assert removed["requests"] == 1 and removed["daily"] == 1
        assert daily_disagreements(store) == []
    finally:
        store.close()


def test_a_utc_machine_says_utc(signed_in):
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        html = signed_in.get("/choices").get_data(as_text=True)
    finally:
        if before is None:
            os.environ.pop("TZ")
        else:
            os.environ["TZ"] = before
        time.tzset()
    assert "Times and days are in UTC (UTC+00:00)" in text_of(html, "time-zone")


# -- a reloaded sign-in link ---------------------------------------------------------------


def test_a_used_link_reopened_in_the_browser_it_signed_in_goes_to_the_history(app, companion):
    code = auth.new_signin_code(companion.store)
    browser = app.test_client()
    assert browser.get(f"/signin/{code}").status_code == 200
    again = browser.get(f"/signin/{code}")  # the tab still shows /signin/<code> and is reloaded
    assert again.status_code == 303 and again.headers["Location"].endswith("/")
    assert browser.get("/").status_code == 200
    # Another browser with the same used link: still 'already used'.
    other = app.test_client()
    refused = other.get(f"/signin/{code}")
    assert refused.status_code == 401 and "already been used" in refused.get_data(as_text=True)
    # The same browser with a different used link (signed in by another code): refused too.
    second = auth.new_signin_code(companion.store)
    assert app.test_client().get(f"/signin/{second}").status_code == 200
    assert browser.get(f"/signin/{second}").status_code == 401


def test_a_filter_the_browsers_rules_cannot_express_is_said_so_not_blamed_on_rules_catching_up(tmp_path):
    # `domain=news-entity.*` (an entity domain) has no declarativeNetRequest form: the engine blocks with it,
    # the browser never will. Its requests got through for good, not "until the rules catch up".
    from companion.dnr.cache import BrowserRules
    from companion.service import Companion

    listed = tmp_path / "entity.txt"
    listed.write_text("[Adblock Plus 2.0]\n||entity-tracker.example^$domain=news-entity.*\n||plain-tracker.example^\n")
    companion = Companion(tmp_path / "data", lists=[listed])
    try:
        results, _ = companion.report([
            {"url": "https://entity-tracker.example/p.gif", "page_url": "https://www.news-entity.com/", "type": "image",
             "outcome": "reached"},
            {"url": "https://plain-tracker.example/p.gif", "page_url": "https://www.news-entity.com/", "type": "image",
             "outcome": "reached"},
        ])
        assert [r["verdict"].blocked for r in results] == [True, True]  # what the lists say
        rules = json.dumps(BrowserRules(companion, min_interval=0).get()[1])
        assert "entity-tracker.example" not in rules and "plain-tracker.example" in rules
        why = {p["domain"]: p["got_through"][0]["why"] for p in companion.site_report("news-entity.com")["third_parties"]}
        assert why["entity-tracker.example"] == (
            "the lists block it (||entity-tracker.example^$domain=news-entity.* (entity)), but the browser's "
            "rules cannot express this filter, so the browser lets it through")
        assert "had not caught up" in why["plain-tracker.example"]  # that one the browser's rules do carry
    finally:
        companion.close()
