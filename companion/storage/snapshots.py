"""Daily snapshots of the database, taken by the running companion with SQLite's backup API.

A snapshot is a complete, self-contained copy (``snapshots/crumbs-<UTC time>.sqlite3`` in the data
folder, mode 0600 like the database, rollback journal rather than WAL so it is one file), checked
with ``quick_check`` before it counts. The last :data:`KEEP` are kept. ``crumbs restore`` puts one
back (:mod:`.recovery`).

The copy is read through its own read-only connection in one backup step: in WAL mode a reader
never blocks the server's writes, and one step sees one consistent state of the database.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from ..periodic import Periodic
from .integrity import quick_check

log = logging.getLogger("crumbs.snapshots")

KEEP = 5
EVERY_S = 24 * 3600.0
DIRNAME = "snapshots"


def snapshot_dir(root: Path) -> Path:
    return Path(root) / DIRNAME


def list_snapshots(root: Path) -> list[Path]:
    """Snapshots of the data folder ``root``, newest first (regular files only)."""
    folder = snapshot_dir(root)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("crumbs-*.sqlite3") if p.is_file() and not p.is_symlink()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def take(database: Path, root: Path, keep: int = KEEP) -> Path:
    """Copy ``database`` into a new snapshot (0600), check it, keep the last ``keep``; return its path."""
    folder = snapshot_dir(root)
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    final = folder / f"crumbs-{stamp}.sqlite3"
    partial = folder / f".partial-{stamp}.sqlite3"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # 0600 before a byte is written
    os.close(fd)
    try:
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(partial)
        try:
            source.backup(target, pages=-1)  # one step: one consistent state
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
            source.close()
        problem = quick_check(partial, budget_s=60.0)
        if problem:
            raise RuntimeError(f"the snapshot failed its check: {problem}")
        os.chmod(partial, 0o600)
        os.replace(partial, final)
    finally:
        if partial.exists():
            partial.unlink()
    for old in list_snapshots(root)[keep:]:
        old.unlink(missing_ok=True)
    return final


def newest_age_s(root: Path) -> float | None:
    snapshots = list_snapshots(root)
    if not snapshots:
        return None
    return time.time() - snapshots[0].stat().st_mtime


class Snapshotter(Periodic):
    """The server's thread that takes a snapshot when the newest is a day old (or there is none)."""

    thread_name = "crumbs-snapshots"

    def __init__(self, store, root: Path, every_s: float = EVERY_S, check_s: float = 600.0, keep: int = KEEP) -> None:
        super().__init__(check_s, first_s=5.0)  # the first look once start-up is done
        self.store = store
        self.root = Path(root)
        self.every_s = every_s
        self.keep = keep

    def due(self) -> bool:
        age = newest_age_s(self.root)
        return age is None or age >= self.every_s

    def tick(self) -> Path | None:
        if not self.due():
            return None
        try:
            made = take(self.store.path, self.root, self.keep)
            log.info("database snapshot: %s", made.name)
            return made
        except Exception as exc:  # a failed snapshot is logged; serving goes on
            log.warning("database snapshot failed: %s", exc)
            return None
