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

    def take_pairing_code(self, code_hash: str) -> bool:
        """Consume a valid code (single use). A wrong code changes nothing: guessing is bounded by the
        server's throttle (auth.PairingThrottle), never by killing the live codes (issue 15)."""
        with self.transaction():
            self.conn.execute("DELETE FROM pairing_codes WHERE expires < ?", (now_ms(),))
            return self.conn.execute("DELETE FROM pairing_codes WHERE code_hash = ?", (code_hash,)).rowcount == 1


