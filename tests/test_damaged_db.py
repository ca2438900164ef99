"""Issue 15, finding 5: a damaged database is never replaced or reset silently.

A garbage header, a truncated file, a corrupted page, and an empty file where data was expected:
every command refuses with one line naming the way out (no traceback), and leaves the file as it
is; ``crumbs repair`` salvages what can be read, ``crumbs restore`` puts back a snapshot; the running
companion takes snapshots; a page gone bad while serving answers 503 with a JSON reason."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from companion.cli import main
from companion.service import Companion
from companion.storage import DatabaseDamaged
from companion.storage.integrity import marker_path
from companion.storage.snapshots import Snapshotter, list_snapshots, take

NEWS = "https://www.news.example/"
COMMANDS = [["lists"], ["pair"], ["choices"], ["block", "tracker.example"], ["check", "https://x.example/a", "--page", "https://news.example/"],
            ["token"]]


def fill(data_dir: Path, n: int = 2000) -> int:
    """A companion that recorded ``n`` requests, closed (WAL checkpointed into the main file)."""
    companion = Companion(data_dir)
    try:
        events = [{"url": f"https://www.google-analytics.com/collect?n={i}", "page_url": NEWS, "type": "ping"}
                  for i in range(n)]
        for start in range(0, n, 500):
            results, _ = companion.report(events[start:start + 500])
            assert all(r["ok"] for r in results)
    finally:
        companion.close()
    return n


def requests_count(database: Path) -> int:
    conn = sqlite3.connect(database)
    try:
        return conn.execute("SELECT count(*) FROM requests").fetchone()[0]
    finally:
        conn.close()


def leaf_page_of_requests(database: Path) -> tuple[int, int]:
    conn = sqlite3.connect(database)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [r[0] for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'requests' AND pagetype = 'leaf' ORDER BY pageno")]
    finally:
        conn.close()
    assert len(pages) > 4
    return pages[len(pages) // 2], size


def corrupt_page(database: Path, page: int, size: int) -> None:
    with open(database, "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(bytes((i * 37 + 11) % 256 for i in range(size)))


def damage(kind: str, database: Path) -> None:
    if kind == "garbage-header":
        with open(database, "r+b") as handle:
            handle.write(b"this is not a database at all!!!" * 4)
    elif kind == "truncated":
        os.truncate(database, database.stat().st_size // 3)
    elif kind == "corrupted-page":
        corrupt_page(database, *leaf_page_of_requests(database))
    elif kind == "zero-length":
        os.truncate(database, 0)
    elif kind == "missing":
        database.unlink()


def database_files(data_dir: Path) -> set[str]:
    """The database's files in the data folder: the live one, those set aside, and any -wal/-shm."""
    return {p.name for p in data_dir.iterdir() if p.name.startswith("crumbs.sqlite3")}


def leave_a_commit_in_the_wal(database: Path) -> bytes:
    """The database as a crash leaves it: its last commit only in its -wal, not yet in the main file.
    Returns the -wal's bytes."""
    before = database.read_bytes()
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("INSERT INTO settings (key, value) VALUES ('only-in-the-wal', 'kept')")
        wal = Path(f"{database}-wal").read_bytes()
    finally:
        conn.close()  # the last connection copies the WAL into the file and removes it: undo that
    database.write_bytes(before)
    Path(f"{database}-wal").write_bytes(wal)
    return wal


def setting_in(database: Path, key: str) -> str | None:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def run_cli(args: list[str], data_dir: Path):
    return CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)])


