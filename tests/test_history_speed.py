"""What the history pages' speed relies on (issue 14, item 4), pinned without timing anything:

- the sums read a range of days of ``daily``'s primary key (EXPLAIN QUERY PLAN), never the whole table;
- a period's parts and snapshot are kept in memory and reused until a recorded batch or a deletion
  touches one of their days; after a batch only today's part is summed again;
- whatever is kept, every page's numbers stay exactly the ones summed from ``daily``: random sequences
  of recording, forgetting, retention and choices imports are checked against a fresh History (nothing
  kept) and against sums written here straight from the table;
- the numbers are the ones the history gave before it kept anything (a golden file made with the code
  of commit 4c9c01f on the data set below);
- the sums are read without the store's lock (recording goes on meanwhile).
"""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

import pytest

from companion.history import PERIODS, History, period
from companion.history.sums import Tally
from companion.storage import DAY_MS, RecordedEvent, Store

NOW = 20_300 * DAY_MS + 12 * 3_600_000  # noon of a fixed UTC day
TODAY = NOW // DAY_MS
GOLDEN = Path(__file__).with_name("history_golden.json")

SITES = ["news.example", "shop.example", "blog.example", "mail.example", "video.example", None]
THIRD = [  # (host, registrable domain, tracker)
    ("stats.g.doubleclick.net", "doubleclick.net", True),
    ("www.google-analytics.com", "google-analytics.com", True),
    ("connect.facebook.net", "facebook.net", True),
    ("px.ads.example", "ads.example", True),
    ("cdn.static.example", "static.example", False),
    ("www.news.example", "news.example", False),  # a site's own other host, on news.example
]


def _events(make_verdict, rnd: random.Random, n: int, days: range) -> list[RecordedEvent]:
    out = []
    for _ in range(n):
        site = rnd.choice(SITES)
        host, domain, tracker = rnd.choice(THIRD)
        blocked = tracker and rnd.random() < 0.6
        day = rnd.choice(days)
        out.append(RecordedEvent(make_verdict(site, host, domain, tracker, tracker and rnd.random() < 0.7,
                                              "||x^" if tracker else None),
                                 day * DAY_MS + rnd.randrange(DAY_MS - 1), blocked, True))
    return out


def _clean(value):
    return json.loads(json.dumps(value, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, set) else repr(o)))


def answers(h: History) -> dict:
    """Every question the pages ask, for every period, as plain JSON."""
    out = {}
    names = [s for s in SITES if s] + [d for _, d, _ in THIRD]
    for key in PERIODS:
        p = period(key, NOW)
        snap = h.snapshot(p)
        out[key] = _clean({
            "overview": h.overview(snap), "reach": h.reach(snap, None), "reach_count": h.reach_count(snap),
            "categories": h.categories(snap), "timeline": snap.timeline, "graph": h.graph(snap),
            "search": h.search(snap, limit=10_000), "search_q": h.search(snap, "google", limit=10_000),
            "blocked": h.search(snap, state="blocked", limit=10_000),
            "sites": {s: h.site(s, p, snap) for s in names}, "trackers": {d: h.tracker(d, p, snap) for d in names},
            "companies": {c: h.company(c, p, snap) for c in ("Google", "Meta")},
        })
    return out


