"""Ids are never reused (issue 15, item 4): a name forgotten and a new name met later never share an id,
in a new database and in one upgraded from schema 6 (migration 7 rebuilds the name tables in place); nor
do a "Page broken?" report forgotten and the next one (migration 9 rebuilds breakage_reports)."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from companion.storage import RecordedEvent, Store
from companion.storage.schema import MIGRATIONS

NOW = 1_750_000_000_000


def _record(store: Store, make_verdict, site: str, host: str, domain: str, at: int = NOW) -> None:
    store.record([RecordedEvent(make_verdict(site, host, domain, True, True, f"||{domain}^"), at)])


def _ids(store: Store, table: str) -> dict[str, int]:
    column = "text" if table == "filters" else "name"
    return {name: i for name, i in store.conn.execute(f"SELECT {column}, id FROM {table}")}


def test_forgetting_everything_never_hands_an_old_id_to_a_new_name(tmp_path, make_verdict):
    store = Store(tmp_path / "ids.sqlite3")
    try:
        _record(store, make_verdict, "news.example", "px.tracker-one.example", "tracker-one.example")
        before = {t: _ids(store, t) for t in ("domains", "hosts", "filters")}
        store.forget_everything()
        _record(store, make_verdict, "shop.example", "cdn.other.example", "other.example")
        after = {t: _ids(store, t) for t in ("domains", "hosts", "filters")}
        for table in before:
            assert min(after[table].values()) > max(before[table].values()), table
    finally:
        store.close()


def test_forgetting_the_newest_site_does_not_free_its_ids(tmp_path, make_verdict):
    store = Store(tmp_path / "ids.sqlite3")
    try:
        _record(store, make_verdict, "a.example", "x.first.example", "first.example")
        _record(store, make_verdict, "b.example", "y.last.example", "last.example")
        gone = _ids(store, "hosts")["y.last.example"]
        store.forget_site("b.example")
        assert "y.last.example" not in _ids(store, "hosts")
        _record(store, make_verdict, "c.example", "z.later.example", "later.example")
        assert _ids(store, "hosts")["z.later.example"] > gone
    finally:
        store.close()


def _schema_6_database(path, rows: list[tuple[str, str, str]]) -> None:
    """A database as release 6 left it: the name tables without AUTOINCREMENT, some requests recorded."""
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    for migration in MIGRATIONS[:6]:
        migration(db)
    db.conn.execute("PRAGMA user_version = 6")
    for n, (site, host, domain) in enumerate(rows, start=1):
        db.conn.execute("INSERT OR IGNORE INTO domains (name) VALUES (?)", (site,))
        db.conn.execute("INSERT OR IGNORE INTO domains (name) VALUES (?)", (domain,))
        db.conn.execute("INSERT INTO hosts (name, domain_id) SELECT ?, id FROM domains WHERE name = ?", (host, domain))
        db.conn.execute("INSERT INTO filters (list, text) VALUES ('shipped', ?)", (f"||{domain}^",))
        db.conn.execute(
            """INSERT INTO requests (time, site_id, host_id, type, flags, decided_by, filter_id)
               SELECT ?, (SELECT id FROM domains WHERE name = ?), (SELECT id FROM hosts WHERE name = ?), 0, 3, 0,
                      (SELECT id FROM filters WHERE text = ?)""",
            (NOW + n, site, host, f"||{domain}^"),
        )
    db.conn.close()


def test_migration_7_keeps_every_id_and_reference_and_stops_reuse(tmp_path, make_verdict):
    path = tmp_path / "old.sqlite3"
    _schema_6_database(path, [("a.example", "x.one.example", "one.example"),
                              ("b.example", "y.two.example", "two.example")])
    raw = sqlite3.connect(path)
    before = raw.execute(
        """SELECT r.id, s.name, h.name, d.name, f.text FROM requests r JOIN domains s ON s.id = r.site_id
           JOIN hosts h ON h.id = r.host_id JOIN domains d ON d.id = h.domain_id JOIN filters f ON f.id = r.filter_id
           ORDER BY r.id"""
    ).fetchall()
    old_host_ids = dict(raw.execute("SELECT name, id FROM hosts"))
    raw.close()

    store = Store(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        for table in ("domains", "hosts", "filters"):
            sql = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
            assert "AUTOINCREMENT" in sql, table
        assert store.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'hosts_domain' AND type = 'index'").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        after = store.conn.execute(
            """SELECT r.id, s.name, h.name, d.name, f.text FROM requests r JOIN domains s ON s.id = r.site_id
               JOIN hosts h ON h.id = r.host_id JOIN domains d ON d.id = h.domain_id JOIN filters f ON f.id = r.filter_id
               ORDER BY r.id"""
        ).fetchall()
        assert after == before
        assert _ids(store, "hosts") == old_host_ids

        store.forget_site("b.example")
        _record(store, make_verdict, "c.example", "z.three.example", "three.example")
        assert _ids(store, "hosts")["z.three.example"] > max(old_host_ids.values())
    finally:
        store.close()


def test_forgetting_the_newest_breakage_report_does_not_free_its_id(tmp_path):
    store = Store(tmp_path / "ids.sqlite3")
    try:
        store.add_breakage_report(NOW, "a.example", ["tracker-one.example"])
        gone = store.add_breakage_report(NOW + 1, "b.example", ["tracker-two.example"])
        assert store.forget_breakage_report(gone) == 1
        assert store.add_breakage_report(NOW + 2, "c.example", []) > gone
        store.forget_breakage_report()  # all of them
        assert store.add_breakage_report(NOW + 3, "d.example", []) > gone + 1
    finally:
        store.close()


def _schema_8_database(path) -> None:
    """A database as release 8 left it: breakage_reports without AUTOINCREMENT, three reports (the newest
    with no tracker) and a tracker row whose report is gone, as a salvage can leave one."""
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    for migration in MIGRATIONS[:8]:
        migration(db)
    db.conn.execute("PRAGMA user_version = 8")
    db.conn.executescript("""
        INSERT INTO breakage_reports (id, time, site) VALUES
            (2, 1750000000001, 'news.example'), (5, 1750000000002, 'shop.example'), (9, 1750000000003, 'news.example');
        INSERT INTO breakage_trackers (report_id, tracker) VALUES
            (2, 'doubleclick.net'), (2, 'tracker.example'), (5, 'doubleclick.net'), (4, 'orphan.example');
    """)
    db.conn.close()


def test_migration_9_keeps_every_report_and_its_trackers_and_stops_reuse(tmp_path):
    path = tmp_path / "old.sqlite3"
    _schema_8_database(path)
    store = Store(path)
    try:
        assert store.schema_version == len(MIGRATIONS) >= 9
        sql = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'breakage_reports'").fetchone()[0]
        assert "AUTOINCREMENT" in sql
        indexes = {r[0] for r in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'breakage_reports'")}
        assert indexes == {"breakage_reports_site", "breakage_reports_time"}
        assert store.conn.execute("SELECT id, time, site FROM breakage_reports ORDER BY id").fetchall() == [
            (2, 1750000000001, "news.example"), (5, 1750000000002, "shop.example"), (9, 1750000000003, "news.example")]
        # Every report's trackers kept; the one whose report was gone is not.
        assert store.conn.execute("SELECT report_id, tracker FROM breakage_trackers ORDER BY 1, 2").fetchall() == [
            (2, "doubleclick.net"), (2, "tracker.example"), (5, "doubleclick.net")]
        assert store.breakage_counts("doubleclick.net") == (2, 2)
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # The trackers still follow their report out (ON DELETE CASCADE refers to the rebuilt table).
        with store.transaction():
            store.conn.execute("DELETE FROM breakage_reports WHERE id = 2")
        assert store.conn.execute("SELECT report_id FROM breakage_trackers").fetchall() == [(5,)]

        assert store.forget_breakage_report(9) == 1
        assert store.add_breakage_report(NOW, "later.example", ["tracker.example"]) > 9
    finally:
        store.close()


def test_migration_9_run_again_keeps_the_highest_report_id_ever_used(tmp_path):
    # A file whose version was set back by hand: rebuilding an AUTOINCREMENT table carries its sequence.
    path = tmp_path / "ids.sqlite3"
    store = Store(path)
    store.add_breakage_report(NOW, "a.example", [])
    gone = store.add_breakage_report(NOW + 1, "b.example", [])
    store.forget_breakage_report(gone)
    store.conn.execute("PRAGMA user_version = 8")
    store.close()
    store = Store(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert store.add_breakage_report(NOW + 2, "c.example", []) > gone
    finally:
        store.close()
