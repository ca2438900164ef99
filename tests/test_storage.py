"""The SQLite store: schema, recording, interning, choices, durability across restarts."""

import sqlite3

import pytest

from companion.sites import PublicSuffix
from companion.storage import BLOCKED, SCHEMA_VERSION, TRACKER, RecordedEvent, Store

T0 = 1_780_000_000_000


@pytest.fixture
def verdict(make_verdict):
    """A third-party request with its list filter: the storage tests' shape of the shared verdict factory."""
    def make(host="www.google-analytics.com", domain="google-analytics.com", page="news.example", tracker=True,
             filter_="||google-analytics.com^", list_="crumbs-trackers", decided_by="list-default", type_="script"):
        return make_verdict(page, host, domain, tracker, filter=filter_, list=list_, third_party=True, type=type_,
                            decided_by=decided_by)
    return make


def test_fresh_database_is_migrated_private_and_in_wal_mode(tmp_path, store):
    assert store.schema_version == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (store.path.stat().st_mode & 0o777) == 0o600


def test_database_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer Crumbs"):
        Store(path)


def test_migration_from_schema_1_keeps_data(verdict, tmp_path):
    path = tmp_path / "db.sqlite3"
    s = Store(path)
    s.record([RecordedEvent(verdict(), T0)])
    s.conn.execute("DROP TABLE lists")
    s.conn.execute("DROP TABLE web_sessions")
    s.conn.execute("DROP TABLE signin_codes")
    s.conn.execute("DROP TABLE breakage_trackers")  # migration 3's tables: a schema-1 file has none
    s.conn.execute("DROP TABLE breakage_reports")
    s.conn.execute("PRAGMA user_version = 1")
    s.close()
    s = Store(path)
    assert s.schema_version == SCHEMA_VERSION
    assert s.count_requests() == 1
    assert s.conn.execute("SELECT count(*) FROM lists").fetchone()[0] == 0
    assert s.conn.execute("SELECT count(*) FROM breakage_reports").fetchone()[0] == 0
    s.close()


def test_records_are_interned_and_survive_a_restart(verdict, tmp_path):
    path = tmp_path / "db.sqlite3"
    s = Store(path)
    s.record([RecordedEvent(verdict(), T0 + i, True) for i in range(50)])
    s.record([RecordedEvent(verdict(host="stats.g.doubleclick.net", domain="doubleclick.net",
                                    filter_="||doubleclick.net^"), T0, True)])
    s.close()
    s = Store(path)
    assert s.count_requests() == 51
    assert s.conn.execute("SELECT count(*) FROM hosts").fetchone()[0] == 2
    assert s.conn.execute("SELECT count(*) FROM filters").fetchone()[0] == 2
    # Narrow rows: ids and integers only.
    row = s.conn.execute("SELECT * FROM requests LIMIT 1").fetchone()
    assert all(isinstance(v, int) for v in row)
    third, _scripts, _through = s.site_summary("news.example")
    assert [(t["domain"], t["requests"], t["blocked"]) for t in third] == [
        ("google-analytics.com", 50, 50), ("doubleclick.net", 1, 1)]
    assert third[0]["first_seen"] == T0 and third[0]["last_seen"] == T0 + 49
    s.close()


def test_daily_totals_agree_with_the_detail(verdict, store):
    events = [RecordedEvent(verdict(), T0 + i * 3_600_000) for i in range(60)]  # 60 hours: 3 days
    events += [RecordedEvent(verdict(host="cdn.example", domain="cdn.example", tracker=False, filter_=None,
                                      list_=None, decided_by="not-a-tracker"), T0)]
    store.record(events)
    detail = store.conn.execute(
        """SELECT r.time / 86400000 AS day, count(*), sum((kind & ?) != 0), sum((kind & ?) != 0)
           FROM requests r GROUP BY day ORDER BY day""", (TRACKER, BLOCKED)).fetchall()
    daily = store.conn.execute(
        "SELECT day, sum(requests), sum(trackers), sum(blocked) FROM daily GROUP BY day ORDER BY day").fetchall()
    assert detail == daily


def test_a_failed_batch_leaves_nothing_behind(verdict, store):
    bad = verdict(type_="not-a-type")  # TYPE_CODES lookup fails midway through the batch
    with pytest.raises(KeyError):
        store.record([RecordedEvent(verdict(), T0), RecordedEvent(bad, T0)])
    assert store.count_requests() == 0
    store.record([RecordedEvent(verdict(), T0)])  # caches were reset: ids are valid again
    assert store.count_requests() == 1