def assert_first_overview_agrees(store: Store, trackers, kept: dict, context=()) -> None:
    """A History that has summed nothing answers the overview page from SQL (overview_page's first way):
    the same figures, companies, order and timeline as the kept sums give, for every period."""
    fresh = History(store, trackers)
    for key in PERIODS:
        p = period(key, NOW)
        before = set(fresh._part_cache)
        page = _clean(fresh._overview_from_sql(p))  # every period, though the page asks SQL for a week at most
        assert page.pop("from_sql") is True and set(fresh._part_cache) == before, "the overview from SQL made no pairs"
        expected = {"figures": kept[key]["overview"], "reach": kept[key]["reach"],
                    "reach_total": kept[key]["reach_count"], "timeline": kept[key]["timeline"]}
        assert page == expected, (*context, key)
    week = period("7d", NOW)
    if not fresh._past_kept(week):
        assert fresh.overview_page(week)["from_sql"] is True
    for key in PERIODS:  # once the period is summed, the page comes from the kept sums: the same again
        fresh.snapshot(period(key, NOW))
        kept_page, first_page = (_clean(x.overview_page(period(key, NOW))) for x in (fresh, History(store, trackers)))
        assert kept_page.pop("from_sql") is False
        first_page.pop("from_sql")
        assert kept_page == first_page


def straight_from_daily(store: Store, key: str) -> dict:
    """The overview's sums and the (site, domain) totals of a period, summed here from the table."""
    p = period(key, NOW)
    lo = p.first_day if p.first_day is not None else -(2**62)
    conn = store.conn
    where = "day BETWEEN ? AND ? AND site_id != domain_id"
    n, t, b, r = conn.execute(f"SELECT sum(requests), sum(trackers), sum(blocked), sum(reached) FROM daily WHERE {where}",
                              (lo, p.last_day)).fetchone()
    visited = conn.execute("SELECT count(DISTINCT site_id) FROM daily WHERE day BETWEEN ? AND ? AND site_id != 0",
                           (lo, p.last_day)).fetchone()[0]
    pairs = {(s or "(unknown page)", d): [rq, rc] for s, d, rq, rc in conn.execute(
        f"""SELECT s.name, d.name, sum(requests), sum(reached) FROM daily
            LEFT JOIN domains s ON s.id = site_id JOIN domains d ON d.id = domain_id
            WHERE {where} GROUP BY site_id, domain_id""", (lo, p.last_day))}
    return {"third_party_requests": n or 0, "tracker_requests": t or 0, "blocked": b or 0, "reached": r or 0,
            "sites_visited": visited, "pairs": pairs}


@pytest.mark.parametrize("name", ["DAILY_PAIRS_SQL", "DAILY_PER_DAY_SQL", "DAILY_VISITED_SQL", "DAILY_DOMAINS_SQL",
                                  "DAILY_TRACKER_DOMAINS_SQL", "DAILY_DAYS_SQL", "DAILY_VISITED_COUNT_SQL",
                                  "DAILY_REACH_SQL"])
def test_the_sums_read_a_range_of_days_of_the_primary_key(store, name):
    from companion.storage import history as sql_of

    sql = getattr(sql_of, name)
    with store.reader() as reader:  # the first overview's grouping joins a temporary table of companies
        reader.execute("CREATE TEMP TABLE keys (domain_id INTEGER PRIMARY KEY, key INTEGER NOT NULL)")
        plan = " | ".join(row[-1] for row in reader.execute("EXPLAIN QUERY PLAN " + sql, (TODAY - 6, TODAY)))
    assert "SEARCH daily USING PRIMARY KEY (day>? AND day<?)" in plan or "SEARCH d USING PRIMARY KEY (day>? AND day<?)" in plan, plan
    assert "SCAN daily" not in plan and "SCAN d " not in plan + " ", plan
    if name in ("DAILY_DOMAINS_SQL", "DAILY_TRACKER_DOMAINS_SQL"):  # a b-tree of the domains, not a sort of every row
        assert "GROUP BY" not in plan, plan


