"""The person's data: export (JSON, CSV), forgetting, retention, and importing an exported choices file.

Every statement is in :mod:`companion.storage`; choices given for import are checked here with the
site rule of :mod:`companion.sites` before the store applies them, all or nothing.
"""
from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..policy import ACTIONS, TRUST_DURATIONS_MS
from ..sites import NotANetworkURL, site_of
from ..storage import MIN_TIME_MS, day_of, day_start, now_ms
from .periods import day_to_iso

DEFAULT_RETENTION_DAYS = 90
RETENTION_CHOICES = (7, 30, 90, 365, 0)  # 0: keep the detail for ever
# Said of any refused value, a form's text included: the person learns what to type, not Python's int() error.
_DAYS = [str(d) for d in RETENTION_CHOICES if d]
RETENTION_REASON = (f"days must be a whole number, one of {', '.join(_DAYS[:-1])} or {_DAYS[-1]} "
                    "(0: keep the detail for ever)")
RETENTION_KEY = "retention_days"
RETENTION_RUN_KEY = "retention_last_run"
RETENTION_EVERY_MS = 3_600_000  # retention runs at most hourly (the server's thread, or the next page opened)
# One retention run at a time in this process: two would walk the same sites, and the store keeps one run's
# state (the hosts recorded meanwhile) while it goes.
_RETENTION_RUN = threading.Lock()


