"""The database's shape: flag bits, code tables and the migrations that build and upgrade it.

Schema changes go through :data:`MIGRATIONS`, applied in order and tracked by
``PRAGMA user_version``: a database made by any earlier release is upgraded in place.
"""
from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: sqlite_utils is imported when a migration runs (storage/base.py)
    import sqlite_utils

from ..classify import DECIDED_BY, REQUEST_TYPES

# Bits of requests.flags. BLOCKED: the browser stopped the request (what it did, from the reported
# outcome); before schema 3 it was set from the companion's verdict too. RULE_BLOCKED: the
# companion's decision was to block (what was meant). OUTCOME: the extension reported the outcome.
THIRD_PARTY, TRACKER, BLOCKED, SAME_OWNER, BROWSER_BLOCKED, EXCEPTION = 1, 2, 4, 8, 16, 32
RULE_BLOCKED, OUTCOME = 64, 128

# Since schema 8 a request's flags, type and decider share one integer, requests.kind (2 bytes on
# disk where three columns took 4-5 and their header bytes): the flags are its low 8 bits (so
# ``kind & TRACKER`` tests a flag as ``flags & TRACKER`` did), the type code the next 4, the
# decider code the 3 above them.
FLAGS_MASK = 0xFF
TYPE_SHIFT, TYPE_MASK = 8, 0xF
DECIDED_SHIFT = 12

TYPE_CODES = {name: i for i, name in enumerate(REQUEST_TYPES)}
TYPE_NAMES = {i: name for name, i in TYPE_CODES.items()}
DECIDED_CODES = {name: i for i, name in enumerate(DECIDED_BY)}
DECIDED_NAMES = {i: name for name, i in DECIDED_CODES.items()}

DAY_MS = 86_400_000
# The earliest time Crumbs takes as real (2000-01-01): a reported event's, an imported trust expiry's.
# Browser clocks drift, but anything before it is garbage (a negative number, seconds for milliseconds).
MIN_TIME_MS = 946_684_800_000
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def day_of(ms: int) -> int:
    """The day number (days since 1970-01-01) of an epoch-ms time in this machine's time zone.

    Days are the person's days: 'today' and the daily totals begin at local midnight, as the times
    the pages show do (issue 10). Totals recorded before schema 4 were counted in UTC days.
    """
    return (ms + time.localtime(ms / 1000).tm_gmtoff * 1000) // DAY_MS


def day_start(day: int) -> int:
    """Epoch ms of local midnight at the start of ``day`` (a day number of :func:`day_of`)."""
    date = datetime.date.fromordinal(day + _EPOCH_ORDINAL)
    return int(time.mktime((date.year, date.month, date.day, 0, 0, 0, 0, 0, -1)) * 1000)


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
    # Filter list subscriptions (companion/lists/) and history-page sign-in (companion/auth.py, storage/sessions.py).
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


def _migration_3(db: sqlite_utils.Database) -> None:
    # "Page broken?" reports (companion/breakage.py, storage/breakage.py): when, which site, and the
    # tracker domains the browser had blocked on the page then. Registrable domains only.
    _run_script(
        db,
        """
        CREATE TABLE breakage_reports (
            id INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,              -- epoch ms
            site TEXT NOT NULL                  -- registrable domain of the page
        );
        CREATE INDEX breakage_reports_site ON breakage_reports(site);
        CREATE INDEX breakage_reports_time ON breakage_reports(time);
        CREATE TABLE breakage_trackers (
            report_id INTEGER NOT NULL REFERENCES breakage_reports(id) ON DELETE CASCADE,
            tracker TEXT NOT NULL,              -- registrable domain blocked on the page then
            PRIMARY KEY (report_id, tracker)
        ) WITHOUT ROWID;
        CREATE INDEX breakage_trackers_tracker ON breakage_trackers(tracker)
        """,
    )


def _migration_4(db: sqlite_utils.Database) -> None:
    # Per-request outcome (issue 10): a request counts as blocked from what the browser did, never
    # from the verdict alone. daily.reached counts requests that left the browser; every reported
    # request is reached or blocked (cache hits and failures are not reported), so for rows written
    # from now on requests = reached + blocked. Rows written before kept 'blocked' as it was counted
    # then (the verdict or the browser), and what was not blocked was shown as allowed: that is
    # what they keep saying (reached = requests - blocked), and their detail rows are marked as
    # blocked by rule where they were blocked, without the OUTCOME bit.
    columns = {row[1] for row in db.conn.execute("PRAGMA table_info(daily)")}
    if "reached" not in columns:
        db.conn.execute("ALTER TABLE daily ADD COLUMN reached INTEGER NOT NULL DEFAULT 0")
    # Which sign-in code opened a session: a used link opened again in the browser that holds the
    # session it created goes to the history instead of saying 'already used' (issue 10, item 11).
    if "code_hash" not in {row[1] for row in db.conn.execute("PRAGMA table_info(web_sessions)")}:
        db.conn.execute("ALTER TABLE web_sessions ADD COLUMN code_hash TEXT")
    db.conn.execute("UPDATE daily SET reached = requests - blocked")
    # (A file already in migration 8's shape whose version was set back by hand has no flags column.)
    if "flags" in {row[1] for row in db.conn.execute("PRAGMA table_info(requests)")}:
        db.conn.execute(f"UPDATE requests SET flags = flags | {RULE_BLOCKED} WHERE (flags & {BLOCKED}) != 0")