def test_a_history_shorter_than_a_period_shares_its_sums_with_all(make_verdict, small_trackers, store):
    # 20 days recorded: "30 days" and "all" cover the same days, and are summed and kept once (memory).
    store.record(_events(make_verdict, random.Random(5), 200, range(TODAY - 19, TODAY + 1)))
    h = History(store, small_trackers)
    month, everything = h.snapshot(period("30d", NOW)), h.snapshot(period("all", NOW))
    assert len(month.parts) == len(everything.parts) == 2  # the days before today, today
    assert all(a is b for a, b in zip(month.parts, everything.parts))
    h.reach(month), h.reach(everything)
    # Each part's reach summary is made once (sets of sites, no per-site figures), nothing per site per period.
    assert all(part._summary is not None for part in everything.parts)
    assert not any(isinstance(x, Tally) for part in everything.parts for x in part._summary.values())
    assert all(isinstance(c, tuple) for snap in (month, everything) for c in snap.memo["reach_counts"].values())
    assert h.snapshot(period("7d", NOW)).parts[1] is everything.parts[1]  # today's part: one for every period
    assert answers(h) == answers(History(store, small_trackers))


def test_parts_are_kept_for_the_periods_of_the_day(make_verdict, small_trackers, store):
    store.record(_events(make_verdict, random.Random(6), 300, range(TODAY - 60, TODAY + 1)))
    h = History(store, small_trackers)
    spans = {key: h._spans(period(key, NOW)) for key in PERIODS}
    assert spans == {"today": [(TODAY, TODAY)], "7d": [(TODAY - 6, TODAY - 1), (TODAY, TODAY)],
                     "30d": [(TODAY - 29, TODAY - 1), (TODAY, TODAY)],
                     "all": [(store.oldest_day(), TODAY - 1), (TODAY, TODAY)]}
    snaps = {key: h.snapshot(period(key, NOW)) for key in PERIODS}
    assert snaps["today"].parts[0] is snaps["7d"].parts[1] is snaps["all"].parts[1]
    assert set(h._part_cache) == {span for key in PERIODS for span in spans[key]}  # each span summed once
    assert answers(h) == answers(History(store, small_trackers))


def test_parts_are_kept_until_a_batch_touches_their_days(make_verdict, small_trackers, store):
    rnd = random.Random(3)
    store.record(_events(make_verdict, rnd, 300, range(TODAY - 20, TODAY + 1)))
    h = History(store, small_trackers)
    p = period("30d", NOW)
    first = h.snapshot(p)
    past, today = first.parts
    assert h.snapshot(p) is first  # nothing recorded: the same snapshot, and what the pages derived from it
    summed = []
    real_sums = store.daily_sums
    store.daily_sums = lambda lo, hi: summed.append((lo, hi)) or real_sums(lo, hi)  # counts, then sums for real
    batch = _events(make_verdict, rnd, 5, range(TODAY, TODAY + 1))
    store.record(batch)
    second = h.snapshot(p)
    assert second is not first and second.parts[0] is past and second.parts[1] is not today
    assert summed == []  # today's part had the batch applied: the rows it wrote were read, nothing summed
    third_party = sum(1 for e in batch if e.verdict.page_domain != e.verdict.domain)  # a site's own hosts are not
    assert second.third_party_requests == first.third_party_requests + third_party
    store.record(_events(make_verdict, rnd, 5, range(TODAY - 1, TODAY)))  # a batch sent across midnight
    third = h.snapshot(p)
    # yesterday changed: summed again (from the oldest day recorded, the period reaching back before it)
    assert third.parts[0] is not past and summed == [(max(TODAY - 29, store.oldest_day()), TODAY - 1)]
    assert answers(h) == answers(History(store, small_trackers))
    store.record(_events(make_verdict, rnd, 5, range(TODAY, TODAY + 1)) * store.DAILY_LOG_BATCHES)
    h.snapshot(p)  # (one batch, whose rows are known)
    for _ in range(store.DAILY_LOG_BATCHES + 1):  # more batches than the store remembers: today is summed again
        store.record(_events(make_verdict, rnd, 1, range(TODAY, TODAY + 1)))
    h.snapshot(p)
    assert summed[-1] == (TODAY, TODAY)
    assert answers(h) == answers(History(store, small_trackers))


