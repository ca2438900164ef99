"""Periods the pages show (today, 7 days, 30 days, all) as day numbers, and dates in and out."""
from __future__ import annotations

from dataclasses import dataclass

from ..storage import day_of, now_ms

PERIODS: dict[str, tuple[str, int | None]] = {
    "today": ("today", 1),
    "7d": ("the last 7 days", 7),
    "30d": ("the last 30 days", 30),
    "all": ("all the time kept", None),
}
DEFAULT_PERIOD = "7d"


@dataclass(frozen=True)
class Period:
    """A span of whole days (local, see :func:`companion.storage.schema.day_of`), the unit of the ``daily`` table. ``first_day`` None: from the beginning."""

    key: str
    label: str
    first_day: int | None
    last_day: int

    @property
    def days(self) -> range:
        return range(self.first_day if self.first_day is not None else self.last_day, self.last_day + 1)


def period(key: str | None, now: int | None = None) -> Period:
    """The named period ending today (unknown names fall back to the default)."""
    return period_ending(key, day_of(now_ms() if now is None else now))


def period_ending(key: str | None, day: int) -> Period:
    """The named period ending on ``day`` (unknown names fall back to the default)."""
    key = key if key in PERIODS else DEFAULT_PERIOD
    label, days = PERIODS[key]
    return Period(key, label, None if days is None else day - days + 1, day)


def day_to_iso(day: int) -> str:
    import datetime as _dt

    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()


def iso_to_day(text: str) -> int:
    """``YYYY-MM-DD`` → epoch day; raises ValueError with a readable reason."""
    import datetime as _dt

    try:
        return (_dt.date.fromisoformat(text.strip()) - _dt.date(1970, 1, 1)).days
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date like 2026-07-31") from None