def _migration_5(db: sqlite_utils.Database) -> None:
    # Smaller and faster at millions of requests (issue 14): of the three indexes on the detail only
    # (site_id, time) answers a page (a site's detail). The time index served retention and the
    # host index the orphan-host check; retention now walks the table in id order (ids follow
    # recording order) and finds orphan hosts with one scan on a read connection, outside the write
    # lock. Each index cost about 20 bytes per request and one more B-tree written per recorded request.
    _run_script(
        db,
        """
        DROP INDEX IF EXISTS requests_time;
        DROP INDEX IF EXISTS requests_host_time
        """,
    )


def _migration_6(db: sqlite_utils.Database) -> None:
    # Knowledge sources (companion/lists/sources.py): public tracker databases the person added, whose
    # owners and categories fill in where the shipped knowledge base has none. Downloaded like lists.
    _run_script(
        db,
        """
        CREATE TABLE IF NOT EXISTS knowledge_sources (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            added INTEGER NOT NULL,             -- epoch ms, also the order of precedence
            format TEXT,                        -- "disconnect" | "tds", once a version was read
            entries INTEGER,                    -- tracker entries in the version in force
            updated INTEGER, last_checked INTEGER, last_error TEXT,
            etag TEXT, last_modified TEXT, sha256 TEXT
        )
        """,
    )


def _rebuild_table(db: sqlite_utils.Database, table: str, columns: str, definition: str) -> None:
    """Give ``table`` a new ``definition`` with the same rows and ids: SQLite's way to change what ALTER
    TABLE cannot. Run with foreign keys off (MIGRATION_REBUILDS_TABLES): the DROP would otherwise cascade
    into the rows referring to the table. Its indexes go with the old table; the caller makes them again."""
    _run_script(db, f"CREATE TABLE {table}_rebuilt ({definition})")
    # The DROP takes the table's line in sqlite_sequence with it; a table that already had AUTOINCREMENT
    # (a file whose version was set back by hand) keeps the highest id it ever handed out, not max(id).
    sequence = None
    if "AUTOINCREMENT" in definition:  # then sqlite_sequence exists (the CREATE above makes it)
        sequence = db.conn.execute("SELECT max(seq) FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()[0]
    _run_script(
        db,
        f"""
        INSERT INTO {table}_rebuilt ({columns}) SELECT {columns} FROM {table};
        DROP TABLE {table};
        ALTER TABLE {table}_rebuilt RENAME TO {table}
        """,
    )
    if sequence is not None:
        db.conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (sequence, table))
        db.conn.execute("INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
                        "(SELECT 1 FROM sqlite_sequence WHERE name = ?)", (table, sequence, table))


def _migration_7(db: sqlite_utils.Database) -> None:
    # Ids are never reused (issue 15, item 4): without AUTOINCREMENT SQLite hands out max(id) + 1, so
    # after "forget everything" (or forgetting the newest host) a new name gets an id that an old one
    # had - and anything still holding the old id (a cache, an export, a second process) would then
    # name the wrong host. AUTOINCREMENT keeps the highest id ever used in sqlite_sequence. SQLite
    # cannot add it to a table in place: each small name table is rebuilt with the same ids (the
    # detail's references stay valid), with foreign keys off (see MIGRATION_REBUILDS_TABLES).
    for table, columns, definition in (
        ("domains", "id, name", "id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE"),
        ("hosts", "id, name, domain_id",
         "id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, "
         "domain_id INTEGER NOT NULL REFERENCES domains(id)"),
        ("filters", "id, list, text",
         "id INTEGER PRIMARY KEY AUTOINCREMENT, list TEXT NOT NULL, text TEXT NOT NULL, UNIQUE (list, text)"),
    ):
        _rebuild_table(db, table, columns, definition)
    db.conn.execute("CREATE INDEX IF NOT EXISTS hosts_domain ON hosts(domain_id)")


