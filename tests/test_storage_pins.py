"""What the storage's speed relies on (issue 14), pinned without timing anything: the indexes the
history and retention queries use (EXPLAIN QUERY PLAN of the statements the real methods run),
the WAL checkpointing that keeps the journal small, and retention's small transactions."""

from __future__ import annotations

import sqlite3
import time

import pytest

from companion.history import History, period
from companion.storage import DAY_MS, RecordedEvent, Store, day_of
from companion.storage.base import BACKSTOP_CHECKPOINT_PAGES, WAL_SIZE_LIMIT
from companion.storage.checkpoint import Checkpointer

NOW = 1_750_000_000_000
TODAY = NOW // DAY_MS


@pytest.fixture
def store(tmp_path, make_verdict):
    s = Store(tmp_path / "pins.sqlite3")
    events = []
    for day in reversed(range(10)):  # recorded in time order, as the companion records
        for i in range(30):
            host = f"h{i % 7}.tracker{i % 3}.example"
            events.append(RecordedEvent(
                make_verdict(f"site{i % 5}.example", host, f"tracker{i % 3}.example", True, True, "||x^"),
                NOW - day * DAY_MS - i * 1000))
    s.record(events)
    s.conn.execute("ANALYZE")
    yield s
    s.close()


def _statements(store: Store, call) -> list[str]:
    """The SQL ``call()`` runs on the store's connection, parameters bound (sqlite3's trace)."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        store.conn.set_trace_callback(None)
    return seen


def _statements_anywhere(store: Store, call, monkeypatch) -> list[str]:
    """The SQL ``call()`` runs on the store's connection and on the read-only ones it opens (Store.reader)."""
    from companion.storage import base

    on_readers: list[str] = []
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(on_readers.append)
        return conn

    monkeypatch.setattr(base.sqlite3, "connect", connect)
    return _statements(store, call) + on_readers