KINDS = ["garbage-header", "truncated", "corrupted-page", "zero-length", "missing"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_command_refuses_a_damaged_database_with_one_line(kind, data_dir):
    fill(data_dir)
    database = data_dir / "crumbs.sqlite3"
    damage(kind, database)
    before = database.read_bytes() if database.exists() else None
    for args in COMMANDS:
        if args == ["token"]:
            continue  # the token lives in its own file: reading it needs no database
        result = run_cli(args, data_dir)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "crumbs repair" in lines[0] and "crumbs restore" in lines[0], (args, result.output)
        assert "Traceback" not in result.output
    # Left exactly as it was: not replaced, not reset, not "repaired" behind the person's back.
    assert (database.read_bytes() if database.exists() else None) == before
    with pytest.raises(DatabaseDamaged):
        Companion(data_dir)


@pytest.mark.parametrize("kind", ["garbage-header", "zero-length"])
def test_crumbs_serve_refuses_with_one_line_and_no_traceback(kind, data_dir):
    fill(data_dir, 50)
    damage(kind, data_dir / "crumbs.sqlite3")
    done = subprocess.run([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "listening" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "crumbs repair" in lines[0], done.stderr


def test_a_first_start_and_an_empty_file_without_data_expected_are_fine(tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "crumbs.sqlite3").touch()  # empty, but nothing was ever written here: a first start
    Companion(fresh).close()
    assert marker_path(fresh / "crumbs.sqlite3").exists()
    assert run_cli(["choices"], fresh).exit_code == 0


def test_repair_salvages_around_a_corrupted_page_and_keeps_the_damaged_file(data_dir):
    accepted = fill(data_dir)
    database = data_dir / "crumbs.sqlite3"
    damage("corrupted-page", database)
    result = run_cli(["repair"], data_dir)
    assert result.exit_code == 0, result.output
    assert "rows salvaged" in result.output and "kept as" in result.output
    aside = list(data_dir.glob("crumbs.sqlite3.damaged-*Z"))
    assert len(aside) == 1
    # Nothing else: the salvage's read-only reader leaves an empty -wal/-shm beside the damaged file,
    # which hold nothing and belong to no open database.
    assert database_files(data_dir) == {"crumbs.sqlite3", aside[0].name}
    salvaged = requests_count(database)
    assert accepted - 300 <= salvaged < accepted  # one page of rows lost, not the table
    conn = sqlite3.connect(database)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert run_cli(["choices"], data_dir).exit_code == 0  # in use again
    companion = Companion(data_dir)
    try:
        results, _ = companion.report([{"url": "https://www.google-analytics.com/after", "page_url": NEWS, "type": "ping"}])
        assert results[0]["ok"]
    finally:
        companion.close()


def test_repair_of_an_unreadable_file_says_so_and_starts_empty(data_dir):
    fill(data_dir, 50)
    damage("garbage-header", data_dir / "crumbs.sqlite3")
    result = run_cli(["repair"], data_dir)
    assert result.exit_code == 0 and "Nothing could be read" in result.output
    assert requests_count(data_dir / "crumbs.sqlite3") == 0
    assert len(list(data_dir.glob("crumbs.sqlite3.damaged-*Z"))) == 1


def test_restore_puts_back_the_latest_snapshot(data_dir):
    accepted = fill(data_dir, 300)
    database = data_dir / "crumbs.sqlite3"
    snapshot = take(database, data_dir)
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    damage("zero-length", database)
    assert run_cli(["choices"], data_dir).exit_code == 1
    listed = run_cli(["restore", "--list"], data_dir)
    assert snapshot.name in listed.output
    result = run_cli(["restore"], data_dir)
    assert result.exit_code == 0 and snapshot.name in result.output, result.output
    # The empty -wal/-shm a read-only open (the snapshot's) left by the damaged file do not follow it aside.
    aside = list(data_dir.glob("crumbs.sqlite3.damaged-*Z"))
    assert len(aside) == 1 and database_files(data_dir) == {"crumbs.sqlite3", aside[0].name}
    assert requests_count(database) == accepted
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert run_cli(["choices"], data_dir).exit_code == 0
    assert database_files(data_dir) == {"crumbs.sqlite3", aside[0].name}


def test_restore_without_a_snapshot_says_so(data_dir):
    fill(data_dir, 10)
    result = run_cli(["restore"], data_dir)
    assert result.exit_code == 1 and "no snapshot" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["restore", "repair"])
def test_a_wal_holding_commits_goes_aside_with_the_damaged_file(command, data_dir):
    fill(data_dir)
    database = data_dir / "crumbs.sqlite3"
    take(database, data_dir)
    damage("corrupted-page", database)
    wal = leave_a_commit_in_the_wal(database)
    result = run_cli([command], data_dir)
    assert result.exit_code == 0, result.output
    aside = list(data_dir.glob("crumbs.sqlite3.damaged-*Z"))
    assert len(aside) == 1
    # Renamed to match the file it belongs to, so SQLite reads it with that file; its index (-shm) is
    # rebuilt from it then.
    assert database_files(data_dir) == {"crumbs.sqlite3", aside[0].name, f"{aside[0].name}-wal"}
    assert Path(f"{aside[0]}-wal").read_bytes() == wal
    if command == "repair":  # the salvage read the commit through the WAL too
        assert setting_in(database, "only-in-the-wal") == "kept"
    else:
        assert setting_in(database, "only-in-the-wal") is None  # the snapshot is from before it
    assert setting_in(aside[0], "only-in-the-wal") == "kept"


def test_restore_where_the_database_is_gone_moves_its_wal_aside_rather_than_under_the_snapshot(data_dir):
    # SQLite replays a -wal it finds beside a file into it: left at the old name, the gone database's
    # WAL would be written over the restored snapshot.
    accepted = fill(data_dir, 300)
    database = data_dir / "crumbs.sqlite3"
    take(database, data_dir)
    wal = leave_a_commit_in_the_wal(database)
    damage("missing", database)
    result = run_cli(["restore"], data_dir)
    assert result.exit_code == 0, result.output
    aside = list(data_dir.glob("crumbs.sqlite3.damaged-*Z-wal"))
    assert len(aside) == 1 and aside[0].read_bytes() == wal
    assert f"kept as {aside[0]}" in result.output
    assert database_files(data_dir) == {"crumbs.sqlite3", aside[0].name}
    assert setting_in(database, "only-in-the-wal") is None
    assert requests_count(database) == accepted


def test_the_running_companion_takes_snapshots_and_keeps_the_last_few(data_dir):
    fill(data_dir, 100)
    companion = Companion(data_dir)
    try:
        snapshotter = Snapshotter(companion.store, companion.paths.root, every_s=0.0, keep=3)
        made = [snapshotter.tick() for _ in range(5)]
        assert all(made)
        kept = list_snapshots(companion.paths.root)
        assert len(kept) == 3 and kept[0] == made[-1]
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept)
        assert requests_count(kept[0]) == 100
        # Not due again within the day.
        assert Snapshotter(companion.store, companion.paths.root).tick() is None
    finally:
        companion.close()


def test_events_on_a_page_gone_bad_answer_503_json_and_keep_what_was_accepted(make_app, data_dir):
    accepted = fill(data_dir)
    database = data_dir / "crumbs.sqlite3"
    companion = Companion(data_dir)
    app = make_app(companion)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {companion.token}"}
    page, size = leaf_page_of_requests(database)
    corrupt_page(database, page, size)
    companion.store.conn.execute("PRAGMA shrink_memory")  # drop cached pages: the next read sees the disk
    answers = []
    for n in range(20):  # new rows go to the last page; the daily totals and indexes read others
        batch = [{"url": f"https://www.google-analytics.com/collect?late={n}-{i}", "page_url": NEWS, "type": "ping"}
                 for i in range(200)]
        r = client.post("/api/v1/events", json={"events": batch}, headers=auth)
        answers.append(r)
        if r.status_code != 200:
            break
    last = answers[-1]
    assert last.status_code == 503, [a.status_code for a in answers]
    body = last.get_json()
    assert body["kind"] == "database-damaged" and "crumbs repair" in body["error"]
    assert "Traceback" not in last.get_data(as_text=True)
    companion.close()
    acknowledged = accepted + 200 * (len(answers) - 1)
    # Nothing accepted was reset: repair salvages all but the rows of the one bad page.
    assert run_cli(["repair"], data_dir).exit_code == 0
    assert acknowledged - 300 <= requests_count(database) <= acknowledged


def test_an_empty_database_in_a_folder_from_before_the_marker_is_refused_too(data_dir):
    fill(data_dir, 20)
    database = data_dir / "crumbs.sqlite3"
    marker_path(database).unlink()  # as a data folder written by an earlier release has it
    damage("zero-length", database)
    result = run_cli(["choices"], data_dir)
    assert result.exit_code == 1 and "empty" in result.output


@pytest.mark.parametrize("command", [["repair"], ["restore"]])
def test_repair_and_restore_refuse_while_a_companion_owns_the_folder(command, data_dir):
    from companion.instance import Instance

    Companion(data_dir).close()
    before = (data_dir / "crumbs.sqlite3").read_bytes()
    with Instance(data_dir):  # what a running `crumbs serve` holds
        result = run_cli(command, data_dir)
    assert result.exit_code != 0
    assert "already serves the data folder" in result.output and "nothing was changed" in result.output
    assert "Traceback" not in result.output
    # The way out, said once: it read "...use it, or stop it first; stop it, then run this again".
    assert result.output.count("stop it") == 1 and "use it" not in result.output, result.output
    assert (data_dir / "crumbs.sqlite3").read_bytes() == before
    holder = Instance(data_dir)
    holder.acquire(command="lists update")  # a command's few seconds, not a companion
    try:
        result = run_cli(command, data_dir)
    finally:
        holder.release()
    assert result.exit_code != 0 and result.output.strip().splitlines() == [
        f"Error: 'crumbs lists update' (pid {os.getpid()}) is changing the data folder {data_dir.resolve()}; "
        "try again when it has finished (nothing was changed)"]
    assert (data_dir / "crumbs.sqlite3").read_bytes() == before


def test_repair_keeps_ids_of_forgotten_names_unused(data_dir):
    # The highest id ever handed out travels with the salvage (sqlite_sequence): a name forgotten
    # before the damage keeps its id to itself afterwards (ids are never reused, schema 7).
    fill(data_dir)
    companion = Companion(data_dir)
    try:
        companion.report([{"url": "https://px.forgotten-tracker.example/p", "page_url": "https://gone.example/",
                           "type": "image"}])
        forgotten = companion.store.conn.execute(
            "SELECT id FROM hosts WHERE name = 'px.forgotten-tracker.example'").fetchone()[0]
        companion.store.forget_site("gone.example")
    finally:
        companion.close()
    damage("corrupted-page", data_dir / "crumbs.sqlite3")
    assert run_cli(["repair"], data_dir).exit_code == 0
    companion = Companion(data_dir)
    try:
        companion.report([{"url": "https://px.new-tracker.example/p", "page_url": NEWS, "type": "image"}])
        new = companion.store.conn.execute("SELECT id FROM hosts WHERE name = 'px.new-tracker.example'").fetchone()[0]
        assert new > forgotten
    finally:
        companion.close()


def test_two_damaged_files_set_aside_within_one_second_are_both_kept(data_dir, monkeypatch):
    # The set-aside name has a one-second stamp: a second repair or restore in the same second replaced the
    # first damaged file with the second, losing what the person might still have wanted from it.
    from datetime import datetime, timezone

    from companion.storage import recovery

    class OneSecond(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)

    monkeypatch.setattr(recovery, "datetime", OneSecond)
    database = data_dir / "crumbs.sqlite3"
    data_dir.mkdir(parents=True, exist_ok=True)
    for content in (b"the first damaged file", b"the second damaged file"):
        database.write_bytes(content)
        recovery._aside(database)
    kept = {p.name: p.read_bytes() for p in data_dir.glob("crumbs.sqlite3.damaged-*")}
    assert sorted(kept.values()) == [b"the first damaged file", b"the second damaged file"], kept


# -- what `crumbs restore SNAPSHOT` accepts ------------------------------------------------------------
# A snapshot's name as `--list` prints it, or a path from the current folder to a sound Crumbs database
# that is not the live one; anything else is one line with the reason, and nothing is touched.


def test_restoring_a_copy_whose_wal_holds_commits_keeps_them(data_dir, tmp_path):
    # A copy kept elsewhere, made by copying the live database and its -wal while a companion ran: its last
    # commits are only in the -wal. The check reads them (through the WAL); the restored database has them.
    accepted = fill(data_dir, 300)
    database = data_dir / "crumbs.sqlite3"
    kept = tmp_path / "kept"
    kept.mkdir()
    copy = kept / "crumbs-copy.sqlite3"
    copy.write_bytes(database.read_bytes())
    wal = leave_a_commit_in_the_wal(copy)
    assert wal and setting_in(copy, "only-in-the-wal") == "kept"
    damage("zero-length", database)
    result = run_cli(["restore", str(copy)], data_dir)
    assert result.exit_code == 0, result.output
    assert setting_in(database, "only-in-the-wal") == "kept"
    assert requests_count(database) == accepted
    aside = list(data_dir.glob("crumbs.sqlite3.damaged-*Z"))
    assert database_files(data_dir) == {"crumbs.sqlite3", aside[0].name}, "one file, no -wal of the copy's beside it"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert run_cli(["choices"], data_dir).exit_code == 0
    # The copy itself is left as it was: its commit still in its -wal.
    assert Path(f"{copy}-wal").read_bytes()[:32] == wal[:32]


def test_a_restore_that_cannot_write_its_copy_says_so_in_one_line_and_leaves_nothing(data_dir, tmp_path, monkeypatch):
    # The disk fills while the copy is written (a file size limit stands in for it): SQLite's error, not a
    # traceback, and neither the half-written copy nor any change to the data folder.
    import resource
    import signal

    from companion.storage import recovery

    fill(data_dir, 3000)
    database = data_dir / "crumbs.sqlite3"
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(database.read_bytes())
    damage("zero-length", database)
    before = database_files(data_dir)
    real = recovery._copy_through_sqlite

    def on_a_full_disk(source, target):
        old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, hard))
        try:
            real(source, target)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, old_handler)

    monkeypatch.setattr(recovery, "_copy_through_sqlite", on_a_full_disk)
    line = refused(run_cli(["restore", str(copy)], data_dir), "could not copy", "nothing was changed")
    assert "Traceback" not in line
    assert database_files(data_dir) == before and not list(data_dir.glob(".restoring-*"))


