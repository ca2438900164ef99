"""The cache that knows when to recompile the browser's blocking rules from the person's choices and lists.

Compiling is not free (thousands of filters), so the result is cached and rebuilt when
something it depends on changes:

- a choice or the report-only setting (``choices_rev``), or a trust that just expired:
  at once, so a click in the popup reaches the browser with the next request;
- the engine (a list was added, updated or removed): at once;
- the set of filters this person has met (``filters`` table grows): at most every
  ``min_interval`` seconds, since it only reorders which list filters fit.

Every answer of ``/api/v1/events`` carries :meth:`version`, so the extension fetches
``/api/v1/dnr`` only when it differs from what it applied.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ..engine import ParsedFilter, parse_filter
from ..storage import now_ms
from .compiler import CHROME_MAX_RULES, compile_rules
from .redirects import engine_verdict, redirect_rules

if TYPE_CHECKING:
    from ..service import Companion

# Beyond the filters this person met, the list filters offered to the compiler, in list order.
MAX_LIST_FILTERS = 60_000


class BrowserRules:
    """The compiled rules of one companion, with the version the extension compares."""

    def __init__(self, companion: "Companion", min_interval: float = 30.0, max_rules: int = CHROME_MAX_RULES) -> None:
        self.companion = companion
        self.min_interval = min_interval
        self.max_rules = max_rules
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._filters_seen = -1
        self._built_at = 0.0
        self._result: tuple[str, list[dict[str, Any]]] | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._key = None

    def version(self) -> str:
        return self.get()[0]

    def get(self) -> tuple[str, list[dict[str, Any]]]:
        """(version, rules), rebuilt if stale."""
        companion = self.companion
        choices_rev, filters_seen = companion.store.revisions()
        choices = companion.choices(choices_rev)
        now = now_ms()
        trusted_now = tuple(sorted(s for s in choices.trusted if choices.is_trusted(s, now)))
        # The engine object itself, not its id(): an id can be reused once an old engine is freed.
        key = (companion.engine, choices_rev, trusted_now)
        with self._lock:
            fresh = self._result is not None and key == self._key
            if fresh and filters_seen != self._filters_seen and time.monotonic() - self._built_at >= self.min_interval:
                fresh = False
            if fresh:
                return self._result  # type: ignore[return-value]
            self._result = self._compile(choices, trusted_now)
            self._key, self._filters_seen, self._built_at = key, filters_seen, time.monotonic()
            return self._result

    def _compile(self, choices, trusted_now) -> tuple[str, list[dict[str, Any]]]:
        engine = self.companion.engine
        list_filters: list[ParsedFilter] = []
        seen: set[str] = set()
        for _list, text, _n in self.companion.store.met_filters():
            if text not in seen:
                seen.add(text)
                parsed = parse_filter(text)  # the engine parses the filters stored as met
                if parsed is not None:
                    list_filters.append(parsed)
        for parsed, _list in engine.network_filters():
            if len(list_filters) >= MAX_LIST_FILTERS:
                break
            if parsed.text not in seen:
                seen.add(parsed.text)
                list_filters.append(parsed)
        site_tracker = [(s, t, a) for (s, t), a in sorted(choices.site_tracker.items())]
        everywhere = sorted(choices.everywhere.items())
        # Stand-in scripts wherever a block applies (see :mod:`.redirects` for the precedence).
        redirects = redirect_rules(site_tracker=site_tracker, everywhere=everywhere,
                                   report_only=choices.report_only, lists=engine_verdict(engine))
        return compile_rules(
            site_tracker=site_tracker,
            trusted_sites=list(trusted_now),
            everywhere=everywhere,
            list_filters=list_filters,
            report_only=choices.report_only,
            max_rules=self.max_rules,
            redirects=redirects,
        )

