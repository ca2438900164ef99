"""The popup's kept groups of a site's detail (storage/sitegroups.py, issue 14): a year of the busiest
site took 0.2 s to group at every popup opening, so the groups of the sites asked lately are kept and
followed by each batch. Whatever happens to the history, the answer must be the one a fresh grouping gives."""

from __future__ import annotations

import random
import sqlite3


from companion.storage import DAY_MS, RecordedEvent, Store

NOW = 20_300 * DAY_MS + 12 * 3_600_000
SITES = ["news.example", "shop.example", "blog.example", None]
HOSTS = [("px.ads.example", "ads.example", True, "||ads.example^"), ("www.google-analytics.com", "google-analytics.com",
         True, "||google-analytics.com^"), ("cdn.static.example", "static.example", False, None),
         ("img.news.example", "news.example", False, None)]
TYPES = ["script", "image", "xmlhttprequest"]


def _batch(make_verdict, rnd: random.Random, n: int, days_back: int = 30) -> list[RecordedEvent]:
    events = []
    for _ in range(n):
        host, domain, tracker, flt = rnd.choice(HOSTS)
        host = rnd.choice([host, "a." + host])  # hosts new to a kept group, as browsing brings
        events.append(RecordedEvent(
            make_verdict(rnd.choice(SITES), host, domain, tracker, tracker and rnd.random() < 0.7, flt,
                         type=rnd.choice(TYPES)),
            NOW - rnd.randrange(days_back * DAY_MS), rnd.random() < 0.5, True))
    return events


def _fresh(store: Store, site: str):
    """The answer of a store that never kept anything: the same file opened anew."""
    other = Store(store.path)
    try:
        return other.site_summary(site)
    finally:
        other.close()


def test_kept_groups_answer_as_a_fresh_grouping_through_recording_forgetting_and_retention(store, make_verdict):
    rnd = random.Random(14)
    store.record(_batch(make_verdict, rnd, 300))
    steps = ["record"] * 12 + ["forget tracker", "forget site", "retention", "forget days", "other connection"]
    rnd.shuffle(steps)
    for step in steps + ["forget everything", "record"]:
        for site in ("news.example", "shop.example"):
            assert store.site_summary(site) == _fresh(store, site), (step, site)
        assert set(store.site_groups.kept) <= {store.find_domain_id("news.example"), store.find_domain_id("shop.example")}
        if step == "record":
            store.record(_batch(make_verdict, rnd, rnd.randrange(1, 60)))
        elif step == "forget tracker":
            store.forget_domain("ads.example")
        elif step == "forget site":
            store.forget_site("blog.example")
        elif step == "retention":
            store.delete_detail_before(NOW - 10 * DAY_MS)
        elif step == "forget days":
            store.forget_days((NOW - 20 * DAY_MS) // DAY_MS, (NOW - 15 * DAY_MS) // DAY_MS)
        elif step == "other connection":  # another process writing to the file: SQLite's data_version says so
            other = sqlite3.connect(store.path, isolation_level=None)
            other.execute("DELETE FROM requests WHERE site_id = (SELECT id FROM domains WHERE name = 'news.example') "
                          "AND time < ?", (NOW - 5 * DAY_MS,))
            other.close()
        elif step == "forget everything":
            store.forget_everything()
    for site in ("news.example", "shop.example", "nowhere.example"):
        assert store.site_summary(site) == _fresh(store, site)


def test_a_site_asked_again_is_answered_without_reading_its_detail(store, make_verdict, monkeypatch):
    from tests.test_storage_pins import _statements_anywhere

    store.record(_batch(make_verdict, random.Random(15), 200))
    first = store.site_summary("news.example")
    store.record(_batch(make_verdict, random.Random(16), 50))  # the person browsed on meanwhile
    again = []
    statements = _statements_anywhere(store, lambda: again.append(store.site_summary("news.example")), monkeypatch)
    assert not any("GROUP BY" in s or "FROM requests" in s for s in statements), statements
    assert again[0] == _fresh(store, "news.example") != first


def test_a_batch_committed_while_a_site_is_grouped_counts_once(store, make_verdict, monkeypatch):
    # The grouping reads a snapshot taken under the store's lock; a batch committed after it is noted for
    # the grouping and added when it is done: counted once, not lost, not twice.
    from companion.storage.sitegroups import SiteGroups

    rnd = random.Random(17)
    store.record(_batch(make_verdict, rnd, 200))
    late = _batch(make_verdict, rnd, 40)
    real_start = SiteGroups.start

    def start_then_record(self, site_id):
        noted = real_start(self, site_id)
        store.record(late)  # the same thread holds the (re-entrant) lock: this commits after the snapshot
        return noted

    monkeypatch.setattr(SiteGroups, "start", start_then_record)
    answer = store.site_summary("news.example")
    monkeypatch.setattr(SiteGroups, "start", real_start)
    assert answer == _fresh(store, "news.example")
    assert store.site_summary("news.example") == answer  # what was kept is right too


def test_only_the_sites_asked_lately_are_kept(store, make_verdict):
    from companion.storage.sitegroups import KEPT_SITES

    now = NOW
    store.record([RecordedEvent(make_verdict(f"site{i}.example", "px.ads.example", "ads.example", True, True,
                                             "||ads.example^"), now - i) for i in range(KEPT_SITES + 5)])
    for i in range(KEPT_SITES + 5):
        assert store.site_summary(f"site{i}.example")[0][0]["requests"] == 1
    kept = store.site_groups.kept
    assert len(kept) == KEPT_SITES
    assert store.find_domain_id("site0.example") not in kept  # the least recently asked went first
    assert store.find_domain_id(f"site{KEPT_SITES + 4}.example") in kept
