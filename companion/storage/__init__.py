"""The SQLite database, the only place with SQL: every recorded request, the person's choices and settings.

Shape, chosen to stay small and fast at millions of rows:

- ``requests`` holds one narrow row per reported request: integers only, about 30 bytes
  (site, time in ms, id, host, kind, filter). Host names, sites and filters are *interned* in
  ``hosts``, ``domains`` and ``filters`` and referred to by id; the booleans of a verdict, its
  type and its decider are packed into one ``kind`` integer (:mod:`.schema` says which bits).
  No full URL is kept: the history needs who and where, not what page path. What the pages
  show beyond that (owner, category, the domain of a host) is derived when read.
- ``daily`` keeps per-day totals per (site, third-party domain), maintained in the same
  transaction as the detail, so history pages over long periods read a few thousand
  rows instead of millions, and detail can be pruned (retention) while totals stay.
- Choices (``site_tracker_choices``, ``tracker_choices``, ``trusted_sites``) and
  ``settings`` live in the same file. ``settings['choices_rev']`` is bumped on every
  change of a choice, by whichever process makes it (the CLI while the server runs),
  so the server notices with one indexed read per batch and reloads.

Durability: WAL journal with ``synchronous=FULL``; a batch is one transaction, and
:meth:`Store.record` returns only after it committed, so whatever the API acknowledged
survives a killed server. What was committed but never acknowledged comes again, and is recorded
once: the batch's transaction also moves its streams' high-water marks (:mod:`.delivered`). The
server checkpoints the WAL in a background thread (:mod:`.checkpoint`), so a recording batch does
not pay for copying pages back, and the WAL file is capped (``journal_size_limit``) after a big
transaction.

The detail is one B-tree clustered on ``(site_id, time, id)`` (``WITHOUT ROWID``, migration 8): the
site page's range reads walk the rows themselves, and no index stores the key a second time (with
the daily totals, about 42 bytes per request at a million). Retention deletes each site's oldest range
in small transactions; migrations 5 and 8 dropped the time and host indexes and the separate
(site_id, time) index.

Schema changes go through :data:`MIGRATIONS`, applied in order and tracked by
``PRAGMA user_version``: a database made by any earlier release is upgraded in place.

Rooms: :mod:`.schema` (tables, flags, migrations), :mod:`.base` (connection, transactions,
interning), :mod:`.events` (recording, and the popup's answer for a site, whose groups
:mod:`.sitegroups` keeps for the sites asked lately), :mod:`.delivered` (which reported events were recorded
already: the highest seq per stream), :mod:`.choices`, :mod:`.settings` (and pairing codes),
:mod:`.sessions` (web sign-in), :mod:`.history` (questions about the past, forgetting, retention),
:mod:`.lists` (the filter-list registry), :mod:`.sources` (the knowledge-source registry),
:mod:`.breakage` ("Page broken?" reports), :mod:`.integrity` (a damaged
database is refused, never reset), :mod:`.snapshots` (daily backups) and :mod:`.recovery` (``crumbs repair`` /
``crumbs restore``).
"""
from __future__ import annotations

from .base import StoreBase, Transaction
from .breakage import BreakageMixin
from .choices import ChoicesMixin
from .delivered import DeliveredMixin
from .settings import SettingsMixin
from .events import EventsMixin, RecordedEvent
from .history import HistoryMixin
from .integrity import DatabaseDamaged
from .lists import ListsMixin
from .schema import (BLOCKED, BROWSER_BLOCKED, DAY_MS, DECIDED_CODES, DECIDED_NAMES, EXCEPTION, MIGRATIONS,
                     MIN_TIME_MS, OUTCOME, RULE_BLOCKED, SAME_OWNER, SCHEMA_VERSION, THIRD_PARTY, TRACKER, TYPE_CODES, TYPE_NAMES, day_of, day_start, now_ms)
from .sessions import SessionsMixin
from .sources import SourcesMixin


class Store(EventsMixin, DeliveredMixin, ChoicesMixin, SettingsMixin, SessionsMixin, HistoryMixin, ListsMixin, SourcesMixin,
            BreakageMixin, StoreBase):
    """The companion's database. Thread-safe: one connection, serialised by a lock.

    SQLite allows one writer at a time anyway; a single connection keeps the interning
    caches coherent and avoids ``database is locked`` between the server's own threads.
    Other processes (the CLI) open their own :class:`Store` on the same file.
    """


__all__ = [
    "Store", "DatabaseDamaged", "RecordedEvent", "Transaction", "now_ms", "MIGRATIONS", "SCHEMA_VERSION",
    "THIRD_PARTY", "TRACKER", "BLOCKED", "SAME_OWNER", "BROWSER_BLOCKED", "EXCEPTION", "RULE_BLOCKED", "OUTCOME",
    "TYPE_CODES", "TYPE_NAMES", "DECIDED_CODES", "DECIDED_NAMES", "DAY_MS", "MIN_TIME_MS", "day_of",
    "day_start",
]
