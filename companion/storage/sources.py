"""The ``knowledge_sources`` table: the knowledge-source registry's rows, and ``settings['sources_rev']``."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Columns an update may write (never name or url: those identify the source).
_UPDATABLE = frozenset({"format", "entries", "updated", "last_checked", "last_error", "etag", "last_modified",
                        "sha256"})


class SourcesMixin:
    """Part of :class:`companion.storage.Store`."""

    def source_rows(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every source row (or the one named ``name``), in the order they were added (their precedence)."""
        with self.lock:
            if name is None:
                cursor = self.conn.execute("SELECT * FROM knowledge_sources ORDER BY added, name")
            else:
                cursor = self.conn.execute("SELECT * FROM knowledge_sources WHERE name = ?", (name,))
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def add_source(self, name: str, url: str, added: int) -> None:
        with self.transaction():
            self.conn.execute("INSERT INTO knowledge_sources (name, url, added) VALUES (?, ?, ?)", (name, url, added))

    def delete_source(self, name: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM knowledge_sources WHERE name = ?", (name,))

    def update_source(self, name: str, fields: Mapping[str, Any]) -> None:
        """Write an update's outcome (only the columns in ``_UPDATABLE``)."""
        fields = {k: v for k, v in fields.items() if k in _UPDATABLE}
        if not fields:
            return
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self.conn.execute(f"UPDATE knowledge_sources SET {assignments} WHERE name = ?", (*fields.values(), name))

    def sources_rev(self) -> int:
        with self.lock:
            row = self.conn.execute("SELECT value FROM settings WHERE key = 'sources_rev'").fetchone()
        return int(row[0]) if row else 0

    def bump_sources_rev(self) -> None:
        with self.transaction():
            self.conn.execute(
                """INSERT INTO settings (key, value) VALUES ('sources_rev', '1')
                   ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
            )
