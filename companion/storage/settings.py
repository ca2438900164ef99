"""Key/value settings and the extension's pairing codes (stored as hashes only)."""
from __future__ import annotations

from .schema import now_ms


class SettingsMixin:
    """Part of :class:`companion.storage.Store`."""

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


