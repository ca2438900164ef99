"""The connection: one SQLite connection per process, a lock, transactions, migrations and interning."""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import integrity
from .schema import MIGRATION_REBUILDS_TABLES, MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import sqlite_utils

# The WAL file is truncated back to this many bytes whenever it restarts (PRAGMA journal_size_limit).
WAL_SIZE_LIMIT = 8 * 1024 * 1024  # above the ~4.1 MB of a 1,000-page WAL: a WAL of normal size is reused in place, never cut
# With a checkpointer thread, SQLite's own checkpoint only fires past this many WAL pages (32 MB).
BACKSTOP_CHECKPOINT_PAGES = 8192

class StoreBase:
    """The companion's database. Thread-safe: one connection, serialised by a lock.

    SQLite allows one writer at a time anyway; a single connection keeps the interning
    caches coherent and avoids ``database is locked`` between the server's own threads.
    Other processes (the CLI) open their own :class:`Store` on the same file.
    """

    def __init__(self, path: str | os.PathLike[str], defer_check_above: int | None = None) -> None:
        """Open (or create) the database at ``path``. A damaged one, or a missing/empty one where data
        was written before, raises :class:`~.integrity.DatabaseDamaged` and is left untouched.
        ``defer_check_above``: a bigger file (bytes) is not quick-checked here (``fully_checked`` is then
        False: the caller checks it later), unless a migration is due."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Before SQLite writes anything to the file.
        self.fully_checked = integrity.check(self.path, defer_above=defer_check_above)
        fresh = not self.path.exists()
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)  # a person's browsing history: readable by them only
        self._db: sqlite_utils.Database | None = None
        self.conn = conn
        self.lock = threading.RLock()
        self._host_ids: dict[str, int] = {}
        self._domain_ids: dict[str, int] = {}
        self._filter_ids: dict[tuple[str, str], int] = {}
        self._caches_loaded = False
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Index pages of a big history stay in memory, so recording into millions of rows stays fast.
            conn.execute("PRAGMA cache_size=-65536")
            # After a checkpoint lets the WAL restart, cut the file back to this size (see .checkpoint).
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self._migrate()
        except integrity.DatabaseDamaged:  # the whole check a due migration waits for found damage
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            damage = integrity.damage_of(self.path, exc)
            if damage is not None:
                raise damage from None
            raise
        integrity.mark_written(self.path)

    @property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the connection, made on first use: the migrations take it; every other
        query uses ``conn``. Not imported at start: it brings dateutil, pluggy and more, about
        0.05-0.1 s of `crumbs serve`'s start before its first answer (issue 14, item 5)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer Crumbs (schema {version}, this one knows {SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION and not self.fully_checked:  # a migration rewrites: only a sound file
            self.fully_checked = integrity.check(self.path)
        for number in range(version, SCHEMA_VERSION):
            migration = MIGRATIONS[number]
            rebuilt = MIGRATION_REBUILDS_TABLES.get(migration)
            if rebuilt:
                self.conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before it
            try:
                with self.transaction():
                    migration(self.db)
                    for table in rebuilt or ():
                        broken = self.conn.execute(f"PRAGMA foreign_key_check({table})").fetchone()
                        if broken is not None:
                            raise sqlite3.IntegrityError(f"migration {number + 1} left {table} referring to "
                                                         f"a missing {broken[2]} row; nothing was changed")
                    self.conn.execute(f"PRAGMA user_version = {number + 1}")
            finally:
                if rebuilt:
                    self.conn.execute("PRAGMA foreign_keys=ON")

    def leave_checkpoints_to_thread(self) -> None:
        """A :class:`~companion.storage.checkpoint.Checkpointer` runs: the automatic checkpoint (which would
        run inside a recording batch's commit) only as the backstop, far past the thread's threshold."""
        with self.lock:
            self.conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def transaction(self) -> "Transaction":
        """``with store.transaction():`` runs the block as one SQLite transaction under the lock."""
        return Transaction(self)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _data_version(self) -> int:
        """SQLite's count of commits by other connections (caller holds the lock): what this process keeps
        of the file (the history's sums, the popup's site groups) must follow them."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    # The page cache of a reader (KiB): what a history page or an export reads passes through once.
    READER_CACHE_KIB = 2048

    @contextmanager
    def reader(self, cache_kib: int | None = None, any_thread: bool = False) -> Iterator[sqlite3.Connection]:
        """A read-only connection of its own, in one read transaction (one snapshot), closed after.

        For reads over months of history (sums, a site's detail, exports, scans): they do not hold the
        store's lock, so recording goes on meanwhile (WAL), and their pages pass through a small cache
        of their own instead of filling the store's 64 MB one: a busy site's detail over all days made
        the server 24 MB bigger for good (bench_memory, issue 14). ``any_thread``: the connection may be
        used by another thread than the one opening it (one at a time)."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, isolation_level=None,
                               check_same_thread=not any_thread)
        try:
            conn.execute(f"PRAGMA cache_size=-{cache_kib or self.READER_CACHE_KIB}")
            conn.execute("BEGIN")
            yield conn
        finally:
            conn.close()  # a read transaction has nothing to commit: closing ends it

    # -- interning ------------------------------------------------------------------------

    # Every recorded request names a host, a site and maybe a filter; the ids are cached in
    # memory. The caches start complete (loaded once: a person meets thousands of hosts, not
    # millions), so a miss means a new name and costs one INSERT rather than SELECT + INSERT.
    _PRELOAD_LIMIT = 500_000

    def _ensure_caches(self) -> None:
        if self._caches_loaded:
            return
        conn = self.conn
        sizes = conn.execute(
            "SELECT (SELECT max(id) FROM domains), (SELECT max(id) FROM hosts), (SELECT max(id) FROM filters)"
        ).fetchone()
        if all((n or 0) <= self._PRELOAD_LIMIT for n in sizes):
            self._domain_ids = dict(conn.execute("SELECT name, id FROM domains"))
            self._host_ids = dict(conn.execute("SELECT name, id FROM hosts"))
            self._filter_ids = {(l, t): i for l, t, i in conn.execute("SELECT list, text, id FROM filters")}
        self._caches_loaded = True

    def _intern(self, cache: dict, key: Any, insert: str, select: str, params: tuple) -> int:
        found = cache.get(key)
        if found is not None:
            return found
        cursor = self.conn.execute(insert + " ON CONFLICT DO NOTHING", params)
        if cursor.rowcount == 1:
            found = cursor.lastrowid
        else:  # known after all (a cache too big to preload, or another process added it)
            found = self.conn.execute(select, params[:2] if isinstance(key, tuple) else params[:1]).fetchone()[0]
        cache[key] = found
        return found

    def domain_id(self, name: str) -> int:
        return self._intern(
            self._domain_ids, name, "INSERT INTO domains (name) VALUES (?)", "SELECT id FROM domains WHERE name = ?", (name,)
        )

    def host_id(self, name: str, domain: str) -> int:
        found = self._host_ids.get(name)
        if found is not None:
            return found
        return self._intern(
            self._host_ids, name, "INSERT INTO hosts (name, domain_id) VALUES (?, ?)",
            "SELECT id FROM hosts WHERE name = ?", (name, self.domain_id(domain)),
        )

    def filter_id(self, list_name: str, text: str) -> int:
        return self._intern(
            self._filter_ids, (list_name, text), "INSERT INTO filters (list, text) VALUES (?, ?)",
            "SELECT id FROM filters WHERE list = ? AND text = ?", (list_name, text),
        )

    def _forget_caches(self) -> None:
        self._host_ids = {}
        self._domain_ids = {}
        self._filter_ids = {}
        self._caches_loaded = False


class Transaction:
    """``with store.transaction():`` - BEGIN IMMEDIATE under the lock, COMMIT or ROLLBACK."""

    def __init__(self, store: "StoreBase") -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store.lock.acquire()
        try:
            self.store.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store.lock.release()
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.store.conn.execute("COMMIT")
            else:
                self.store.conn.execute("ROLLBACK")
                # Ids handed out inside the failed transaction no longer exist.
                self.store._forget_caches()
        finally:
            self.store.lock.release()