def test_hostile_names_are_stored_literally(verdict, store):
    evil = "x'); DROP TABLE requests;--"
    store.record([RecordedEvent(verdict(host=evil, domain=evil, page=evil), T0)])
    assert store.conn.execute("SELECT name FROM hosts").fetchone()[0] == evil
    assert store.count_requests() == 1


def test_choices_bump_the_revision_and_round_trip(store):
    rev = store.choices_rev()
    store.set_site_tracker("news.example", "doubleclick.net", "block")
    store.set_tracker("google-analytics.com", "allow")
    until = store.set_trust("blog.example", "hour")
    assert store.choices_rev() == rev + 3
    c = store.choices()
    assert c.site_tracker == {("news.example", "doubleclick.net"): "block"}
    assert c.everywhere == {"google-analytics.com": "allow"}
    assert c.trusted == {"blog.example": until}
    store.set_site_tracker("news.example", "doubleclick.net", None)
    store.set_trust("blog.example", None)
    assert store.choices().site_tracker == {} and store.choices().trusted == {}
    with pytest.raises(ValueError):
        store.set_tracker("x.com", "maybe")
    with pytest.raises(ValueError):
        store.set_trust("x.com", "forever")


def test_a_public_suffix_is_refused_as_any_choice_but_can_be_taken_back(store):
    # A choice for "com" became browser rules blocking every third-party .com host or trusting every .com site.
    rev = store.choices_rev()
    for make in (lambda: store.set_tracker("com", "block"), lambda: store.set_trust("co.uk", "always"),
                 lambda: store.set_site_tracker("news.example", "github.io", "block"),
                 lambda: store.set_site_tracker("com", "doubleclick.net", "allow"),
                 lambda: store.import_choices([], [("com", "block")], [])):
        with pytest.raises(PublicSuffix, match="'com'|'co.uk'|'github.io'"):
            make()
    assert store.choices_rev() == rev and not any(store.list_choices().values())
    store.conn.execute("INSERT INTO trusted_sites (site, until, created) VALUES ('com', NULL, 1)")  # stored before
    store.set_trust("com", None)
    assert store.choices().trusted == {}


def test_a_second_connection_sees_choices_at_once(tmp_path):
    # The CLI and the server are two processes on one file.
    server, cli = Store(tmp_path / "db"), Store(tmp_path / "db")
    before = server.choices_rev()
    cli.set_tracker("doubleclick.net", "allow")
    assert server.choices_rev() == before + 1
    assert server.choices().everywhere == {"doubleclick.net": "allow"}
    server.close()
    cli.close()


def test_pairing_codes_are_single_use_and_wrong_tries_harm_no_live_code(store):
    store.add_pairing_code("good", T0 * 2)
    assert store.take_pairing_code("good")
    assert not store.take_pairing_code("good")
    store.add_pairing_code("good2", T0 * 2)
    for _ in range(1000):  # any local process may guess; the server's throttle bounds how fast
        assert not store.take_pairing_code("wrong")
    assert store.take_pairing_code("good2")
    store.add_pairing_code("old", 1)  # expired
    assert not store.take_pairing_code("old")


def _schema_7_file(path) -> None:
    """A database as schema 7 left it: the detail a rowid table with its (site_id, time) index."""
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.executescript("""
        DROP TABLE requests;
        CREATE TABLE requests (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, site_id INTEGER REFERENCES domains(id),
            host_id INTEGER NOT NULL REFERENCES hosts(id), type INTEGER NOT NULL, flags INTEGER NOT NULL,
            decided_by INTEGER NOT NULL, filter_id INTEGER REFERENCES filters(id));
        CREATE INDEX requests_site_time ON requests(site_id, time);
        DELETE FROM settings WHERE key = 'requests_next_id';
        INSERT INTO domains (id, name) VALUES (1, 'news.example'), (2, 'doubleclick.net'), (3, 'blog.example');
        INSERT INTO hosts (id, name, domain_id) VALUES (1, 'ad.doubleclick.net', 2);
        INSERT INTO filters (id, list, text) VALUES (1, 'easylist', '||doubleclick.net^');
        -- ids with a gap (rows forgotten), a request with no known page, every flag bit, the last type and decider
        INSERT INTO requests (id, time, site_id, host_id, type, flags, decided_by, filter_id) VALUES
            (1, 5000, 3, 1, 3, 255, 5, 1), (7, 1000, 1, 1, 12, 7, 3, 1), (8, 2000, NULL, 1, 0, 1, 0, NULL),
            (9, 1500, 1, 1, 4, 3, 4, NULL);
        PRAGMA user_version = 7;
    """)
    conn.commit()
    conn.close()


