"""The SQLite database: every recorded request, the person's choices and settings.

Shape, chosen to stay small and fast at millions of rows:

- ``requests`` holds one narrow row per reported request: integers only. Host names,
  sites and filters are *interned* in ``hosts``, ``domains`` and ``filters`` and referred
  to by id, and the booleans of a verdict are packed into one ``flags`` integer.
  No full URL is kept: the history needs who and where, not what page path.
- ``daily`` keeps per-day totals per (site, third-party domain), maintained in the same
  transaction as the detail, so history pages over long periods read a few thousand
  rows instead of millions, and detail can be pruned (retention) while totals stay.
- Choices (``site_tracker_choices``, ``tracker_choices``, ``trusted_sites``) and
  ``settings`` live in the same file. ``settings['choices_rev']`` is bumped on every
  change of a choice, by whichever process makes it (the CLI while the server runs),
  so the server notices with one indexed read per batch and reloads.

Durability: WAL journal with ``synchronous=FULL``; a batch is one transaction, and
:meth:`Store.record` returns only after it committed, so whatever the API acknowledged
survives a killed server.

Schema changes go through :data:`MIGRATIONS`, applied in order and tracked by
``PRAGMA user_version``: a database made by any earlier release is upgraded in place.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from .breakage import migrate as _breakage_migration
from .classify import DECIDED_BY, REQUEST_TYPES, Verdict
from .policy import ACTIONS, TRUST_DURATIONS_MS, Choices

# Bits of requests.flags.
THIRD_PARTY, TRACKER, BLOCKED, SAME_OWNER, BROWSER_BLOCKED, EXCEPTION = 1, 2, 4, 8, 16, 32

TYPE_CODES = {name: i for i, name in enumerate(REQUEST_TYPES)}
TYPE_NAMES = {i: name for name, i in TYPE_CODES.items()}
DECIDED_CODES = {name: i for i, name in enumerate(DECIDED_BY)}
DECIDED_NAMES = {i: name for name, i in DECIDED_CODES.items()}

DAY_MS = 86_400_000


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    # Not executescript(): it commits on its own, and a migration must be all or nothing.
    for statement in script.split(";"):
        if statement.strip():
            db.conn.execute(statement)


def _migration_1(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE domains (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE hosts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            domain_id INTEGER NOT NULL REFERENCES domains(id)
        );
        CREATE INDEX hosts_domain ON hosts(domain_id);
        CREATE TABLE filters (
            id INTEGER PRIMARY KEY,
            list TEXT NOT NULL,
            text TEXT NOT NULL,
            UNIQUE (list, text)
        );
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,              -- epoch milliseconds
            site_id INTEGER REFERENCES domains(id),  -- the page's registrable domain, NULL when unknown
            host_id INTEGER NOT NULL REFERENCES hosts(id),
            type INTEGER NOT NULL,              -- TYPE_CODES
            flags INTEGER NOT NULL,             -- THIRD_PARTY | TRACKER | BLOCKED | ...
            decided_by INTEGER NOT NULL,        -- DECIDED_CODES
            filter_id INTEGER REFERENCES filters(id)
        );
        CREATE INDEX requests_time ON requests(time);
        CREATE INDEX requests_site_time ON requests(site_id, time);
        CREATE INDEX requests_host_time ON requests(host_id, time);
        CREATE TABLE daily (
            day INTEGER NOT NULL,               -- epoch days (UTC)
            site_id INTEGER NOT NULL,           -- 0 for requests with no known page
            domain_id INTEGER NOT NULL,         -- the request's registrable domain
            requests INTEGER NOT NULL,
            trackers INTEGER NOT NULL,          -- of which classified third-party trackers
            blocked INTEGER NOT NULL,
            PRIMARY KEY (day, site_id, domain_id)
        ) WITHOUT ROWID;
        CREATE INDEX daily_domain ON daily(domain_id, day);
        CREATE TABLE site_tracker_choices (
            site TEXT NOT NULL, tracker TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('allow', 'block')),
            created INTEGER NOT NULL,
            PRIMARY KEY (site, tracker)
        );
        CREATE TABLE tracker_choices (
            tracker TEXT PRIMARY KEY,
            action TEXT NOT NULL CHECK (action IN ('allow', 'block')),
            created INTEGER NOT NULL
        );
        CREATE TABLE trusted_sites (site TEXT PRIMARY KEY, until INTEGER, created INTEGER NOT NULL);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE pairing_codes (code_hash TEXT PRIMARY KEY, expires INTEGER NOT NULL, tries INTEGER NOT NULL DEFAULT 0);
        """
    )


