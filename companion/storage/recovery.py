"""The ways out of a damaged database: salvage what can be read (``crumbs repair``) or put back a
snapshot (``crumbs restore``). Both keep the damaged file aside (``crumbs.sqlite3.damaged-<time>``,
with its ``-wal`` when that holds anything), never delete it, and leave a database that passes
``integrity_check`` in its place, with mode 0600, and no ``-wal``/``-shm`` of the old file beside it.

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

from .integrity import SQLITE_HEADER, quick_check, readonly_uri
from .schema import SCHEMA_VERSION
from .snapshots import list_snapshots

_BATCH = 500


@dataclass
class Salvage:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    skipped_regions: int = 0  # unreadable stretches jumped over
    readable: bool = True  # False: not even the schema could be read
    aside: Path | None = None  # where the damaged file now is


def _aside(database: Path) -> Path | None:
    """Move the database out of the way, with its WAL if that holds anything (never deleted); return
    where the damaged data now is (the main file, or its WAL if the main file was gone), or None."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = database.with_name(f"{database.name}.damaged-{stamp}")
    n = 1
    # Two repairs or restores within one second: os.replace would put the second damaged file over the first.
    while target.exists() or Path(f"{target}-wal").exists():
        n += 1
        target = database.with_name(f"{database.name}.damaged-{stamp}-{n}")
    wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
    moved = None
    if database.exists():
        os.replace(database, target)
        moved = target
    # A WAL with frames holds commits the main file may lack: it goes with the file, under the name
    # SQLite looks for beside it. Left at the old name it would be replayed into the new database (even
    # with the main file gone). An empty one holds nothing: read-only connections (the salvage's
    # reader, the check every refused command runs) create it and cannot remove it when they close.
    if wal.exists() and wal.stat().st_size > 0:
        os.replace(wal, Path(f"{target}-wal"))
        moved = moved or Path(f"{target}-wal")
    else:
        wal.unlink(missing_ok=True)
    # The -shm only indexes the WAL; SQLite rebuilds it from the WAL when it next opens the file, and
    # nothing has the file open now (the command holds the data folder's lock and closed its own).
    shm.unlink(missing_ok=True)
    return moved


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
    snapshot = Path(snapshot).resolve()
    reason = why_not_restorable(snapshot, database)
    if reason:
        raise ValueError(reason)
    staged = database.with_name(f".restoring-{database.name}")
    _copy_through_sqlite(snapshot, staged)
    aside = _aside(database)
    _put_in_place(staged, database)
    return snapshot, aside