def test_random_recording_and_forgetting_keep_every_number_exact(make_verdict, small_trackers, store):
    rnd = random.Random(14)
    h = History(store, small_trackers)
    store.record(_events(make_verdict, rnd, 400, range(TODAY - 40, TODAY + 1)))
    answers(h)  # everything kept in memory from here on
    for step in range(14):
        action = rnd.choice(["record", "record_today", "forget_site", "forget_tracker", "forget_days", "retention",
                             "import"])
        if action == "record":
            store.record(_events(make_verdict, rnd, rnd.randint(1, 60), range(TODAY - 40, TODAY + 1)))
        elif action == "record_today":
            store.record(_events(make_verdict, rnd, rnd.randint(1, 20), range(TODAY, TODAY + 1)))
        elif action == "forget_site":
            h.forget_site(rnd.choice([s for s in SITES if s]))
        elif action == "forget_tracker":
            h.forget_tracker(rnd.choice(THIRD)[1])
        elif action == "forget_days":
            first = TODAY - rnd.randint(0, 40)
            h.forget_days(first, first + rnd.randint(0, 5))
        elif action == "retention":
            h.set_retention_days(7)
            h.apply_retention(now=NOW)
        else:
            h.import_choices({"everywhere": [{"tracker": "ads.example", "action": "block"}]})
        kept = answers(h)
        assert kept == answers(History(store, small_trackers)), (step, action)
        assert_first_overview_agrees(store, small_trackers, kept, (step, action))
        for key in PERIODS:
            truth = straight_from_daily(store, key)
            figures = kept[key]["overview"]
            for name in ("third_party_requests", "tracker_requests", "blocked", "reached", "sites_visited"):
                assert figures[name] == truth[name], (step, action, key, name)
            rows = {(r["site"], r["domain"]): [r["requests"], r["reached"]] for r in kept[key]["search"]["rows"]}
            assert rows == truth["pairs"], (step, action, key)


def golden_data(make_verdict, store: Store) -> None:
    rnd = random.Random(2026)
    store.record(_events(make_verdict, rnd, 2_000, range(TODAY - 45, TODAY + 1)))


def test_every_number_is_the_one_the_history_gave_before_it_kept_anything(make_verdict, small_trackers, store):
    golden_data(make_verdict, store)
    h = History(store, small_trackers)
    got = {"cold": answers(h), "kept": answers(h)}
    assert got["cold"] == got["kept"]
    if os.environ.get("CRUMBS_WRITE_GOLDEN"):  # how the file was made, with the code before (see the top)
        GOLDEN.write_text(json.dumps(got["cold"], sort_keys=True, indent=0), encoding="utf-8")
    assert got["cold"] == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert_first_overview_agrees(store, small_trackers, got["cold"])


def test_the_sums_are_read_while_the_store_is_locked(make_verdict, store):
    store.record(_events(make_verdict, random.Random(5), 50, range(TODAY - 3, TODAY + 1)))
    summed = []
    with store.lock:  # as a recording batch holds it
        thread = threading.Thread(target=lambda: summed.append(store.daily_sums(TODAY - 3, TODAY)))
        thread.start()
        thread.join(timeout=5)
        assert summed  # answered while another thread held the store's lock
    assert summed[0] == store.daily_sums(TODAY - 3, TODAY) and summed[0][0]


def test_trackerdb_finds_entries_below_a_domain_as_a_scan_would():
    from companion.sites import registrable_domain
    from companion.trackerdb import TrackerDB

    db = TrackerDB.load()
    keys = list(db._trackers)
    for name in {registrable_domain(k) for k in keys} | set(keys):
        scanned = [i for key, i in db._trackers.items() if key.endswith("." + name)]
        assert db._entries_below().get(name, []) == scanned, name


