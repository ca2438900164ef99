"""The ``lists`` table: the filter-list registry's rows, and ``settings['lists_rev']``."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Columns an update may write (never name, kind, source: those identify the list).
_UPDATABLE = frozenset({"updated", "expires_ms", "etag", "last_modified", "sha256", "last_checked", "last_error"})


class ListsMixin:
    """Part of :class:`companion.storage.Store`."""

    def list_rows(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every registry row (or the one named ``name``), oldest first."""
        with self.lock:
            if name is None:
                cursor = self.conn.execute("SELECT * FROM lists ORDER BY added, name")
            else:
                cursor = self.conn.execute("SELECT * FROM lists WHERE name = ? ORDER BY added, name", (name,))
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def sync_shipped_lists(self, shipped: Mapping[str, str]) -> list[str]:
        """Register every shipped list (name -> file name) and drop shipped rows whose file went.
        Returns the names a person's list already holds (kept as the person's)."""
        clashes = []
        with self.transaction():
            rows = {name: kind for name, kind in self.conn.execute("SELECT name, kind FROM lists")}
            for name, source in shipped.items():
                if name not in rows:
                    self.conn.execute(
                        "INSERT INTO lists (name, kind, source, enabled, added) VALUES (?, 'shipped', ?, 1, ?)",
                        (name, source, 0),
                    )
                elif rows[name] != "shipped":
                    clashes.append(name)
            for name, kind in rows.items():
                if kind == "shipped" and name not in shipped:
                    self.conn.execute("DELETE FROM lists WHERE name = ?", (name,))
        return clashes

    def add_list(self, name: str, kind: str, source: str, added: int) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO lists (name, kind, source, enabled, added) VALUES (?, ?, ?, 1, ?)", (name, kind, source, added)
            )

    def set_list_enabled(self, name: str, enabled: bool) -> None:
        with self.transaction():
            self.conn.execute("UPDATE lists SET enabled = ? WHERE name = ?", (int(enabled), name))

    def delete_list(self, name: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM lists WHERE name = ?", (name,))

    def update_list(self, name: str, fields: Mapping[str, Any]) -> None:
        """Write an update's outcome (only the columns in ``_UPDATABLE``; others are ignored)."""
        fields = {k: v for k, v in fields.items() if k in _UPDATABLE}
        if not fields:
            return
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self.conn.execute(f"UPDATE lists SET {assignments} WHERE name = ?", (*fields.values(), name))

    def record_list_stats(self, stats: Mapping[str, tuple[int, int, int]]) -> None:
        """name -> (used, skipped, rejected) as the engine counted them."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE lists SET used = ?, skipped = ?, rejected = ? WHERE name = ?",
                [(*counts, name) for name, counts in stats.items()],
            )

    def bump_lists_rev(self) -> None:
        with self.transaction():
            self.conn.execute(
                """INSERT INTO settings (key, value) VALUES ('lists_rev', '1')
                   ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
            )