def _plan(store: Store, sql: str) -> str:
    return "\n".join(row[-1] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def _plans_touching(store: Store, statements: list[str], table: str) -> list[str]:
    return [_plan(store, s) for s in statements
            if s.lstrip().upper().startswith(("SELECT", "DELETE")) and f" {table}" in s]


def test_a_site_page_reads_the_detail_through_the_site_and_time_key(store, small_trackers, monkeypatch):
    h = History(store, small_trackers)
    statements = _statements_anywhere(store, lambda: h.site("site1.example", period("7d", NOW)), monkeypatch)
    plans = _plans_touching(store, statements, "requests")
    assert plans, statements
    for plan in plans:
        assert "SEARCH r USING PRIMARY KEY (site_id=? AND time>? AND time<?)" in plan and "SCAN r" not in plan, plan


def test_period_sums_read_a_range_of_days_not_the_whole_table(store, small_trackers, monkeypatch):
    h = History(store, small_trackers)  # the sums run on a read-only connection of their own: traced too
    statements = _statements_anywhere(store, lambda: h.overview(h.snapshot(period("7d", NOW))), monkeypatch)
    plans = _plans_touching(store, statements, "daily")
    assert plans, statements
    for plan in plans:
        assert "SEARCH daily USING" in plan and "SCAN daily" not in plan, plan
    assert not _plans_touching(store, statements, "requests")  # periods never read the detail


def test_retention_seeks_site_by_site_and_never_scans_under_the_lock(store):
    cutoff = (TODAY - 5) * DAY_MS
    kept = store.conn.execute("SELECT count(*) FROM requests WHERE time >= ?", (cutoff,)).fetchone()[0]
    statements = _statements(store, lambda: store.delete_detail_before((TODAY - 5) * DAY_MS))
    plans = _plans_touching(store, statements, "requests")
    assert plans
    # the next site (one seek), then that site's rows below the cutoff (a range of the clustered key)
    assert any("SEARCH requests USING PRIMARY KEY (site_id>?)" in p for p in plans), plans
    assert any("SEARCH requests USING PRIMARY KEY (site_id=? AND time<?)" in p for p in plans), plans
    # the scan for used hosts runs on a read connection of its own (not traced here)
    assert not any("SCAN" in p for p in plans), plans
    assert store.conn.execute("SELECT count(*) FROM requests WHERE time < ?", ((TODAY - 5) * DAY_MS,)).fetchone()[0] == 0
    assert 0 < kept == store.conn.execute("SELECT count(*) FROM requests").fetchone()[0] < 10 * 30


def test_the_detail_is_one_tree_clustered_on_site_time_and_id():
    # An index on requests costs ~20 bytes per request and one more B-tree per recorded request: the
    # table itself is ordered by the site page's key (migration 8), and has no other index.
    import sqlite3 as _sqlite3

    from companion.storage.schema import MIGRATIONS

    conn = _sqlite3.connect(":memory:")
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    for migrate in MIGRATIONS:
        migrate(db)
    indexes = sorted(r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests' AND sql IS NOT NULL"))
    assert indexes == []
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'requests'").fetchone()[0]
    assert "WITHOUT ROWID" in sql and "PRIMARY KEY (site_id, time, id)" in sql
    assert [r[1] for r in conn.execute("PRAGMA table_info(requests)")] == [
        "site_id", "time", "id", "host_id", "kind", "filter_id"]


def test_retention_deletes_in_transactions_of_at_most_the_batch_size(store, make_verdict, monkeypatch):
    monkeypatch.setattr(Store, "RETENTION_BATCH_ROWS", 40)
    old = [RecordedEvent(make_verdict("old.example", "x.old-tracker.example", "old-tracker.example"),
                         NOW - 50 * DAY_MS + i) for i in range(100)]
    store.record(old)
    statements = _statements(store, lambda: store.delete_detail_before((TODAY - 40) * DAY_MS))
    # 40 + 40 + 20 rows of the one site with old rows (the others are looked at in the last one),
    # then one short transaction for the orphan hosts
    assert sum(s == "BEGIN IMMEDIATE" for s in statements) == 3 + 1
    assert [s for s in statements if "LIMIT 40" in s] and not [s for s in statements if "LIMIT 41" in s]
    deletes = [s for s in statements if s.startswith("DELETE FROM requests")]
    assert len(deletes) == 3
    assert store.conn.execute("SELECT count(*) FROM requests WHERE time < ?", ((TODAY - 40) * DAY_MS,)).fetchone()[0] == 0
    # the host only the old rows named is gone; the others stay (their rows were not recorded here)
    assert store.conn.execute("SELECT count(*) FROM hosts WHERE name = 'x.old-tracker.example'").fetchone()[0] == 0


def test_retention_told_to_stop_ends_between_two_transactions(store, make_verdict, monkeypatch):
    """The server stopping does not wait for a whole pass: the walk ends before its next transaction."""
    monkeypatch.setattr(Store, "RETENTION_BATCH_ROWS", 40)
    store.record([RecordedEvent(make_verdict("old.example", "x.old-tracker.example", "old-tracker.example"),
                                NOW - 50 * DAY_MS + i) for i in range(100)])
    asked = []
    removed = store.delete_detail_before((TODAY - 40) * DAY_MS, stop=lambda: asked.append(1) or len(asked) > 1)
    assert removed["requests"] == 40  # one transaction, then the stop
    assert store.conn.execute("SELECT count(*) FROM requests WHERE time < ?", ((TODAY - 40) * DAY_MS,)).fetchone()[0] == 60


def test_retention_looks_at_a_bounded_number_of_sites_per_transaction(store, make_verdict, monkeypatch):
    monkeypatch.setattr(Store, "RETENTION_BATCH_SITES", 2)
    store.record([RecordedEvent(make_verdict(f"old{k}.example", "x.old-tracker.example", "old-tracker.example"),
                                NOW - 50 * DAY_MS + k) for k in range(5)])
    statements = _statements(store, lambda: store.delete_detail_before((TODAY - 40) * DAY_MS))
    transactions, seeks, most = 0, 0, 0
    for sql in statements:
        if sql == "BEGIN IMMEDIATE":
            transactions, seeks = transactions + 1, 0
        elif sql.startswith("SELECT site_id FROM requests WHERE site_id >"):
            seeks += 1
            most = max(most, seeks)
    assert most <= 2  # 10 sites (5 old, 5 recent) and the end, two at a time
    assert transactions >= 6
    assert store.conn.execute("SELECT count(*) FROM requests WHERE time < ?", ((TODAY - 40) * DAY_MS,)).fetchone()[0] == 0


def test_retention_keeps_a_host_a_batch_names_while_it_runs(store, make_verdict, monkeypatch):
    # The used-hosts scan reads a snapshot outside the lock: a batch recorded after it began must not
    # lose its host (its row would name a deleted host).
    store.record([RecordedEvent(make_verdict("old.example", "x.old-tracker.example", "old-tracker.example"),
                                NOW - 50 * DAY_MS)])
    scan = Store._used_host_ids

    def scan_then_a_batch_lands(self):
        used = scan(self)
        self.record([RecordedEvent(make_verdict("new.example", "x.old-tracker.example", "old-tracker.example"), NOW)])
        return used

    monkeypatch.setattr(Store, "_used_host_ids", scan_then_a_batch_lands)
    removed = store.delete_detail_before((TODAY - 40) * DAY_MS)
    assert removed["requests"] == 1 and removed["hosts"] == 0
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert store._hosts_recorded is None  # recording stops collecting once retention is over


def test_the_shipped_retention_batch_is_small():
    # A recording batch waits for one retention transaction at most (issue 14: <= 100 ms).
    assert 100 <= Store.RETENTION_BATCH_ROWS <= 1000
    assert 10 <= Store.RETENTION_BATCH_SITES <= 500


def test_every_connection_caps_the_wal_file(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: acknowledged means on disk
    assert store.conn.execute("PRAGMA journal_size_limit").fetchone()[0] == WAL_SIZE_LIMIT


def test_a_checkpoint_empties_the_wal_and_the_next_commit_starts_it_over(store, make_verdict):
    wal = store.path.with_name(store.path.name + "-wal")
    checkpointer = Checkpointer(store.path, at_bytes=1)
    for k in range(30):
        store.record([RecordedEvent(make_verdict(f"s{k}.example", f"h{k}.t{j}.example", f"t{j}.example"), NOW + j)
                      for j in range(100)])
    grown = wal.stat().st_size
    busy, log, done = checkpointer.run_once()
    assert busy == 0 and log == done and log > 0
    store.record([RecordedEvent(make_verdict("after.example", "h.after.example", "after.example"), NOW)])
    # the WAL restarted at its beginning and was cut back to the limit: it no longer holds the old frames
    assert wal.stat().st_size <= min(grown, WAL_SIZE_LIMIT)
    frames = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    assert frames < 50


def test_below_the_threshold_the_checkpointer_does_nothing(store):
    checkpointer = Checkpointer(store.path, at_bytes=1 << 40)
    assert checkpointer.run_once() is None and checkpointer.runs == 0


def test_the_server_checkpoints_in_a_thread_and_keeps_sqlites_own_as_backstop(tmp_path, make_verdict):
    from companion.service import Companion

    companion = Companion(tmp_path / "data", lists=[])
    try:
        companion.start_checkpointer()
        store = companion.store
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_CHECKPOINT_PAGES
        companion._checkpointer.at_bytes = 1
        store.record([RecordedEvent(make_verdict("a.example", "h.t.example", "t.example"), NOW)])
        deadline = time.monotonic() + 30
        while companion._checkpointer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert companion._checkpointer.runs >= 1
    finally:
        companion.close()
    assert companion._checkpointer is None


def test_a_checkpoint_never_blocks_a_writer(store, make_verdict):
    # PASSIVE: a writer holding the write lock does not make the checkpoint wait or fail.
    checkpointer = Checkpointer(store.path, at_bytes=1)
    with store.transaction():
        store.conn.execute("UPDATE settings SET value = value")
        busy, _log, _done = checkpointer.run_once()
    assert busy == 0
    other = sqlite3.connect(store.path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


def test_migration_5_drops_the_time_and_host_indexes_of_an_older_database(tmp_path, make_verdict):
    path = tmp_path / "old.sqlite3"
    s = Store(path)
    s.record([RecordedEvent(make_verdict("a.example", "h.t.example", "t.example"), NOW)])
    s.conn.execute("CREATE INDEX requests_time ON requests(time)")
    s.conn.execute("CREATE INDEX requests_host_time ON requests(host_id, time)")
    s.conn.execute("PRAGMA user_version = 3")
    s.close()
    s = Store(path)
    try:
        assert s.schema_version >= 5
        names = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "requests_time" not in names and "requests_host_time" not in names
        assert s.count_requests() == 1
    finally:
        s.close()


def test_deleting_orphans_does_not_check_each_against_the_unindexed_detail(store, make_verdict):
    # requests.host_id has no index: with foreign-key checks on, every deleted host would scan the table.
    store.conn.execute("DELETE FROM requests")
    store.record([RecordedEvent(make_verdict("old.example", "x.old-tracker.example", "old-tracker.example"),
                                NOW - 50 * DAY_MS + i) for i in range(3)])
    store.record([RecordedEvent(make_verdict("new.example", "y.tracker.example", "tracker.example"), NOW)])
    statements = _statements(store, lambda: store.delete_detail_before((TODAY - 5) * DAY_MS))
    assert "PRAGMA foreign_keys=OFF" in statements and statements[-1] == "PRAGMA foreign_keys=ON"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert store.conn.execute("SELECT count(*) FROM hosts WHERE name = 'x.old-tracker.example'").fetchone()[0] == 0


def test_recording_with_the_checkpointer_keeps_the_wal_bounded_and_without_it_the_wal_grows(tmp_path, make_verdict):
    # What the server's thread does once a second (run_once), done here after every batch: the WAL
    # never holds much more than the threshold plus one batch, however long recording goes on. The
    # peer, recording the same batches with SQLite's checkpoint left as the backstop only, grows.
    def record_all(store, after_batch) -> int:
        wal = store.path.with_name(store.path.name + "-wal")
        largest = 0
        for k in range(120):
            store.record([RecordedEvent(make_verdict(f"s{(k * 7 + j) % 40}.example", f"h{j}.t{k % 9}.example",
                                                     f"t{k % 9}.example"), NOW + k * 1000 + j) for j in range(100)])
            after_batch()
            largest = max(largest, wal.stat().st_size)
        return largest

    checked = Store(tmp_path / "checked.sqlite3")
    checked.leave_checkpoints_to_thread()
    checkpointer = Checkpointer(checked.path, at_bytes=256 * 1024)
    bounded = record_all(checked, checkpointer.run_once)
    unchecked = Store(tmp_path / "unchecked.sqlite3")
    unchecked.leave_checkpoints_to_thread()
    grown = record_all(unchecked, lambda: None)
    try:
        assert checkpointer.runs >= 3
        assert bounded <= 2 * 1024 * 1024, bounded
        assert grown > 2 * bounded, (grown, bounded)
    finally:
        checked.close()
        unchecked.close()


def test_a_sites_detail_and_the_sums_are_read_on_connections_of_their_own(store):
    # Memory: months of a busy site's detail read through the store's 64 MB page cache kept the server
    # 24 MB bigger after one site page (bench_memory); and recording must not wait for these reads.
    site_id = store.conn.execute("SELECT site_id FROM requests LIMIT 1").fetchone()[0]
    answers = []

    def reads():
        answers.append(store.site_detail(site_id, 0, 10**6))
        answers.append(store.site_got_through(site_id, 0, 2**62))
        answers.append(store.daily_sums(0, 10**6))

    assert _statements(store, reads) == []
    assert answers[0] and answers[2][0]  # they did read something


def test_the_export_reads_on_a_connection_of_its_own_in_the_tables_order(store):
    # Constant memory at millions of rows: no statement on the store's connection (its 64 MB page cache,
    # its lock), no ORDER BY that would sort the whole detail, and a snapshot that recording does not hold up.
    rows = []
    statements = _statements(store, lambda: rows.extend(store.iter_requests()))
    assert statements == []
    assert len(rows) == store.count_requests() == 300
    keys = [(r["site"], r["time"], r["id"]) for r in rows]
    by_site = store.conn.execute(
        "SELECT d.name, r.time, r.id FROM requests r JOIN domains d ON d.id = r.site_id").fetchall()
    assert keys == by_site
    assert 0 < Store.READER_CACHE_KIB <= 4096
    with store.transaction():  # a recording batch under way does not stop an export
        assert next(iter(store.iter_requests()))["id"] >= 1


def test_the_site_report_reads_a_sites_detail_once_off_the_store_connection(store):
    # Issue 14: the popup's answer for a busy site made three passes over its detail under the store's
    # lock (half a second at a year of history). One pass, on a reader, with the same answers.
    site_id, site = store.conn.execute(
        "SELECT d.id, d.name FROM requests r JOIN domains d ON d.id = r.site_id LIMIT 1").fetchone()
    from companion.storage.schema import TYPE_MASK, TYPE_NAMES, TYPE_SHIFT

    kind = store.conn.execute("SELECT kind FROM requests WHERE site_id = ? LIMIT 1", (site_id,)).fetchone()[0]
    type_code = (kind >> TYPE_SHIFT) & TYPE_MASK
    found = []
    # Only SQLite's count of other connections' commits, which the kept groups follow (storage/sitegroups.py).
    assert set(_statements(store, lambda: found.append(store.site_summary(site, TYPE_NAMES[type_code])))) == {
        "PRAGMA data_version"}
    parties, typed, through = found[0]
    assert sorted(through, key=repr) == sorted(store.site_got_through(site_id, 0, 2**62), key=repr)
    expected = store.conn.execute(
        """SELECT d.name, count(*), min(r.time), max(r.time) FROM requests r JOIN hosts h ON h.id = r.host_id
           JOIN domains d ON d.id = h.domain_id WHERE r.site_id = ? AND (r.kind & 1) != 0
           GROUP BY d.id ORDER BY count(*) DESC, d.name""", (site_id,)).fetchall()
    assert [(p["domain"], p["requests"], p["first_seen"], p["last_seen"]) for p in parties] == expected
    assert typed and typed == {h for (h,) in store.conn.execute(
        "SELECT DISTINCT h.name FROM requests r JOIN hosts h ON h.id = r.host_id WHERE r.site_id = ? AND (r.kind >> ?) & ? = ?",
        (site_id, TYPE_SHIFT, TYPE_MASK, type_code))}


def test_a_batch_is_written_with_a_few_statements_not_one_step_per_row(tmp_path, make_verdict):
    # Each statement step lets go of Python's lock: while another thread computes (the history summing
    # periods in the background), taking it back 100 times a batch held recording up to ~250 ms at 10M.
    def statements_for(rows: int) -> int:  # chunks of 64, 32, ... 1: 100 rows are 64 + 32 + 4
        return bin(rows % 64).count("1") + rows // 64

    s = Store(tmp_path / "steps.sqlite3")
    try:
        recorded = 0
        for size in (1, 7, 64, 100, 1000):
            events = [RecordedEvent(make_verdict(f"site{i % 13}.example", f"h{i % 29}.tracker{i % 5}.example",
                                                 f"tracker{i % 5}.example", True, i % 2 == 0, "||x^"),
                                    NOW - i * 1000) for i in range(size)]
            statements = _statements(s, lambda: s.record(events))
            inserts = [q for q in statements if q.startswith("INSERT INTO requests")]
            upserts = [q for q in statements if q.startswith("INSERT INTO daily")]
            # one statement per chunk, for the detail rows and for the batch's daily totals (one per day, site, domain)
            totals = {(day_of(e.time), e.verdict.page_domain, e.verdict.domain) for e in events}
            assert len(inserts) == statements_for(size), (size, len(inserts))
            assert len(upserts) == statements_for(len(totals)), (size, len(totals), len(upserts))
            recorded += size
            assert s.count_requests() == recorded
        assert s.conn.execute("SELECT sum(requests) FROM daily").fetchone()[0] == recorded
    finally:
        s.close()