def _migration_2(db: sqlite_utils.Database) -> None:
    # Filter list subscriptions (companion/lists.py) and history-page sign-in (companion/web/history).
    _run_script(
        db,
        """
        CREATE TABLE lists (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('shipped', 'url', 'file')),
            source TEXT NOT NULL,               -- URL, absolute path, or the shipped file's name
            enabled INTEGER NOT NULL DEFAULT 1,
            added INTEGER NOT NULL,
            updated INTEGER,                    -- when the version in force was fetched/read (epoch ms)
            expires_ms INTEGER,                 -- the list's own '! Expires:' as a duration
            etag TEXT, last_modified TEXT,      -- for conditional requests
            sha256 TEXT,                        -- of the version in force
            used INTEGER, skipped INTEGER, rejected INTEGER,
            last_checked INTEGER, last_error TEXT
        );
        CREATE TABLE web_sessions (id_hash TEXT PRIMARY KEY, csrf TEXT NOT NULL, expires INTEGER NOT NULL);
        CREATE TABLE signin_codes (code_hash TEXT PRIMARY KEY, expires INTEGER NOT NULL)
        """,
    )


# Migration 3 lives with its feature: the breakage reports' tables (companion/breakage.py).
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1, _migration_2, _breakage_migration]
SCHEMA_VERSION = len(MIGRATIONS)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class RecordedEvent:
    """One event to record: the decided verdict and when the browser saw it."""

    verdict: Verdict
    time: int  # epoch ms
    browser_blocked: bool = False