def _migration_8(db: sqlite_utils.Database) -> None:
    # Under 50 bytes per recorded request (issue 14, item 3). The detail was a rowid table (~40 bytes a
    # row) plus its (site_id, time) index (~20 more, filled at random, so with slack). It becomes one
    # B-tree clustered on that same key: the site page's range reads walk the rows themselves, a
    # site's rows for a day are neighbours (retention deletes a few pages per site, not one index entry
    # per page), and nothing is stored twice. Flags, type and decider are packed into ``kind``; a
    # request with no known page gets site 0 (a key column cannot be NULL), as in ``daily``. ``id``
    # keeps recording order and makes the key unique; WITHOUT ROWID hands out no ids, so the next one
    # is kept in settings (``requests_next_id``) and taken in each recording transaction.
    # Copied in key order (through the old index: NULL sites sort first, as 0 does), so the new tree is
    # written from left to right.
    if "kind" in {row[1] for row in db.conn.execute("PRAGMA table_info(requests)")}:
        return  # already in this shape (a file whose version number was set back by hand)
    _run_script(
        db,
        f"""
        CREATE TABLE requests_v8 (
            site_id INTEGER NOT NULL,           -- domains.id of the page's site, 0 when the browser did not say
            time INTEGER NOT NULL,              -- epoch milliseconds (the browser's)
            id INTEGER NOT NULL,                -- recording order, unique
            host_id INTEGER NOT NULL REFERENCES hosts(id),
            kind INTEGER NOT NULL,              -- flags | type << {TYPE_SHIFT} | decided_by << {DECIDED_SHIFT}
            filter_id INTEGER REFERENCES filters(id),
            PRIMARY KEY (site_id, time, id)
        ) WITHOUT ROWID;
        INSERT INTO requests_v8 (site_id, time, id, host_id, kind, filter_id)
            SELECT coalesce(site_id, 0), time, id, host_id,
                   (flags & {FLAGS_MASK}) | (type << {TYPE_SHIFT}) | (decided_by << {DECIDED_SHIFT}), filter_id
            FROM requests ORDER BY site_id, time, id;
        INSERT INTO settings (key, value)
            SELECT 'requests_next_id', coalesce(max(id), 0) + 1 FROM requests WHERE true
            ON CONFLICT (key) DO UPDATE SET value = excluded.value;
        DROP TABLE requests;
        ALTER TABLE requests_v8 RENAME TO requests
        """,
    )


def _migration_9(db: sqlite_utils.Database) -> None:
    # Report ids are never reused either (as names' since schema 7): without AUTOINCREMENT, forgetting
    # the newest "Page broken?" report gave its id to the next one, so a page or a second process still
    # holding the old id would forget or show the wrong report. Rebuilt with the same ids; the trackers'
    # rows keep referring to them (their reference names the table, which the rebuilt one takes over).
    # Tracker rows whose report is gone (a salvage copies tables with foreign keys off) said nothing
    # anyone could read, and would fail the reference check the rebuild is held to: they go.
    db.conn.execute("DELETE FROM breakage_trackers WHERE report_id NOT IN (SELECT id FROM breakage_reports)")
    _rebuild_table(
        db, "breakage_reports", "id, time, site",
        "id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, site TEXT NOT NULL",
    )
    _run_script(
        db,
        """
        CREATE INDEX IF NOT EXISTS breakage_reports_site ON breakage_reports(site);
        CREATE INDEX IF NOT EXISTS breakage_reports_time ON breakage_reports(time)
        """,
    )


def _migration_10(db: sqlite_utils.Database) -> None:
    # Exactly-once recording. The extension numbers its reports: a stream per worker start, and in it
    # a seq that grows with its queue's order (extension/src/reporting.js). A batch recorded whose
    # answer never came back (the companion killed after the commit, the extension's 5 s timeout), or
    # a copy of the queue saved a moment before its batch was delivered, is sent again; the highest
    # seq recorded per stream, moved in the batch's own transaction, tells those events from new ones
    # (storage/delivered.py). ``seen``: epoch ms of the stream's last batch, for forgetting streams
    # gone quiet.
    _run_script(
        db,
        """
        CREATE TABLE IF NOT EXISTS delivered (
            stream TEXT PRIMARY KEY,            -- the extension's random id of one worker's reports
            seq INTEGER NOT NULL,               -- the highest seq of that stream recorded
            seen INTEGER NOT NULL               -- epoch ms of the last batch that moved it
        ) WITHOUT ROWID
        """,
    )


# Migrations that rebuild a table run with foreign keys off (SQLite's documented way to change a
# table's definition: a DROP TABLE would otherwise check, or cascade into, the rows referring to it),
# and the rebuilt tables' references are checked before the migration commits.
MIGRATION_REBUILDS_TABLES = {_migration_7: ("hosts",), _migration_9: ("breakage_trackers",)}

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6, _migration_7, _migration_8,
    _migration_9, _migration_10,
]
SCHEMA_VERSION = len(MIGRATIONS)


def now_ms() -> int:
    return int(time.time() * 1000)
