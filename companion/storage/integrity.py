"""A damaged database is never replaced or reset silently.

At open, :func:`check` looks at the file before SQLite writes anything to it:

- the data folder holds a marker (:data:`MARKER`) once the database there was written successfully;
  with the marker, a missing or zero-length database is data lost, not a first start;
- a file that does not start with SQLite's header is not a database (a garbage header);
- ``PRAGMA quick_check`` (bounded in time: a huge history is not read end to end at every start)
  finds truncated files and corrupted pages. ``crumbs serve`` runs it before it listens on a
  database up to :data:`START_CHECK_MAX_BYTES`; a bigger one passes the checks above at once and
  is quick-checked in the background (``Companion.start_background_check``): damage found then
  makes every answer a 503 with the same one-line reason. A pending migration is never run on a
  file that was not checked whole (``Store``).

Each of these raises :class:`DatabaseDamaged`, whose message is one line that says what is wrong and
the way out (``crumbs repair`` salvages what can be read, ``crumbs restore`` puts back a snapshot).
The same error answers a corruption met later (:func:`damage_of`), e.g. a page that goes bad while
serving: the web layer answers 503 with that reason, and nothing already committed is touched.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

MARKER = ".{name}.has-data"  # next to the database: it was written successfully once
SQLITE_HEADER = b"SQLite format 3\x00"
QUICK_CHECK_BUDGET_S = 5.0
# The largest database `crumbs serve` quick-checks before it listens (issue 14: first answer within
# 1 s): about 0.05 s of reading. Not a time budget: SQLite (3.40) walks each B-tree in one step that
# no progress handler interrupts, 0.1-0.3 s of the 0.4-0.7 s a million-request history (61 MB) takes.
START_CHECK_MAX_BYTES = 16 * 1024 * 1024
# The background check of a bigger database: long, but still bounded.
BACKGROUND_CHECK_BUDGET_S = 600.0
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)
_CORRUPT_WORDS = ("malformed", "not a database", "disk image", "database corrupt", "file is encrypted")


class DatabaseDamaged(RuntimeError):
    """The database is damaged or gone while data was expected; the message is one line with the way out."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        super().__init__(
            f"the database {self.path} {what}; nothing was changed. Run 'crumbs repair' to salvage what can "
            f"be read (the damaged file is kept aside), or 'crumbs restore' to put back the latest snapshot."
        )


def marker_path(database: Path) -> Path:
    database = Path(database)
    return database.parent / MARKER.format(name=database.name)


def mark_written(database: Path) -> None:
    """Note that this data folder now holds data (called once the schema is committed)."""
    marker = marker_path(database)
    if not marker.exists():
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, b"A Crumbs database was written here; if it goes missing or empty, Crumbs refuses to start.\n")
            os.close(fd)
        except FileExistsError:
            pass


def is_damage(exc: BaseException) -> bool:
    """True if an sqlite3 error says the file is corrupt or not a database (not a constraint or a lock)."""
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, sqlite3.IntegrityError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in _CORRUPT_CODES:
        return True
    return any(word in str(exc).lower() for word in _CORRUPT_WORDS)


def damage_of(path: Path, exc: BaseException) -> DatabaseDamaged | None:
    """The :class:`DatabaseDamaged` an sqlite3 error stands for, or None if it is not about a damaged file."""
    if is_damage(exc):
        return DatabaseDamaged(path, f"is damaged ({str(exc)[:80]})")
    return None


def check(path: Path, budget_s: float = QUICK_CHECK_BUDGET_S, defer_above: int | None = None) -> bool:
    """Refuse (raise :class:`DatabaseDamaged`) a database that is gone, empty, not SQLite or corrupt
    while data was expected. A first start (no marker, no file or an empty one) passes.

    ``defer_above``: a file bigger than this many bytes gets the fast checks only and no ``quick_check``
    (the caller runs it later). Returns True when the check is complete, False when ``quick_check``
    was deferred or ran out of its ``budget_s`` before the end of the file (what it read was sound)."""
    path = Path(path)
    # A folder from before the marker existed: its lists/ folder is made only after the database was
    # written successfully, so it says the same.
    expected = marker_path(path).exists() or (path.parent / "lists").is_dir()
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        if expected:
            raise DatabaseDamaged(path, "is missing although this data folder held data") from None
        return True
    if size == 0:
        if expected:
            raise DatabaseDamaged(path, "is empty (0 bytes) although this data folder held data")
        return True
    with open(path, "rb") as handle:
        header = handle.read(100)
    if not header.startswith(SQLITE_HEADER):
        raise DatabaseDamaged(path, "is not an SQLite database (its header is damaged)")
    if defer_above is not None and size > defer_above:
        return False
    problem, complete = timed_quick_check(path, budget_s)
    if problem:
        raise DatabaseDamaged(path, f"is damaged ({problem[:80]})")
    return complete


def quick_check(path: Path, budget_s: float = QUICK_CHECK_BUDGET_S) -> str | None:
    """``PRAGMA quick_check`` on a read-only connection, for at most ``budget_s`` seconds; the first
    problem found, or None when it is ok (or the budget ran out: a slow check does not block start-up)."""
    return timed_quick_check(path, budget_s)[0]


def readonly_uri(path: Path) -> str:
    """The URI that opens ``path`` read-only: resolved and percent-encoded, since SQLite reads ``?`` and
    ``#`` in a ``file:`` name as the URI's query and fragment, and cannot open a name whose ``../`` climb
    above ``/`` (``../../etc/passwd`` typed in ``/tmp``), which the file system allows."""
    return f"{Path(path).resolve().as_uri()}?mode=ro"


def timed_quick_check(path: Path, budget_s: float) -> tuple[str | None, bool]:
    """:func:`quick_check`, also saying whether it got to the end (False: out of time, nothing found so far)."""
    conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=10)
    started = time.monotonic()
    conn.set_progress_handler(lambda: 1 if time.monotonic() - started > budget_s else 0, 10_000)
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return None, False  # out of time, not a finding
        if is_damage(exc):
            return str(exc), True
        raise
    except sqlite3.DatabaseError as exc:
        return str(exc), True
    finally:
        conn.close()
    if rows == [("ok",)]:
        return None, True
    return "; ".join(str(r[0]) for r in rows), True