class Store:
    """The companion's database. Thread-safe: one connection, serialised by a lock.

    SQLite allows one writer at a time anyway; a single connection keeps the interning
    caches coherent and avoids ``database is locked`` between the server's own threads.
    Other processes (the CLI) open their own :class:`Store` on the same file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)  # a person's browsing history: readable by them only
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        self.lock = threading.RLock()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Index pages of a big history stay in memory, so recording into millions of rows stays fast.
        conn.execute("PRAGMA cache_size=-65536")
        self._host_ids: dict[str, int] = {}
        self._domain_ids: dict[str, int] = {}
        self._filter_ids: dict[tuple[str, str], int] = {}
        self._caches_loaded = False
        self._migrate()

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer Crumbs (schema {version}, this one knows {SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                MIGRATIONS[number](self.db)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def transaction(self) -> "_Transaction":
        """``with store.transaction():`` runs the block as one SQLite transaction under the lock."""
        return _Transaction(self)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

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

    # -- recording ------------------------------------------------------------------------

    def record(self, events: Sequence[RecordedEvent]) -> None:
        """Record a batch in one transaction; returns once it is committed (durable)."""
        if not events:
            return
        rows = []
        totals: dict[tuple[int, int, int], list[int]] = {}
        with self.transaction():
            self._ensure_caches()
            for event in events:
                v = event.verdict
                site_id = self.domain_id(v.page_domain) if v.page_domain else None
                host_id = self.host_id(v.host, v.domain)
                filter_id = self.filter_id(v.list, v.filter) if v.filter and v.list else None
                flags = (
                    (THIRD_PARTY if v.third_party else 0)
                    | (TRACKER if v.tracker else 0)
                    | (BLOCKED if v.blocked or event.browser_blocked else 0)
                    | (SAME_OWNER if v.same_owner else 0)
                    | (BROWSER_BLOCKED if event.browser_blocked else 0)
                    | (EXCEPTION if v.exception else 0)
                )
                rows.append((event.time, site_id, host_id, TYPE_CODES[v.type], flags, DECIDED_CODES[v.decided_by], filter_id))
                key = (event.time // DAY_MS, site_id or 0, self.domain_id(v.domain))
                total = totals.setdefault(key, [0, 0, 0])
                total[0] += 1
                total[1] += 1 if v.tracker else 0
                total[2] += 1 if flags & BLOCKED else 0
            self.conn.executemany(
                "INSERT INTO requests (time, site_id, host_id, type, flags, decided_by, filter_id) VALUES (?,?,?,?,?,?,?)",
                rows,
            )
            self.conn.executemany(
                """INSERT INTO daily (day, site_id, domain_id, requests, trackers, blocked) VALUES (?,?,?,?,?,?)
                   ON CONFLICT (day, site_id, domain_id) DO UPDATE SET
                     requests = requests + excluded.requests,
                     trackers = trackers + excluded.trackers,
                     blocked = blocked + excluded.blocked""",
                [(*key, *t) for key, t in totals.items()],
            )

    def count_requests(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(*) FROM requests").fetchone()[0]

    # -- reading --------------------------------------------------------------------------

    def site_third_parties(self, site: str) -> list[dict[str, Any]]:
        """Every third-party domain seen on ``site``: counts, first and last seen (epoch ms), filters that decided."""
        with self.lock:
            row = self.conn.execute("SELECT id FROM domains WHERE name = ?", (site,)).fetchone()
            if row is None:
                return []
            cursor = self.conn.execute(
                """
                SELECT d.name AS domain, count(*) AS requests,
                       sum((r.flags & ?) != 0) AS trackers, sum((r.flags & ?) != 0) AS blocked,
                       min(r.time) AS first_seen, max(r.time) AS last_seen,
                       group_concat(DISTINCT h.name) AS hosts
                FROM requests r JOIN hosts h ON h.id = r.host_id JOIN domains d ON d.id = h.domain_id
                WHERE r.site_id = ? AND (r.flags & ?) != 0
                GROUP BY h.domain_id ORDER BY requests DESC
                """,
                (TRACKER, BLOCKED, row[0], THIRD_PARTY),
            )
            columns = [c[0] for c in cursor.description]
            return [
                dict(zip(columns, r)) | {"hosts": sorted(r[-1].split(","))} for r in cursor.fetchall()
            ]

    def met_filters(self, limit: int | None = None) -> list[tuple[str, str, int]]:
        """The filters that decided verdicts for this person, most-met first: (list, text, times)."""
        with self.lock:
            sql = """SELECT f.list, f.text, count(*) AS n FROM requests r JOIN filters f ON f.id = r.filter_id
                     GROUP BY r.filter_id ORDER BY n DESC"""
            if limit:
                sql += f" LIMIT {int(limit)}"
            return [tuple(r) for r in self.conn.execute(sql)]

    def revisions(self) -> tuple[int, int]:
        """(choices_rev, newest filter id) in one read: what the browser rules depend on, checked per batch."""
        with self.lock:
            rev, newest = self.conn.execute(
                "SELECT (SELECT value FROM settings WHERE key = 'choices_rev'), (SELECT max(id) FROM filters)"
            ).fetchone()
        return int(rev or 0), newest or 0

    # -- choices --------------------------------------------------------------------------

    def choices_rev(self) -> int:
        with self.lock:
            row = self.conn.execute("SELECT value FROM settings WHERE key = 'choices_rev'").fetchone()
        return int(row[0]) if row else 0

    def _bump_choices(self) -> None:
        self.conn.execute(
            """INSERT INTO settings (key, value) VALUES ('choices_rev', '1')
               ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
        )

    def set_site_tracker(self, site: str, tracker: str, action: str | None) -> None:
        """Allow or block ``tracker`` on ``site``; ``None`` clears the choice (back to default)."""
        with self.transaction():
            if action is None:
                self.conn.execute("DELETE FROM site_tracker_choices WHERE site = ? AND tracker = ?", (site, tracker))
            else:
                _check_action(action)
                self.conn.execute(
                    """INSERT INTO site_tracker_choices (site, tracker, action, created) VALUES (?,?,?,?)
                       ON CONFLICT (site, tracker) DO UPDATE SET action = excluded.action, created = excluded.created""",
                    (site, tracker, action, now_ms()),
                )
            self._bump_choices()

    def set_tracker(self, tracker: str, action: str | None) -> None:
        """Allow or block ``tracker`` on every site; ``None`` clears the choice."""
        with self.transaction():
            if action is None:
                self.conn.execute("DELETE FROM tracker_choices WHERE tracker = ?", (tracker,))
            else:
                _check_action(action)
                self.conn.execute(
                    """INSERT INTO tracker_choices (tracker, action, created) VALUES (?,?,?)
                       ON CONFLICT (tracker) DO UPDATE SET action = excluded.action, created = excluded.created""",
                    (tracker, action, now_ms()),
                )
            self._bump_choices()

    def set_trust(self, site: str, duration: str | None) -> int | None:
        """Trust ``site`` for ``hour``, ``day`` or ``always``; ``None`` revokes. Returns the expiry (epoch ms) or None."""
        with self.transaction():
            until = None
            if duration is None:
                self.conn.execute("DELETE FROM trusted_sites WHERE site = ?", (site,))
            else:
                if duration not in TRUST_DURATIONS_MS:
                    raise ValueError(f"trust duration must be one of {', '.join(TRUST_DURATIONS_MS)}")
                span = TRUST_DURATIONS_MS[duration]
                created = now_ms()
                until = None if span is None else created + span
                self.conn.execute(
                    """INSERT INTO trusted_sites (site, until, created) VALUES (?,?,?)
                       ON CONFLICT (site) DO UPDATE SET until = excluded.until, created = excluded.created""",
                    (site, until, created),
                )
            self._bump_choices()
            return until

    def choices(self) -> Choices:
        """A snapshot of every choice and the report-only setting."""
        with self.lock:
            site_tracker = {
                (s, t): a for s, t, a in self.conn.execute("SELECT site, tracker, action FROM site_tracker_choices")
            }
            everywhere = dict(self.conn.execute("SELECT tracker, action FROM tracker_choices").fetchall())
            trusted = dict(self.conn.execute("SELECT site, until FROM trusted_sites").fetchall())
        return Choices(site_tracker, everywhere, trusted, report_only=self.get_setting("report_only") == "1")

    def list_choices(self, now: int | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every choice, for people and for the API (expired trust is shown as expired, not hidden)."""
        now = now_ms() if now is None else now
        with self.lock:
            return {
                "site_tracker": [
                    {"site": s, "tracker": t, "action": a, "created": c}
                    for s, t, a, c in self.conn.execute(
                        "SELECT site, tracker, action, created FROM site_tracker_choices ORDER BY site, tracker"
                    )
                ],
                "everywhere": [
                    {"tracker": t, "action": a, "created": c}
                    for t, a, c in self.conn.execute("SELECT tracker, action, created FROM tracker_choices ORDER BY tracker")
                ],
                "trusted": [
                    {"site": s, "until": u, "created": c, "active": u is None or u > now}
                    for s, u, c in self.conn.execute("SELECT site, until, created FROM trusted_sites ORDER BY site")
                ],
            }

    # -- settings -------------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
            if key == "report_only":
                self._bump_choices()

    # -- pairing codes --------------------------------------------------------------------

    def add_pairing_code(self, code_hash: str, expires: int) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM pairing_codes WHERE expires < ?", (now_ms(),))
            self.conn.execute("INSERT OR REPLACE INTO pairing_codes (code_hash, expires) VALUES (?, ?)", (code_hash, expires))

    def take_pairing_code(self, code_hash: str, max_tries: int) -> bool:
        """Consume a valid code (single use). A wrong code counts a try against every live code."""
        with self.transaction():
            now = now_ms()
            self.conn.execute("DELETE FROM pairing_codes WHERE expires < ? OR tries >= ?", (now, max_tries))
            if self.conn.execute("SELECT 1 FROM pairing_codes WHERE code_hash = ?", (code_hash,)).fetchone():
                self.conn.execute("DELETE FROM pairing_codes WHERE code_hash = ?", (code_hash,))
                return True
            self.conn.execute("UPDATE pairing_codes SET tries = tries + 1")
            return False


class _Transaction:
    def __init__(self, store: Store) -> None:
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


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
