"""The history core (companion.history): figures, reach, site/tracker/company, search, map data,
export round-trips, forget and retention, and the daily totals agreeing with the detail throughout."""

from __future__ import annotations

import csv
import io
import json

import pytest

from companion import auth
from companion import history as core
from companion.history import History, period
from companion.storage import DAY_MS, RecordedEvent, Store

NOW = 20_300 * DAY_MS + 12 * 3_600_000  # noon of a fixed UTC day
TODAY = NOW // DAY_MS


def fill(make_verdict, store: Store) -> None:
    """Three sites over five days, with Google (two domains), Meta and a harmless CDN."""
    events = []
    plan = [
        # (day offset, site, host, domain, tracker, blocked, count)
        (0, "news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 5),
        (0, "news.example", "www.google-analytics.com", "google-analytics.com", True, False, 3),
        (0, "news.example", "cdn.news-static.example", "news-static.example", False, False, 4),
        (0, "news.example", "www.news.example", "news.example", False, False, 2),
        (-1, "shop.example", "connect.facebook.net", "facebook.net", True, True, 2),
        (-1, "shop.example", "www.google-analytics.com", "google-analytics.com", True, True, 1),
        (-3, "blog.example", "stats.g.doubleclick.net", "doubleclick.net", True, False, 6),
        (-20, "old.example", "connect.facebook.net", "facebook.net", True, False, 7),
        (0, None, "connect.facebook.net", "facebook.net", True, True, 1),
    ]
    for offset, site, host, domain, tracker, blocked, count in plan:
        for i in range(count):
            events.append(RecordedEvent(make_verdict(site, host, domain, tracker, blocked, "||x^" if tracker else None),
                                        NOW + offset * DAY_MS - i * 60_000, blocked))
    store.record(events)


@pytest.fixture
def store(tmp_path, make_verdict):
    s = Store(tmp_path / "h.sqlite3")
    fill(make_verdict, s)
    yield s
    s.close()


@pytest.fixture
def h(store, small_trackers):
    return History(store, small_trackers)


def test_overview_counts_third_parties_of_the_period(h):
    snap = h.snapshot(period("7d", NOW))
    fig = h.overview(snap)
    assert fig["sites_visited"] == 3  # news, shop, blog (old.example is 20 days ago; the unknown page is no site)
    assert fig["third_party_requests"] == 5 + 3 + 4 + 2 + 1 + 6 + 1
    assert fig["trackers_seen"] == 3
    assert fig["blocked"] == 5 + 2 + 1 + 1
    assert h.overview(h.snapshot(period("all", NOW)))["sites_visited"] == 4
    assert h.overview(h.snapshot(period("today", NOW)))["third_party_requests"] == 13


def test_reach_groups_domains_by_company_and_counts_sites(h):
    reach = h.reach(h.snapshot(period("7d", NOW)))
    google = reach[0]
    # news: doubleclick blocked but Google Analytics got through; blog: doubleclick got through;
    # shop: Google Analytics' one request was blocked.
    assert (google["name"], google["sites"], google["sites_stopped"], google["of_sites"]) == ("Google", 2, 1, 3)
    assert google["domains"] == ["doubleclick.net", "google-analytics.com"]
    assert (google["requests"], google["reached"], google["blocked"]) == (5 + 3 + 1 + 6, 3 + 6, 5 + 1)
    meta = next(r for r in reach if r["name"] == "Meta")
    # Tried on shop.example and stopped; the unknown page does not count as one of the person's sites.
    assert (meta["sites_reached"], meta["sites_stopped"]) == (0, 1)
    assert (meta["requests"], meta["blocked"]) == (2 + 1, 2 + 1)
    assert all(r["is_company"] for r in reach)


def test_timeline_has_every_day_with_blocked_and_allowed(h):
    tl = h.snapshot(period("7d", NOW)).timeline
    assert [d for d, _, _ in tl] == list(range(TODAY - 6, TODAY + 1))
    by_day = {d: (b, a) for d, b, a in tl}
    assert by_day[TODAY] == (5 + 1, 3)
    assert by_day[TODAY - 1] == (3, 0)
    assert by_day[TODAY - 3] == (0, 6)
    assert by_day[TODAY - 2] == (0, 0)


def test_site_lists_third_parties_with_owner_and_first_last_seen(h):
    report = h.site("news.example", period("7d", NOW))
    parties = {p["domain"]: p for p in report["third_parties"]}
    assert set(parties) == {"doubleclick.net", "google-analytics.com", "news-static.example"}
    dc = parties["doubleclick.net"]
    assert (dc["owner"], dc["category"], dc["requests"], dc["blocked"], dc["reached"]) == ("Google", "advertising", 5, 5, 0)
    assert (dc["state"], dc["category_label"]) == ("blocked", "Advertising")
    assert parties["google-analytics.com"]["state"] == "reached"
    assert dc["first_seen"] == NOW - 4 * 60_000 and dc["last_seen"] == NOW
    assert dc["hosts"] == ["stats.g.doubleclick.net"]
    assert parties["news-static.example"]["tracker"] is False
    assert "first_party_requests" not in report  # requests to the page's own host are never reported: no false figure
    assert report["own_other_hosts_requests"] == 2  # www.news.example from news.example pages: reported, first party
    assert (report["trackers_reached"], report["trackers_stopped"]) == (1, 1)
    assert h.site("nowhere.example", period("7d", NOW)) is None


def test_tracker_and_company_pages(h):
    t = h.tracker("doubleclick.net", period("7d", NOW))
    assert [s["site"] for s in t["sites"]] == ["blog.example", "news.example"]
    assert t["owner"] == "Google" and t["learns"].startswith("What you read")
    assert t["hosts"] == ["stats.g.doubleclick.net"]
    c = h.company("Google", period("all", NOW))
    assert c["domains"] == ["doubleclick.net", "google-analytics.com"]
    assert {s["site"] for s in c["sites"]} == {"news.example", "shop.example", "blog.example"}
    assert h.company("Nobody", period("all", NOW)) is None


def test_search_filters_by_text_category_and_state(h):
    snap = h.snapshot(period("all", NOW))
    assert {r["domain"] for r in h.search(snap, q="google")["rows"]} == {"doubleclick.net", "google-analytics.com"}
    assert {r["site"] for r in h.search(snap, q="shop")["rows"]} == {"shop.example"}
    assert {r["domain"] for r in h.search(snap, category="analytics")["rows"]} == {"google-analytics.com"}
    blocked = h.search(snap, state="blocked")["rows"]
    assert all(r["blocked"] for r in blocked) and len(blocked) == 4
    assert {r["domain"] for r in h.search(snap, category="unknown")["rows"]} == {"news-static.example"}


def test_graph_links_sites_to_shared_trackers(h):
    g = h.graph(h.snapshot(period("all", NOW)))
    assert {s["name"] for s in g["sites"]} == {"news.example", "shop.example", "blog.example", "old.example"}
    assert ("blog.example", "doubleclick.net", 6) in g["edges"]
    assert next(t for t in g["trackers"] if t["name"] == "google-analytics.com")["sites"] == 2
    assert all(d != "news-static.example" for _, d, _ in g["edges"])  # not a tracker


def test_daily_totals_agree_with_the_detail(daily_disagreements, store):
    assert daily_disagreements(store) == []
    store.conn.execute(
        "UPDATE daily SET requests = requests + 1 WHERE day = ? AND domain_id = (SELECT id FROM domains WHERE name = ?)",
        (TODAY, "doubleclick.net"))
    assert len(daily_disagreements(store)) == 1  # the check can fail


def _table_counts(store):
    return {t: store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("requests", "daily", "hosts", "domains", "filters")}


def _names(store):
    return {n for (n,) in store.conn.execute("SELECT name FROM domains")} | \
        {n for (n,) in store.conn.execute("SELECT name FROM hosts")}


def test_forget_site_removes_it_from_every_table(daily_disagreements, h, store):
    removed = h.forget_site("blog.example")
    assert removed["requests"] == 6 and removed["daily"] == 1
    assert "blog.example" not in _names(store)
    assert store.conn.execute("SELECT count(*) FROM requests r JOIN domains d ON d.id = r.site_id "
                              "WHERE d.name = 'blog.example'").fetchone()[0] == 0
    assert daily_disagreements(store) == []
    assert h.site("blog.example", period("all", NOW)) is None
    # doubleclick is still known from news.example
    assert "stats.g.doubleclick.net" in _names(store)


def test_forget_tracker_removes_hosts_domain_and_totals(daily_disagreements, h, store):
    h.forget_tracker("facebook.net")
    names = _names(store)
    assert "facebook.net" not in names and "connect.facebook.net" not in names
    assert "old.example" not in names  # only facebook was seen there: nothing refers to it any more
    assert daily_disagreements(store) == []
    assert all(r["name"] != "Meta" for r in h.reach(h.snapshot(period("all", NOW)), None))


def test_forget_days_and_everything(daily_disagreements, h, store):
    h.forget_days(TODAY - 1, TODAY)
    assert store.conn.execute("SELECT count(*) FROM requests WHERE time >= ?", ((TODAY - 1) * DAY_MS,)).fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM daily WHERE day >= ?", (TODAY - 1,)).fetchone()[0] == 0
    assert daily_disagreements(store) == []
    assert _table_counts(store)["requests"] == 13  # blog (6) and old (7) remain
    with pytest.raises(ValueError):
        h.forget_days(TODAY, TODAY - 1)
    h.forget_everything()
    assert _table_counts(store) == {"requests": 0, "daily": 0, "hosts": 0, "domains": 0, "filters": 0}


def test_recording_after_forget_still_works(daily_disagreements, make_verdict, h, store):
    """The store interns ids in caches: after deleting orphans it must not hand out dead ids."""
    h.forget_tracker("facebook.net")
    store.record([RecordedEvent(make_verdict("shop.example", "connect.facebook.net", "facebook.net", True, True), NOW, True)])
    assert daily_disagreements(store) == []
    assert h.tracker("facebook.net", period("today", NOW))["requests"] == 1


def test_retention_deletes_old_detail_keeps_totals(daily_disagreements, h, store):
    before = h.overview(h.snapshot(period("all", NOW)))
    h.set_retention_days(7)
    removed = h.apply_retention(NOW)
    assert removed["requests"] == 7  # old.example, 20 days ago
    assert store.conn.execute("SELECT min(time) FROM requests").fetchone()[0] >= (TODAY - 6) * DAY_MS
    assert daily_disagreements(store, from_day=TODAY - 6) == []
    assert h.overview(h.snapshot(period("all", NOW))) == before  # the totals kept everything
    # The site page still shows old.example from the totals, by day
    old = h.site("old.example", period("all", NOW))
    assert old["third_parties"][0]["requests"] == 7
    with pytest.raises(ValueError):
        h.set_retention_days(12)
    assert not h.retention_due(NOW + 60_000) and h.retention_due(NOW + 2 * 3_600_000)


def test_default_retention_is_90_days(h):
    assert h.retention_days() == 90


def test_export_json_is_exactly_what_is_stored(h, store):
    doc = json.loads("".join(h.export_json()))
    assert len(doc["requests"]) == _table_counts(store)["requests"]
    raw = store.conn.execute("SELECT id, time, kind & 255 FROM requests ORDER BY id").fetchall()
    assert sorted((r["id"], r["time"], r["flags"]) for r in doc["requests"]) == raw
    first = next(r for r in doc["requests"] if r["host"] == "stats.g.doubleclick.net")
    assert first["site"] in ("news.example", "blog.example") and first["domain"] == "doubleclick.net"
    assert first["tracker"] is True and first["filter"] == "||x^" and first["list"] == "test"
    daily = store.conn.execute("SELECT day, requests, trackers, blocked FROM daily ORDER BY day, site_id, domain_id")
    assert [(d["day"], d["requests"], d["trackers"], d["blocked"]) for d in doc["daily"]] == daily.fetchall()
    assert doc["settings"] == {"retention_days": 90}


def test_export_csv_round_trip_and_formula_neutralised(make_verdict, h, store):
    store.record([RecordedEvent(make_verdict("=cmd.example", "@evil.test", "+evil.test", False, False), NOW)])
    rows = list(csv.DictReader(io.StringIO("".join(h.export_csv()))))
    assert len(rows) == _table_counts(store)["requests"]
    last = rows[-1]
    assert last["site"] == "'=cmd.example" and last["host"] == "'@evil.test" and last["domain"] == "'+evil.test"
    daily = list(csv.DictReader(io.StringIO("".join(h.export_csv("daily")))))
    assert sum(int(r["requests"]) for r in daily) == _table_counts(store)["requests"]
    assert core.csv_cell("-1+1") == "'-1+1" and core.csv_cell("safe") == "safe" and core.csv_cell(None) == ""


def test_import_choices_round_trip(h, store):
    store.set_site_tracker("news.example", "doubleclick.net", "allow")
    store.set_tracker("facebook.net", "block")
    store.set_trust("blog.example", "always")
    exported = json.loads(json.dumps(store.list_choices()))
    for table in ("site_tracker_choices", "tracker_choices", "trusted_sites"):
        store.conn.execute(f"DELETE FROM {table}")
    rev = store.choices_rev()
    assert h.import_choices(exported) == 3
    again = store.list_choices()
    strip = lambda d: {k: [{kk: vv for kk, vv in i.items() if kk != "created"} for i in v] for k, v in d.items()}
    assert strip(again) == strip(exported)
    assert store.choices_rev() > rev
    with pytest.raises(ValueError):
        h.import_choices({"everywhere": [{"tracker": "x.com", "action": "explode"}]})
    with pytest.raises(ValueError):
        h.import_choices({"everywhere": [{"tracker": "javascript:alert(1)", "action": "block"}]})
    assert len(store.list_choices()["everywhere"]) == 1  # nothing of a refused import was applied


@pytest.mark.parametrize("until", [-5, 0, 1_700_000_000, True, 1.5, "1700000000000", float("inf"), float("nan"),
                                   10**30, core.now_ms() + 30 * DAY_MS, [], {}])
def test_import_refuses_an_impossible_trust_expiry(h, store, until):
    # -5 was imported ("1 choice imported") and then listed as "a.com expired 1969-12-31 23:59".
    with pytest.raises(ValueError, match="'until' of a trusted site must be null"):
        h.import_choices({"trusted": [{"site": "a.com", "until": until}]})
    assert store.list_choices()["trusted"] == []


def test_import_keeps_a_real_expiry_even_a_past_one(h, store):
    # An exported file lists expired trust too (shown as expired), and is imported later than it was made.
    now = core.now_ms()
    past, soon = now - 400 * DAY_MS, float(now + DAY_MS - 60_000)
    assert h.import_choices({"trusted": [{"site": "a.com", "until": past}, {"site": "b.com", "until": soon},
                                         {"site": "c.com", "until": None}]}) == 3
    assert store.choices().trusted == {"a.com": past, "b.com": int(soon), "c.com": None}


@pytest.mark.parametrize("data", [
    {"everywhere": [{"tracker": "com", "action": "block"}]},
    {"trusted": [{"site": "co.uk", "until": None}]},
    {"site_tracker": [{"site": "news.example", "tracker": "github.io", "action": "block"}]},
])
def test_import_refuses_a_public_suffix(h, store, data):
    with pytest.raises(ValueError, match="is a public suffix"):
        h.import_choices({**data, "everywhere": [{"tracker": "doubleclick.net", "action": "block"},
                                                 *data.get("everywhere", [])]})
    assert not any(store.list_choices().values())


def test_signin_codes_are_single_use_and_hashed(store):
    code = auth.new_signin_code(store)
    assert code not in json.dumps(store.conn.execute("SELECT * FROM signin_codes").fetchall())
    opened = auth.redeem_signin_code(store, code)
    assert opened is not None
    session, csrf = opened
    assert auth.session_csrf(store, session) == csrf
    assert session not in json.dumps(store.conn.execute("SELECT * FROM web_sessions").fetchall())
    assert auth.redeem_signin_code(store, code) is None
    assert auth.session_csrf(store, "forged") is None
    auth.end_session(store, session)
    assert auth.session_csrf(store, session) is None
    expired = auth.new_signin_code(store, ttl_ms=-1)
    assert auth.redeem_signin_code(store, expired) is None


def test_kept_sums_follow_new_events_and_forgetting(make_verdict, h, store):
    """Past days are summed once and kept in memory; live days and deletions must still show."""
    before = h.overview(h.snapshot(period("all", NOW)))
    assert h._part_cache  # the past days are now kept
    store.record([RecordedEvent(make_verdict("blog.example", "stats.g.doubleclick.net", "doubleclick.net", True, True), NOW, True)])
    after = h.overview(h.snapshot(period("all", NOW)))
    assert after["third_party_requests"] == before["third_party_requests"] + 1
    h.forget_site("old.example")  # 20 days ago: inside the kept sums
    assert h.overview(h.snapshot(period("all", NOW)))["sites_visited"] == after["sites_visited"] - 1
    merged = {(r["site"], r["domain"]): r for r in h.search(h.snapshot(period("all", NOW)), q="blog")["rows"]}
    assert merged[("blog.example", "doubleclick.net")]["requests"] == 7  # kept 6 + live 1, one row


def test_map_keeps_the_busiest_200_sites_and_draws_them(make_verdict, small_trackers, tmp_path):
    from companion.web import svg

    store = Store(tmp_path / "m.sqlite3")
    events = [RecordedEvent(make_verdict(f"site{i}.example", f"t{i % 30}.ads.example", f"ads{i % 30}.example", True, i % 2 == 0),
                            NOW - j * 1000, i % 2 == 0) for i in range(260) for j in range(1 + i % 5)]
    store.record(events)
    h = History(store, small_trackers)
    g = h.graph(h.snapshot(period("all", NOW)))
    # The 52 sites with a single request (i % 5 == 0) are left out, and with them the 6 trackers seen only there.
    assert len(g["sites"]) == 200 and len(g["trackers"]) == 24
    drawing = str(svg.graph(g))
    assert drawing.count('class="node site"') == 200 and drawing.count('class="edge"') == len(g["edges"])
    assert all(s["weight"] >= 2 for s in g["sites"])  # the busiest: sites with one request are the ones left out
    store.close()
