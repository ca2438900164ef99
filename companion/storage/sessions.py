"""Web sign-in: one-time sign-in codes and the sessions they open (both stored as hashes only).

The hashing and the secrets themselves are :mod:`companion.auth`'s job; this room only keeps rows.
"""
from __future__ import annotations

from .schema import now_ms


class SessionsMixin:
    """Part of :class:`companion.storage.Store`."""

    def add_signin_code(self, code_hash: str, expires: int) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM signin_codes WHERE expires < ?", (now_ms(),))
            self.conn.execute("INSERT INTO signin_codes (code_hash, expires) VALUES (?, ?)", (code_hash, expires))

    def open_session(self, code_hash: str, session_hash: str, csrf: str, expires: int) -> bool:
        """Consume a live sign-in code (single use) and store the session it opens; False: no such code."""
        with self.transaction():
            now = now_ms()
            self.conn.execute("DELETE FROM signin_codes WHERE expires < ?", (now,))
            if self.conn.execute("DELETE FROM signin_codes WHERE code_hash = ?", (code_hash,)).rowcount != 1:
                return False
            self.conn.execute("DELETE FROM web_sessions WHERE expires < ?", (now,))
            self.conn.execute("INSERT INTO web_sessions (id_hash, csrf, expires, code_hash) VALUES (?, ?, ?, ?)",
                              (session_hash, csrf, expires, code_hash))
        return True

    def session_opened_by(self, session_hash: str, code_hash: str) -> bool:
        """True when a live session was opened by that (now used) sign-in code."""
        with self.lock:
            return self.conn.execute(
                "SELECT 1 FROM web_sessions WHERE id_hash = ? AND code_hash = ? AND expires > ?",
                (session_hash, code_hash, now_ms()),
            ).fetchone() is not None

    def session_csrf(self, session_hash: str) -> str | None:
        """The CSRF token of a live session, or None when it is unknown or expired."""
        with self.lock:
            row = self.conn.execute(
                "SELECT csrf FROM web_sessions WHERE id_hash = ? AND expires > ?", (session_hash, now_ms())
            ).fetchone()
        return row[0] if row else None

    def end_session(self, session_hash: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM web_sessions WHERE id_hash = ?", (session_hash,))
