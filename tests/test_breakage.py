""""Page broken?" reports and the GPC setting through the real app (Flask's test client, a real SQLite file):
token auth, bad input answered 4xx with a JSON reason, what is stored, and how the history pages show it."""

from __future__ import annotations

import re

import pytest

from companion import breakage
from companion.storage import SCHEMA_VERSION, Store

from companion.history import History

ORIGIN = "http://127.0.0.1:8737"


def post(client, body, headers):
    return client.post("/api/v1/breakage", json=body, headers=headers)


def record_tracker_visit(client, auth, site="news.example", url="https://stats.g.doubleclick.net/pixel.gif"):
    r = client.post("/api/v1/events", json={"events": [
        {"url": url, "page_url": f"https://{site}/a", "type": "image", "time": 1_700_000_000_000,
         "browser_blocked": True}]}, headers=auth)
    assert r.status_code == 200 and r.get_json()["results"][0]["ok"], r.get_json()


# -- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("POST", "/api/v1/breakage"), ("GET", "/api/v1/breakage"),
                                         ("GET", "/api/v1/settings/gpc"), ("PUT", "/api/v1/settings/gpc")])
def test_routes_need_the_token(client, companion, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = client.open(path, method=method, json={"site": "news.example", "trackers": []}, headers=headers)
        assert r.status_code == 401 and r.is_json and r.get_json()["error"], (headers, r.data)
    # A web page's origin is refused even with the token.
    r = client.open(path, method=method, json={"site": "news.example"},
                    headers={"Authorization": f"Bearer {companion.token}", "Origin": "https://evil.example"})
    assert r.status_code == 403 and r.get_json()["error"]
    assert companion.breakage_reports() == []


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("body,status", [
    ([], 400),
    ("news.example", 400),
    ({}, 400),
    ({"site": 3}, 400),
    ({"site": ""}, 400),
    ({"site": "not a domain"}, 400),
    ({"site": "<script>x</script>"}, 400),
    ({"site": "javascript:alert(1)"}, 400),
    ({"site": "a" * 300 + ".example"}, 400),
    ({"site": "news.example", "trackers": "doubleclick.net"}, 400),
    ({"site": "news.example", "trackers": [1]}, 400),
    ({"site": "news.example", "trackers": [None]}, 400),
    ({"site": "news.example", "trackers": ["ok.net", "bad host!"]}, 400),
    ({"site": "news.example", "trackers": [], "page_url": "https://news.example/secret"}, 400),
    ({"site": "news.example", "trackers": [f"t{i}.net" for i in range(201)]}, 413),
])
def test_bad_reports_are_refused_with_a_json_reason(client, auth, companion, body, status):
    r = post(client, body, auth)
    assert r.status_code == status, r.data
    assert r.is_json and isinstance(r.get_json()["error"], str)
    assert companion.breakage_reports() == []


def test_non_json_and_broken_json_are_refused(client, auth, companion):
    r = client.post("/api/v1/breakage", data="site=news.example", headers=auth,
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415 and r.get_json()["error"]
    r = client.post("/api/v1/breakage", data="{not json", headers=auth, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]
    r = client.post("/api/v1/breakage", data="[" * 10_000 + "]" * 10_000, headers=auth, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]
    assert companion.breakage_reports() == []


# -- stored -----------------------------------------------------------------------------------


def test_a_report_is_stored_with_registrable_domains_only(client, auth, companion):
    r = post(client, {"site": "https://www.news.example/article?id=7",
                      "trackers": ["stats.g.doubleclick.net", "doubleclick.net", "www.google-analytics.com",
                                   "cdn.news.example"]}, auth)
    assert r.status_code == 201, r.data
    body = r.get_json()
    assert body["ok"] is True and body["site"] == "news.example"
    # Hosts reduced to their sites, duplicates merged, the page's own site dropped; no page address kept.
    assert body["trackers"] == ["doubleclick.net", "google-analytics.com"]
    listed = client.get("/api/v1/breakage", headers=auth).get_json()["reports"]
    assert [(x["site"], x["trackers"]) for x in listed] == [("news.example", ["doubleclick.net", "google-analytics.com"])]
    # It is in the database file itself, and nothing there holds the URL's path or query.
    reopened = Store(companion.store.path)
    try:
        rows = reopened.conn.execute("SELECT site FROM breakage_reports").fetchall()
        assert rows == [("news.example",)]
        dump = "\n".join(reopened.conn.iterdump())
        assert "article" not in dump and "id=7" not in dump
    finally:
        reopened.close()
    # A report with nothing blocked is fine too.
    assert post(client, {"site": "other.example", "trackers": []}, auth).status_code == 201
    assert post(client, {"site": "other.example"}, auth).status_code == 201
    assert companion.breakage_for("doubleclick.net") == {"reports": 1, "sites": 1}


def test_migration_3_adds_the_tables_to_an_older_database(tmp_path):
    path = tmp_path / "db.sqlite3"
    s = Store(path)
    s.set_setting("report_only", "1")
    s.conn.execute("DROP TABLE breakage_trackers")
    s.conn.execute("DROP TABLE breakage_reports")
    s.conn.execute("PRAGMA user_version = 2")
    s.close()
    s = Store(path)
    try:
        assert s.schema_version == SCHEMA_VERSION >= 3
        assert s.get_setting("report_only") == "1"
        breakage.add_report(s, "news.example", ["doubleclick.net"])
        assert breakage.tracker_summary(s, "doubleclick.net") == {"reports": 1, "sites": 1}
    finally:
        s.close()


# -- the GPC setting --------------------------------------------------------------------------


def test_gpc_setting_defaults_on_and_is_kept(client, auth, companion):
    assert client.get("/api/v1/settings/gpc", headers=auth).get_json() == {"gpc": True}
    assert client.put("/api/v1/settings/gpc", json={"gpc": False}, headers=auth).get_json() == {"gpc": False}
    assert client.get("/api/v1/settings/gpc", headers=auth).get_json() == {"gpc": False}
    for bad in ({"gpc": "no"}, {"gpc": 0}, {}, {"gpc": True, "x": 1}, [True]):
        r = client.put("/api/v1/settings/gpc", json=bad, headers=auth)
        assert r.status_code == 400 and r.get_json()["error"], bad
    assert companion.store.get_setting("gpc") == "0"
    # The other settings answer as before.
    assert client.get("/api/v1/settings", headers=auth).get_json() == {"report_only": False}


# -- the history pages ------------------------------------------------------------------------


def test_pages_list_reports_and_count_them_on_the_tracker_page(client, auth, companion, sign_in):
    record_tracker_visit(client, auth)
    for site in ("news.example", "news.example", "shop.example"):
        assert post(client, {"site": site, "trackers": ["stats.g.doubleclick.net"]}, auth).status_code == 201
    assert post(client, {"site": "blog.example", "trackers": ["google-analytics.com"]}, auth).status_code == 201

    assert client.get("/broken").status_code == 401  # the history's session, as every page
    sign_in(client, companion)
    page = client.get("/broken").get_data(as_text=True)
    assert page.count('href="/site/news.example"') == 2 and 'href="/site/shop.example"' in page
    assert 'href="/tracker/doubleclick.net"' in page and 'href="/tracker/google-analytics.com"' in page
    assert 'href="/broken"' in client.get("/").get_data(as_text=True)  # in the navigation

    tracker = client.get("/tracker/doubleclick.net?p=all").get_data(as_text=True)
    assert "You said a page was broken while it was blocked 3 times, on 2 of your sites" in tracker
    record_tracker_visit(client, auth, url="https://www.google-analytics.com/collect")
    other = client.get("/tracker/google-analytics.com?p=all").get_data(as_text=True)
    assert "You said a page was broken while it was blocked 1 time, on 1 of your sites (" in other


def test_hostile_names_in_the_table_are_escaped(client, companion, sign_in):
    # The API refuses such names; a database written by anything else must still render harmlessly.
    breakage.add_report(companion.store, '<script>alert("s")</script>.example', ['"><img src=x onerror=alert(1)>.test'])
    sign_in(client, companion)
    r = client.get("/broken")
    page = r.get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt;.example" in page
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_forgetting_reports_needs_the_csrf_token(client, auth, companion, sign_in, csrf_of):
    for site in ("news.example", "shop.example"):
        post(client, {"site": site, "trackers": ["doubleclick.net"]}, auth)
    sign_in(client, companion)
    assert client.post("/broken/forget", data={"all": "yes"}).status_code == 403
    assert len(companion.breakage_reports()) == 2
    csrf = csrf_of(client, "/broken")
    first = companion.breakage_reports()[0]["id"]
    assert client.post("/broken/forget", data={"csrf": csrf, "id": str(first)}).status_code == 303
    assert [r["site"] for r in companion.breakage_reports()] == ["news.example"]
    assert client.post("/broken/forget", data={"csrf": csrf, "id": "x"}).status_code == 400
    assert client.post("/broken/forget", data={"csrf": csrf, "all": "yes"}).status_code == 303
    assert companion.breakage_reports() == []
    page = client.get("/broken").get_data(as_text=True)
    assert re.search(r"No reports yet", page)


# -- forgetting history forgets the matching reports ---------------------------------------------

DAY = 86_400_000


def _reports(companion):
    return sorted((r["site"], tuple(r["trackers"])) for r in companion.breakage_reports())


def _three_reports(companion, when=1_700_000_000_000):
    breakage.add_report(companion.store, "news.example", ["doubleclick.net", "google-analytics.com"], when)
    breakage.add_report(companion.store, "shop.example", ["doubleclick.net"], when + DAY)
    breakage.add_report(companion.store, "blog.example", ["google-analytics.com"], when + 2 * DAY)


def test_forgetting_a_site_forgets_its_reports(client, auth, companion):
    record_tracker_visit(client, auth)  # some history for news.example
    _three_reports(companion)
    removed = History(companion.store, companion.trackers).forget_site("news.example")
    assert removed["requests"] == 1 and removed["breakage_reports"] == 1
    assert _reports(companion) == [("blog.example", ("google-analytics.com",)), ("shop.example", ("doubleclick.net",))]


def test_a_report_goes_even_when_no_request_of_its_site_is_left(companion):
    # Reports can outlive the detail (retention); forgetting the name must still reach them.
    _three_reports(companion)
    removed = History(companion.store, companion.trackers).forget_site("shop.example")
    assert removed["requests"] == 0 and removed["breakage_reports"] == 1
    assert [s for s, _ in _reports(companion)] == ["blog.example", "news.example"]


def test_forgetting_a_tracker_takes_it_out_of_every_report(client, auth, companion):
    record_tracker_visit(client, auth)
    _three_reports(companion)
    removed = History(companion.store, companion.trackers).forget_tracker("doubleclick.net")
    # shop.example named only doubleclick.net: that report goes; news.example keeps its other tracker.
    assert removed["breakage_reports"] == 1
    assert _reports(companion) == [("blog.example", ("google-analytics.com",)),
                                   ("news.example", ("google-analytics.com",))]
    assert companion.breakage_for("doubleclick.net") == {"reports": 0, "sites": 0}
    assert companion.store.conn.execute(
        "SELECT count(*) FROM breakage_trackers WHERE tracker = 'doubleclick.net'").fetchone() == (0,)


def test_forgetting_days_forgets_the_reports_made_on_them(companion):
    when = 1_700_000_000_000
    _three_reports(companion, when)
    day = when // DAY
    removed = History(companion.store, companion.trackers).forget_days(day + 1, day + 2)
    assert removed["breakage_reports"] == 2
    assert [s for s, _ in _reports(companion)] == ["news.example"]


def test_forgetting_everything_on_the_data_page_forgets_every_report(client, auth, companion, sign_in, csrf_of):
    record_tracker_visit(client, auth)
    _three_reports(companion)
    sign_in(client, companion)
    csrf = csrf_of(client, "/data")
    r = client.post("/data/forget", data={"csrf": csrf, "what": "everything", "confirm": "yes"})
    assert r.status_code == 200, r.data
    assert companion.breakage_reports() == []
    assert companion.store.conn.execute("SELECT count(*) FROM breakage_trackers").fetchone() == (0,)
    assert "3 “Page broken?” reports went too" in r.get_data(as_text=True)