def test_names_recorded_between_reading_names_and_sums_are_found(make_verdict, small_trackers, store):
    store.record(_events(make_verdict, random.Random(8), 20, range(TODAY, TODAY + 1)))
    h = History(store, small_trackers)
    stale = dict(h._names_cached())  # the names as a page read them, just before a batch came in
    store.record([RecordedEvent(make_verdict("new-site.example", "px.new-tracker.example", "new-tracker.example"),
                                NOW, True, True)])
    part = h._part(TODAY, TODAY, stale)
    assert ("new-site.example", "new-tracker.example") in {(x.site, x.domain) for x in part.pairs}


def test_a_write_by_another_connection_is_seen(make_verdict, small_trackers, store):
    """Another process writing to the file (SQLite's data_version): this one cannot know which days, so all are summed again."""
    import sqlite3

    store.record(_events(make_verdict, random.Random(9), 50, range(TODAY - 5, TODAY + 1)))
    h = History(store, small_trackers)
    before = h.overview(h.snapshot(period("7d", NOW)))["third_party_requests"]
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        site, domain = (store.find_domain_id(n) for n in ("news.example", "doubleclick.net"))
        other.execute("INSERT INTO daily (day, site_id, domain_id, requests, trackers, blocked, reached) VALUES (?,?,?,?,?,?,?) "
                      "ON CONFLICT (day, site_id, domain_id) DO UPDATE SET requests = requests + 7, trackers = trackers + 7, "
                      "reached = reached + 7", (TODAY - 3, site, domain, 7, 7, 0, 7))
    finally:
        other.close()
    assert h.overview(h.snapshot(period("7d", NOW)))["third_party_requests"] == before + 7
    assert answers(h) == answers(History(store, small_trackers))


def test_a_page_whose_sums_are_kept_is_not_held_while_another_span_is_summed(make_verdict, small_trackers, store):
    # The background warm-up sums "all" for seconds at ten million requests: a 7-day page must not wait for it.
    store.record(_events(make_verdict, random.Random(12), 300, range(TODAY - 60, TODAY + 1)))
    h = History(store, small_trackers)
    week = h.snapshot(period("7d", NOW))  # kept now
    everything = period("all", NOW)
    long_span = h._spans(everything)[0]
    entered, release = threading.Event(), threading.Event()
    summed = []
    real_sum = h._sum_days

    def slow_sum(lo, hi):
        summed.append((lo, hi))
        if (lo, hi) == long_span:
            entered.set()
            assert release.wait(10)
        return real_sum(lo, hi)

    h._sum_days = slow_sum
    answers_of_all = []
    worker = threading.Thread(target=lambda: answers_of_all.append(h.snapshot(everything)))
    worker.start()
    try:
        assert entered.wait(10)
        # While "all" is being summed: the kept week answers at once, and a second asker of "all" waits for
        # the first one's sums instead of summing the same days again.
        assert h.snapshot(period("7d", NOW)) is week
        second = []
        waiter = threading.Thread(target=lambda: second.append(h.snapshot(everything)))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and not second  # waiting, not summing
    finally:
        release.set()
        worker.join(10)
    waiter.join(10)
    assert summed.count(long_span) == 1
    assert second[0].parts[0] is answers_of_all[0].parts[0]
    assert answers(h) == answers(History(store, small_trackers))


def test_a_part_summed_across_an_invalidation_is_not_kept(make_verdict, small_trackers, store):
    # Forgetting (or new knowledge) invalidates the sums while a thread may be summing: what it made is
    # returned to its caller but not kept for the next pages.
    store.record(_events(make_verdict, random.Random(13), 100, range(TODAY - 10, TODAY + 1)))
    h = History(store, small_trackers)
    real_sum = h._sum_days

    def sum_then_invalidate(lo, hi):
        got = real_sum(lo, hi)
        h.invalidate()
        return got

    h._sum_days = sum_then_invalidate
    h.snapshot(period("7d", NOW))
    assert not h._part_cache
    h._sum_days = real_sum
    h.snapshot(period("7d", NOW))
    assert len(h._part_cache) == 2