def _copy_through_sqlite(source: Path, target: Path) -> None:
    """Copy the database ``source`` as SQLite reads it, into a new file ``target``. Not the file's bytes: a
    copy kept elsewhere may have its last commits only in its ``-wal`` beside it (copied with it while a
    companion ran), which the check before read and a copy of the main file alone would lose."""
    leftovers = [target, *(Path(f"{target}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    try:
        reader = sqlite3.connect(readonly_uri(source), uri=True, timeout=10)
        try:
            writer = sqlite3.connect(target)
            try:
                reader.backup(writer, pages=-1)  # one step: one consistent state, WAL included
                writer.execute("PRAGMA journal_mode=DELETE")  # one file to move in place; the companion sets WAL
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as exc:  # a full disk, the copy changed under us: one line, and nothing left behind
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        raise OSError(f"could not copy {source} into the data folder ({str(exc)[:80]}); nothing was changed") from None


def why_not_restorable(candidate: Path, database: Path) -> str | None:
    """Why ``candidate`` cannot be put in place of ``database`` (one line), or None when it can: it must be
    a readable, sound Crumbs database that this Crumbs can open, and not the live database or one of its
    companion files (restoring those would copy the file over itself, or a WAL or journal as a database)."""
    candidate = Path(candidate).resolve()
    for suffix, what in (("", "the live database itself"), ("-wal", "the live database's -wal file"),
                         ("-shm", "the live database's -shm file"), ("-journal", "the live database's journal")):
        if _same_file(candidate, Path(f"{database}{suffix}")):
            return f"{candidate} is {what}; name a snapshot ('crumbs restore --list') or a copy kept elsewhere"
    if _same_file(candidate, database.with_name(f".restoring-{database.name}")):
        return f"{candidate} is where restore stages its copy; name a snapshot ('crumbs restore --list')"
    if not candidate.exists():
        return f"there is no file {candidate}"
    if not candidate.is_file():
        return f"{candidate} is not a file"
    try:
        with open(candidate, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"{candidate} cannot be read ({exc.strerror or exc})"
    if header != SQLITE_HEADER:
        return f"{candidate} is not an SQLite database"
    try:
        version, tables = _schema_of(candidate)
        problem = quick_check(candidate, budget_s=120.0)
    except sqlite3.Error as exc:  # unreadable, locked, not a database after all: a reason, never a traceback
        return f"{candidate} cannot be read as a database ({str(exc)[:80]})"
    if version < 1 or not {"settings", "requests"} <= tables:
        return f"{candidate} is an SQLite database, but not one of Crumbs"
    if version > SCHEMA_VERSION:
        return f"{candidate} was written by a newer Crumbs (schema {version}, this one knows {SCHEMA_VERSION})"
    if problem:
        return f"{candidate} is damaged too ({problem[:80]}); pick another one"
    return None


def _same_file(a: Path, b: Path) -> bool:
    # Resolved names catch symlinks and ../ detours; samefile also catches a hard link to the database.
    if a == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either one missing
        return False


def _schema_of(path: Path) -> tuple[int, set[str]]:
    conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=10)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    return version, tables


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
        result.aside = _aside(database)
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
    if without_rowid:  # no rowid to skip by: walk the primary key instead
        return _copy_by_key(source, target, table, names, insert, result)
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


def _copy_by_key(source: sqlite3.Connection, target: sqlite3.Connection, table: str, names: str, insert: str,
                 result: Salvage) -> int:
    """A WITHOUT ROWID table (the request detail since schema 8) walked in key order, a batch at a time;
    an unreadable stretch is jumped over by :func:`_skip_ahead_by_key`, so one bad page costs its rows."""
    pk = [r[1] for r in sorted((r for r in source.execute(f'PRAGMA table_info("{table}")') if r[5]),
                                key=lambda r: r[5])]
    if not pk:
        return 0
    key = ", ".join(f'"{c}"' for c in pk)
    first = f'SELECT {key}, {names} FROM "{table}" ORDER BY {key} LIMIT ?'
    after = f'SELECT {key}, {names} FROM "{table}" WHERE ({key}) > ({", ".join("?" for _ in pk)}) ORDER BY {key} LIMIT ?'
    width = len(pk)
    last: tuple | None = None
    copied = 0
    target.execute("BEGIN")
    try:
        while True:
            select, params = (first, ()) if last is None else (after, last)
            try:
                rows = source.execute(select, (*params, _BATCH)).fetchall()
            except sqlite3.DatabaseError:
                rows = None
            if rows is None:  # a bad page in this stretch: row by row, then jump over it
                try:
                    rows = source.execute(select, (*params, 1)).fetchall()
                except sqlite3.DatabaseError:
                    result.skipped_regions += 1
                    found = _skip_ahead_by_key(source, table, pk, names, last)
                    if found is None:
                        break
                    rows = [found]
            if not rows:
                break
            for row in rows:
                target.execute(insert, row[width:])
                copied += 1
            last = tuple(rows[-1][:width])
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return copied


_KEY_MIN, _KEY_MAX = -(2 ** 62), 2 ** 62


def _skip_ahead_by_key(source: sqlite3.Connection, table: str, pk: list[str], names: str,
                       last: tuple | None) -> tuple | None:
    """The first readable row (key columns, then ``names``) beyond an unreadable stretch after the key
    ``last`` (None: the stretch starts the table), or None. Integer keys only.

    "The first row at or after key K can be read" is false for every K from just after ``last`` to the
    end of the unreadable stretch and true after it, so the smallest K where it is true is found by
    bisection, one key column at a time (the request detail's key is site, time, id): the first column
    value at which reading works, then within the value just before it (rows of that site after the
    stretch) the next column, and so on. About 63 seeks per column."""
    width = len(pk)
    key = ", ".join(f'"{c}"' for c in pk)

    def probe(prefix: tuple) -> tuple[bool, tuple | None]:
        cols = ", ".join(f'"{c}"' for c in pk[:len(prefix)])
        sql = (f'SELECT {key}, {names} FROM "{table}" WHERE ({cols}) >= ({", ".join("?" for _ in prefix)}) '
               f"ORDER BY {key} LIMIT 1")
        try:
            return True, source.execute(sql, prefix).fetchone()
        except sqlite3.DatabaseError:
            return False, None

    last = last if last is not None else (_KEY_MIN - 1,) * width
    if not all(isinstance(v, int) for v in last):
        return None
    prefix: tuple = ()
    found: tuple | None = None
    for depth in range(width):
        lo = last[depth] if prefix == tuple(last[:depth]) else _KEY_MIN - 1  # reading fails at lo (or it is before)
        hi = _KEY_MAX
        readable, found = probe(prefix + (hi,))
        if not readable:
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            readable, row = probe(prefix + (mid,))
            if readable:
                hi, found = mid, row
            else:
                lo = mid
        # ``hi``: the first value of this column from which reading works; rows with the value just
        # before it may still follow the stretch: look among them at the next column.
        if depth == width - 1 or hi - 1 < _KEY_MIN:
            return found
        prefix = prefix + (hi - 1,)
    return found