def refused(result, *words: str) -> str:
    """The one-line refusal of a CLI command: exit 1, no exception but click's exit, every word in it."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert all(word in lines[0] for word in words), (words, lines[0])
    return lines[0]


@pytest.fixture
def restorable(data_dir):
    """A data folder with a recorded history, one snapshot of it and a newer database (one more setting)."""
    accepted = fill(data_dir, 50)
    database = data_dir / "crumbs.sqlite3"
    snapshot = take(database, data_dir)
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('after-the-snapshot', 'yes')")
    conn.close()
    return database, snapshot, accepted


def untouched(database: Path) -> None:
    assert setting_in(database, "after-the-snapshot") == "yes"
    assert not list(database.parent.glob("crumbs.sqlite3.damaged-*"))


def test_restore_refuses_a_relative_path_to_a_file_that_is_not_a_database(restorable, data_dir, tmp_path, monkeypatch):
    # Typed in a folder deep enough, ../ climbs above / (which the file system allows): SQLite could not
    # open that name and the check raised OperationalError, a traceback from the `crumbs` executable.
    database, _, _ = restorable
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    monkeypatch.chdir(tmp_path)
    climbing = "../" * (len(tmp_path.parts) + 1) + str(text).lstrip("/")
    refused(run_cli(["restore", climbing], data_dir), str(text), "not an SQLite database")
    refused(run_cli(["restore", "passwd"], data_dir), str(text), "not an SQLite database")
    untouched(database)


@pytest.mark.parametrize("where, typed", [
    ("snapshots", "../crumbs.sqlite3"),  # resolved under snapshots/, it was the live database "restored" over itself
    ("data", "crumbs.sqlite3"),
    ("elsewhere", "DATA/crumbs.sqlite3"),
    ("data", "./crumbs.sqlite3-wal"),
    ("data", "crumbs.sqlite3-shm"),
    ("elsewhere", "a-hard-link.sqlite3"),
])
def test_restore_refuses_the_live_database_and_its_wal_and_shm(where, typed, restorable, data_dir, tmp_path, monkeypatch):
    database, _, _ = restorable
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.link(database, elsewhere / "a-hard-link.sqlite3")
    wal = leave_a_commit_in_the_wal(database)
    Path(f"{database}-shm").write_bytes(b"")
    monkeypatch.chdir({"snapshots": data_dir / "snapshots", "data": data_dir, "elsewhere": elsewhere}[where])
    line = refused(run_cli(["restore", typed.replace("DATA", str(data_dir))], data_dir), "the live database")
    assert "-wal" in line if typed.endswith("-wal") else "-shm" in line if typed.endswith("-shm") else True
    assert Path(f"{database}-wal").read_bytes() == wal
    untouched(database)


@pytest.mark.parametrize("content, words", [
    (None, ["there is no file"]),
    ("folder", ["is not a file"]),
    (b"SQLite format 3\x00" + bytes(range(256)) * 8, ["cannot be read as a database"]),  # the header, then garbage
    ("other-sqlite", ["not one of Crumbs"]),
    ("newer", ["newer Crumbs"]),
    ("damaged", ["damaged too"]),
])
def test_restore_refuses_what_is_not_a_sound_crumbs_database_with_the_reason(content, words, restorable, data_dir,
                                                                              tmp_path, monkeypatch):
    database, snapshot, _ = restorable
    candidate = tmp_path / "candidate #1?.sqlite3"  # ? and # mean something in SQLite's file: URIs
    if content == "folder":
        candidate.mkdir()
    elif isinstance(content, bytes):
        candidate.write_bytes(content)
    elif content == "other-sqlite":
        conn = sqlite3.connect(candidate)
        conn.execute("CREATE TABLE bookmarks (url TEXT)")
        conn.close()
    elif content in ("newer", "damaged"):
        candidate.write_bytes(snapshot.read_bytes())
        if content == "newer":
            conn = sqlite3.connect(candidate)
            conn.execute("PRAGMA user_version = 999")
            conn.close()
        else:
            conn = sqlite3.connect(candidate)
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            page = conn.execute("SELECT pageno FROM dbstat WHERE name = 'requests' AND pagetype = 'leaf'").fetchone()[0]
            conn.close()
            corrupt_page(candidate, page, size)
    monkeypatch.chdir(tmp_path)
    refused(run_cli(["restore", f"./{candidate.name}"], data_dir), str(candidate), *words)
    untouched(database)


def test_restore_names_the_snapshot_list_when_a_bare_name_is_neither(restorable, data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(run_cli(["restore", "crumbs-20200101T000000000000Z.sqlite3"], data_dir), "no snapshot named",
            "crumbs restore --list")
    untouched(restorable[0])


@pytest.mark.parametrize("how", ["listed name", "path from the data folder", "absolute path", "a copy, relative"])
def test_restore_takes_a_snapshot_by_its_name_or_a_path_to_a_copy(how, restorable, data_dir, tmp_path, monkeypatch):
    database, snapshot, accepted = restorable
    copy = tmp_path / "kept" / "my copy #2.sqlite3"
    copy.parent.mkdir()
    copy.write_bytes(snapshot.read_bytes())
    cwd, typed = {"listed name": (tmp_path, snapshot.name),
                  "path from the data folder": (data_dir, f"snapshots/{snapshot.name}"),
                  "absolute path": (tmp_path, str(snapshot)),
                  "a copy, relative": (tmp_path / "kept", "../kept/my copy #2.sqlite3")}[how]
    monkeypatch.chdir(cwd)
    result = run_cli(["restore", typed], data_dir)
    assert result.exit_code == 0, result.output
    assert requests_count(database) == accepted and setting_in(database, "after-the-snapshot") is None
    assert len(list(data_dir.glob("crumbs.sqlite3.damaged-*"))) == 1
