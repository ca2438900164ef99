"""The SQLite store: schema, recording, interning, choices, durability across restarts."""

import sqlite3

import pytest

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


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "crumbs.sqlite3")
    yield s
    s.close()


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
    third = s.site_third_parties("news.example")
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
        """SELECT r.time / 86400000 AS day, count(*), sum((flags & ?) != 0), sum((flags & ?) != 0)
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