def test_migration_8_packs_the_detail_into_one_clustered_tree_in_place(tmp_path, verdict):
    from companion.storage.schema import DECIDED_SHIFT, TYPE_SHIFT

    path = tmp_path / "old.sqlite3"
    _schema_7_file(path)
    s = Store(path)
    try:
        assert s.schema_version == SCHEMA_VERSION >= 8
        rows = s.conn.execute("SELECT site_id, time, id, host_id, kind, filter_id FROM requests").fetchall()
        # in key order (site, time, id); no site is 0; each row's flags, type and decider packed in kind
        assert rows == [
            (0, 2000, 8, 1, 1 | 0 << TYPE_SHIFT | 0 << DECIDED_SHIFT, None),
            (1, 1000, 7, 1, 7 | 12 << TYPE_SHIFT | 3 << DECIDED_SHIFT, 1),
            (1, 1500, 9, 1, 3 | 4 << TYPE_SHIFT | 4 << DECIDED_SHIFT, None),
            (3, 5000, 1, 1, 255 | 3 << TYPE_SHIFT | 5 << DECIDED_SHIFT, 1),
        ]
        names = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'requests'")}
        assert names == {"requests"}  # the old index went with the old table (WITHOUT ROWID: the key is the table)
        exported = {r["id"]: r for r in s.iter_requests()}
        assert exported[7]["type"] == "other" and exported[7]["decided_by"] == "list-default"
        assert exported[7]["flags"] == 7 and exported[7]["filter"] == "||doubleclick.net^"
        assert exported[8]["site"] is None and exported[8]["type"] == "main_frame"
        assert exported[1]["outcome_reported"] and exported[1]["decided_by"] == "not-a-tracker"
        third, others, _through = s.site_summary("news.example", "other")
        assert third[0]["requests"] == 2
        assert others == {"ad.doubleclick.net"}
        # recording goes on above the highest id kept
        s.record([RecordedEvent(verdict(), T0), RecordedEvent(verdict(page=None), T0)])
        new = s.conn.execute("SELECT id, site_id FROM requests WHERE time = ? ORDER BY id", (T0,)).fetchall()
        assert [i for i, _ in new] == [10, 11] and new[1][1] == 0
    finally:
        s.close()


def test_request_ids_follow_recording_order_across_restarts(tmp_path, verdict):
    path = tmp_path / "db.sqlite3"
    s = Store(path)
    s.record([RecordedEvent(verdict(), T0 + 5 - i) for i in range(3)])  # times need not follow ids
    s.close()
    s = Store(path)
    s.record([RecordedEvent(verdict(page="blog.example"), T0)])
    assert [r[0] for r in s.conn.execute("SELECT id FROM requests ORDER BY id")] == [1, 2, 3, 4]
    assert s.conn.execute("SELECT id FROM requests WHERE site_id = (SELECT id FROM domains WHERE name = 'blog.example')"
                          ).fetchone()[0] == 4
    s.close()


def test_a_batch_across_local_midnight_counts_each_request_on_its_own_day(verdict, store):
    from companion.storage import day_of, day_start

    day = day_of(T0)
    midnight = day_start(day + 1)
    times = [midnight - 2, midnight - 1, midnight, midnight + 1, midnight - 3, day_start(day + 3) + 5]
    store.record([RecordedEvent(verdict(), t) for t in times])
    got = dict(store.conn.execute("SELECT day, sum(requests) FROM daily GROUP BY day").fetchall())
    assert got == {day: 3, day + 1: 2, day + 3: 1}
    assert got == {d: sum(1 for t in times if day_of(t) == d) for d in got}


def test_migration_10_adds_the_delivered_marks_to_a_schema_9_database(tmp_path, verdict):
    path = tmp_path / "v9.sqlite3"
    s = Store(path)
    s.record([RecordedEvent(verdict(), T0 + i) for i in range(3)])
    s.close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE IF EXISTS delivered; PRAGMA user_version = 9;")  # as schema 9 left it
    conn.close()
    s = Store(path)
    try:
        assert s.schema_version == SCHEMA_VERSION >= 10
        assert s.count_requests() == 3
        assert s.conn.execute("SELECT count(*) FROM delivered").fetchone()[0] == 0
        numbered = [RecordedEvent(verdict(), T0 + 10 + i, stream="w1", seq=i) for i in range(1, 4)]
        assert s.record(numbered) == set()
        assert s.record(numbered) == {0, 1, 2}  # sent again: already recorded
        assert s.count_requests() == 6
    finally:
        s.close()
