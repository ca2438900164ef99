"""The person's choices: per site and tracker, per tracker everywhere, trusted sites.

One upsert per table (:meth:`ChoicesMixin._put_site_tracker` and friends) serves both a single
change and an import, and every change bumps ``settings['choices_rev']`` in the same
transaction, so the server and the browser rules notice it whichever process made it.
"""
from __future__ import annotations

from typing import Any

from ..policy import ACTIONS, TRUST_DURATIONS_MS, Choices
from ..sites import refuse_public_suffix
from .schema import now_ms


class ChoicesMixin:
    """Part of :class:`companion.storage.Store`."""

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
                self._put_site_tracker(site, tracker, action, now_ms())
            self._bump_choices()

    def set_tracker(self, tracker: str, action: str | None) -> None:
        """Allow or block ``tracker`` on every site; ``None`` clears the choice."""
        with self.transaction():
            if action is None:
                self.conn.execute("DELETE FROM tracker_choices WHERE tracker = ?", (tracker,))
            else:
                _check_action(action)
                self._put_tracker(tracker, action, now_ms())
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
                self._put_trust(site, until, created)
            self._bump_choices()
            return until

    def import_choices(self, site_tracker: list[tuple[str, str, str]], everywhere: list[tuple[str, str]],
                       trusted: list[tuple[str, int | None]]) -> int:
        """Apply already-checked choices (site, tracker, action), (tracker, action), (site, until):
        all or nothing, through the same upserts as a single change. Returns how many were applied."""
        now = now_ms()
        with self.transaction():
            for site, tracker, action in site_tracker:
                _check_action(action)
                self._put_site_tracker(site, tracker, action, now)
            for tracker, action in everywhere:
                _check_action(action)
                self._put_tracker(tracker, action, now)
            for site, until in trusted:
                self._put_trust(site, until, now)
            self._bump_choices()  # the server and the browser rules pick the change up
        return len(site_tracker) + len(everywhere) + len(trusted)

    # The one upsert per table (inside a transaction). Each refuses a public suffix (sites.PublicSuffix)
    # whoever the caller: every single change and every import comes through here. Removing one
    # stays possible, so a choice stored before this check can still be taken back.

    def _put_site_tracker(self, site: str, tracker: str, action: str, created: int) -> None:
        refuse_public_suffix(site)
        refuse_public_suffix(tracker)
        self.conn.execute(
            """INSERT INTO site_tracker_choices (site, tracker, action, created) VALUES (?,?,?,?)
               ON CONFLICT (site, tracker) DO UPDATE SET action = excluded.action, created = excluded.created""",
            (site, tracker, action, created),
        )

    def _put_tracker(self, tracker: str, action: str, created: int) -> None:
        refuse_public_suffix(tracker)
        self.conn.execute(
            """INSERT INTO tracker_choices (tracker, action, created) VALUES (?,?,?)
               ON CONFLICT (tracker) DO UPDATE SET action = excluded.action, created = excluded.created""",
            (tracker, action, created),
        )

    def _put_trust(self, site: str, until: int | None, created: int) -> None:
        refuse_public_suffix(site)
        self.conn.execute(
            """INSERT INTO trusted_sites (site, until, created) VALUES (?,?,?)
               ON CONFLICT (site) DO UPDATE SET until = excluded.until, created = excluded.created""",
            (site, until, created),
        )

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


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