class DataMixin:
    """Part of :class:`companion.history.History`."""

    # -- export ---------------------------------------------------------------------------

    REQUEST_COLUMNS = ("id", "time", "site", "host", "domain", "type", "third_party", "tracker", "blocked",
                       "same_owner", "browser_blocked", "exception", "blocked_by_rule", "outcome_reported", "decided_by",
                       "filter", "list", "flags")
    DAILY_COLUMNS = ("day", "date", "site", "domain", "requests", "trackers", "blocked", "reached")

    def iter_requests(self) -> Iterator[dict[str, Any]]:
        """Every stored request, names resolved, flags spelled out (and kept raw), by site then time."""
        return self.store.iter_requests()

    def iter_daily(self) -> Iterator[dict[str, Any]]:
        for row in self.store.iter_daily():
            yield {**row, "date": day_to_iso(row["day"])}

    def export_json(self) -> Iterator[str]:
        """Everything stored, as one JSON document produced in pieces (a million rows never sit in memory)."""
        head = {"format": "crumbs-history", "version": 1, "exported": now_ms(),
                "choices": self.store.list_choices(), "settings": self.settings()}
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "requests": ['
        for i, row in enumerate(self.iter_requests()):
            yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
        yield '], "daily": ['
        for i, row in enumerate(self.iter_daily()):
            yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
        yield "]}\n"

    def export_csv(self, table: str = "requests") -> Iterator[str]:
        """One table as CSV; cells a spreadsheet would run as a formula are neutralised."""
        columns, rows = (self.DAILY_COLUMNS, self.iter_daily()) if table == "daily" else \
            (self.REQUEST_COLUMNS, self.iter_requests())
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for i, row in enumerate(rows):
            writer.writerow([csv_cell(row[c]) for c in columns])
            if i % 2000 == 1999:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    # -- forgetting -----------------------------------------------------------------------

    def forget_site(self, site: str) -> dict[str, int]:
        """Delete every request made on ``site`` and its daily totals."""
        return self._after_forget(self.store.forget_site(site))

    def forget_tracker(self, domain: str) -> dict[str, int]:
        """Delete every request to ``domain`` (any of its hosts, on any site) and its daily totals."""
        return self._after_forget(self.store.forget_domain(domain))

    def forget_days(self, first_day: int, last_day: int) -> dict[str, int]:
        """Delete whole days, ``first_day`` to ``last_day`` included (whole days keep the totals exact)."""
        return self._after_forget(self.store.forget_days(first_day, last_day))

    def forget_everything(self) -> dict[str, int]:
        """Delete all history (choices and settings are kept: they are what Crumbs does, not what it saw)."""
        return self._after_forget(self.store.forget_everything())

    def _after_forget(self, removed: dict[str, int]) -> dict[str, int]:
        self.invalidate()
        return removed

    # -- retention ------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {"retention_days": self.retention_days()}

    def retention_days(self) -> int:
        value = self.store.get_setting(RETENTION_KEY)
        try:
            days = int(value) if value is not None else DEFAULT_RETENTION_DAYS
        except ValueError:
            days = DEFAULT_RETENTION_DAYS
        return days if days >= 0 else DEFAULT_RETENTION_DAYS

    def set_retention_days(self, days: int | str) -> None:
        """Keep request detail for ``days`` (one of RETENTION_CHOICES; a form's text is read here too)."""
        if isinstance(days, str):
            days = int(days) if days.strip().isdecimal() else -1
        if isinstance(days, bool) or days not in RETENTION_CHOICES:
            raise ValueError(RETENTION_REASON)
        self.store.set_setting(RETENTION_KEY, str(days))

    def apply_retention(self, now: int | None = None) -> dict[str, int]:
        """Delete request detail older than the retention (whole days); the daily totals stay. The marks
        of the extension's streams gone quiet for a month go too (storage/delivered.py), whatever the
        retention: they are no history, only what tells a resent report from a new one. Waits for a run
        already under way."""
        with _RETENTION_RUN:
            return self._apply_retention(now)

    def apply_retention_if_due(self, now: int | None = None,
                               stop: Callable[[], bool] | None = None) -> dict[str, int] | None:
        """:meth:`apply_retention` when the last run is an hour old; None when it is not, or when a run is
        under way (the caller does not wait for it: a page, the server's thread). ``stop`` ends the run
        between two of its transactions (the server stopping); it is then not counted as run."""
        if not self.retention_due(now) or not _RETENTION_RUN.acquire(blocking=False):
            return None
        try:
            return self._apply_retention(now, stop) if self.retention_due(now) else None  # (or one just finished)
        finally:
            _RETENTION_RUN.release()

    def _apply_retention(self, now: int | None, stop: Callable[[], bool] | None = None) -> dict[str, int]:
        now = now_ms() if now is None else now
        days = self.retention_days()
        removed = {"requests": 0, "hosts": 0, "domains": 0, "filters": 0}
        if days:
            cutoff = day_start(day_of(now) - days + 1)  # keep today and the days-1 before it
            removed.update(self.store.delete_detail_before(cutoff, stop))
        if stop is not None and stop():
            return removed  # cut short: the next run (next start) goes on from here
        removed["streams"] = self.store.forget_quiet_streams(now)
        self.store.set_setting(RETENTION_RUN_KEY, str(now))
        return removed

    def retention_due(self, now: int | None = None, every_ms: int = RETENTION_EVERY_MS) -> bool:
        now = now_ms() if now is None else now
        last = self.store.get_setting(RETENTION_RUN_KEY)
        return last is None or not last.isdigit() or now - int(last) >= every_ms

    # -- choices import -------------------------------------------------------------------

    def import_choices(self, data: Any) -> int:
        """Apply choices exported by the choices page (the shape of ``Store.list_choices``); all or nothing."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object with site_tracker, everywhere and trusted lists")
        site_tracker = [(_dom(i, "site"), _dom(i, "tracker"), _action(i)) for i in _items(data, "site_tracker")]
        everywhere = [(_dom(i, "tracker"), _action(i)) for i in _items(data, "everywhere")]
        now = now_ms()
        trusted = [(_dom(item, "site"), _until(item, now)) for item in _items(data, "trusted")]
        return self.store.import_choices(site_tracker, everywhere, trusted)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (or tab/CR) gets a leading quote."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return "" if value is None else value


def _items(data: dict, key: str) -> list[dict]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"'{key}' must be a list of objects")
    return items


def _dom(item: dict, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a domain name")
    try:
        return site_of(value)
    except NotANetworkURL as exc:
        raise ValueError(f"{value[:80]!r} is not a domain: {exc}") from None


# The latest expiry a trust made now can have: an exported file holds expiries up to its export time plus this.
_LONGEST_TRUST_MS = max(span for span in TRUST_DURATIONS_MS.values() if span is not None)


def _until(item: dict, now: int) -> int | None:
    """A trusted site's expiry (epoch ms; None: always), within the bounds a reported event's time has
    (service.parse_event): from 2000, and no later than the longest trust made now. -5 was imported and
    listed as "expired 1969-12-31"; an expiry years ahead would be a trust no duration can make."""
    until = item.get("until")
    if until is None:
        return None
    if isinstance(until, float) and until.is_integer():  # JSON writers may spell 1700000000000 as 1.7e12
        until = int(until)
    if isinstance(until, bool) or not isinstance(until, int) or not MIN_TIME_MS <= until <= now + _LONGEST_TRUST_MS:
        raise ValueError(f"'until' of a trusted site must be null (always) or epoch milliseconds from 2000 to "
                         f"{_LONGEST_TRUST_MS // 3_600_000} hours from now, not {str(until)[:40]}")
    return until


def _action(item: dict) -> str:
    action = item.get("action")
    if action not in ACTIONS:
        raise ValueError(f"'action' must be one of {', '.join(ACTIONS)}")
    return action
