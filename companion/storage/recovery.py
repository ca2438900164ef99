"""The ways out of a damaged database: salvage what can be read (``crumbs repair``) or put back a
snapshot (``crumbs restore``). Both keep the damaged file aside (``crumbs.sqlite3.damaged-<time>``,
with its ``-wal``/``-shm``), never delete it, and leave a database that passes ``integrity_check``
in its place, with mode 0600.

Salvage reads the damaged file table by table, in rowid order; where a page cannot be read it skips
ahead (probing larger and larger rowid gaps) and goes on, so one bad page costs the rows on it, not
the table. What is read goes into a new database with the current schema (like SQLite's ``.recover``,
without needing the ``sqlite3`` program).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .integrity import quick_check
from .snapshots import list_snapshots

_BATCH = 500


@dataclass
class Salvage:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    skipped_regions: int = 0  # unreadable stretches jumped over
    readable: bool = True  # False: not even the schema could be read
    aside: Path | None = None  # where the damaged file now is


def _aside(database: Path) -> Path:
    """Move the database and its WAL/SHM aside (never deleted); return the new path of the main file."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = database.with_name(f"{database.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(database) + suffix)
        if src.exists():
            os.replace(src, Path(str(target) + suffix))
    return target


def _put_in_place(new: Path, database: Path) -> None:
    os.chmod(new, 0o600)
    os.replace(new, database)


def restore(database: Path, root: Path, snapshot: Path | None = None) -> tuple[Path, Path | None]:
    """Put ``snapshot`` (default: the newest) in place of ``database``; return (snapshot, damaged file aside)."""
    if snapshot is None:
        found = list_snapshots(root)
        if not found:
            raise FileNotFoundError("there is no snapshot to restore (the running companion takes one a day); "
                                    "'crumbs repair' salvages what the damaged file still holds")
        snapshot = found[0]
    snapshot = Path(snapshot)
    if not snapshot.is_file():
        raise FileNotFoundError(f"{snapshot} is not a snapshot file")
    problem = quick_check(snapshot, budget_s=120.0)
    if problem:
        raise ValueError(f"the snapshot {snapshot.name} is damaged too ({problem[:80]}); pick another one")
    staged = database.with_name(f".restoring-{database.name}")
    shutil.copyfile(snapshot, staged)
    aside = _aside(database) if database.exists() else None
    _put_in_place(staged, database)
    return snapshot, aside


def repair(database: Path, make_store) -> Salvage:
    """Salvage ``database`` into a new file made by ``make_store(path)`` (a Store with the current schema),
    then swap it in and keep the damaged one aside."""
    workdir = Path(tempfile.mkdtemp(prefix=".repair-", dir=database.parent))  # same file system: os.replace
    try:
        staged = workdir / database.name
        result = Salvage()
        fresh = make_store(staged)
        try:
            _copy_readable(database, fresh.conn, result)
            fresh.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            fresh.close()
        conn = sqlite3.connect(staged)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            ok = conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
        if not ok:
            raise RuntimeError("the salvaged copy failed its integrity check; nothing was changed")
        result.aside = _aside(database) if database.exists() else None
        _put_in_place(staged, database)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _copy_readable(damaged: Path, target: sqlite3.Connection, result: Salvage) -> None:
    target.execute("PRAGMA foreign_keys=OFF")
    tables = [r[0] for r in target.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    try:
        source = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        result.readable = False
        return
    try:
        for table in tables:
            result.rows[table] = _copy_table(source, target, table, result)
        _carry_sequences(source, target)
    finally:
        source.close()


def _carry_sequences(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # The highest id each table ever handed out, where readable: ids stay never reused (schema 7)
    # even for names forgotten before the damage, whose rows are no longer there to say so.
    try:
        sequences = source.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.DatabaseError:
        return
    for name, seq in sequences:
        if isinstance(seq, int):
            target.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name))
            target.execute("INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
                           "(SELECT 1 FROM sqlite_sequence WHERE name = ?)", (name, seq, name))


def _copy_table(source: sqlite3.Connection, target: sqlite3.Connection, table: str, result: Salvage) -> int:
    wanted = [r[1] for r in target.execute(f'PRAGMA table_info("{table}")')]
    try:
        present = {r[1] for r in source.execute(f'PRAGMA table_info("{table}")')}
        without_rowid = "WITHOUT ROWID" in (source.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone() or [""])[0].upper()
    except sqlite3.DatabaseError:
        return 0
    columns = [c for c in wanted if c in present]
    if not columns:
        return 0
    names = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({", ".join("?" for _ in columns)})'
    copied = 0
    if without_rowid:  # no rowid to skip by: copy what one scan reads
        try:
            for row in source.execute(f'SELECT {names} FROM "{table}"'):
                target.execute(insert, row)
                copied += 1
        except sqlite3.DatabaseError:
            result.skipped_regions += 1
        return copied
    last = -(2 ** 63)
    select = f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?'
    target.execute("BEGIN")
    try:
        while True:
            try:
                rows = source.execute(select, (last, _BATCH)).fetchall()
            except sqlite3.DatabaseError:
                rows = None
            if rows is None:  # a bad page in this stretch: row by row, then jump over it
                try:
                    rows = source.execute(select, (last, 1)).fetchall()
                except sqlite3.DatabaseError:
                    jumped = _skip_ahead(source, table, last)
                    result.skipped_regions += 1
                    if jumped is None:
                        break
                    last = jumped - 1
                    continue
            if not rows:
                break
            for row in rows:
                target.execute(insert, row[1:])
                copied += 1
            last = rows[-1][0]
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return copied


def _skip_ahead(source: sqlite3.Connection, table: str, last: int) -> int | None:
    """The first readable rowid beyond an unreadable stretch after ``last``, or None if none is found."""
    step = 1
    while step < 2 ** 40:
        try:
            row = source.execute(f'SELECT rowid FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT 1',
                                 (last + step,)).fetchone()
            if row is None:
                return None
            source.execute(f'SELECT * FROM "{table}" WHERE rowid = ?', (row[0],)).fetchone()
            return row[0]
        except sqlite3.DatabaseError:
            step *= 2
    return None
