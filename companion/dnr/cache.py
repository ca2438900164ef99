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

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..engine import ParsedFilter, parse_filter
from ..storage import now_ms
from .compiler import CHROME_MAX_RULES, compile_rules
from .redirects import engine_verdict, redirect_rules

if TYPE_CHECKING:
    from ..service import Companion

# The rules saved on disk are reused only by the same compiling code.
_CODE_KEY = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()[:16]

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
        self._refreshing = False

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
            if self._result is None:
                self._load_saved(key, choices_rev, trusted_now)
            fresh = self._result is not None and key == self._key
            if fresh and filters_seen != self._filters_seen and time.monotonic() - self._built_at >= self.min_interval:
                if self.min_interval <= 0:
                    fresh = False
                else:
                    # Only the order of list filters would change: keep answering with these rules
                    # and recompile in the background (seconds with big lists: no batch waits for it).
                    self._refresh_in_background(key, choices, trusted_now, filters_seen)
            if fresh:
                return self._result  # type: ignore[return-value]
            self._result = self._compile(choices, trusted_now)
            self._key, self._filters_seen, self._built_at = key, filters_seen, time.monotonic()
            self._save(choices_rev, trusted_now)
            return self._result

    # -- background refresh and the copy on disk ------------------------------------------

    def _refresh_in_background(self, key, choices, trusted_now, filters_seen) -> None:
        """Recompile for newly met filters in a thread; caller holds the lock."""
        if self._refreshing:
            return
        self._refreshing = True
        self._built_at = time.monotonic()  # no second refresh until this one is over and the interval passed

        def work() -> None:
            try:
                result = self._compile(choices, trusted_now)
                with self._lock:
                    if self._key == key:  # no choice or engine change overtook it
                        self._result, self._filters_seen, self._built_at = result, filters_seen, time.monotonic()
                        self._save(key[1], trusted_now)
            finally:
                self._refreshing = False

        threading.Thread(target=work, name="crumbs-dnr-refresh", daemon=True).start()

    def _saved_key(self, choices_rev: int, trusted_now: tuple) -> list | None:
        source = getattr(self.companion.engine, "source_key", None)
        if source is None or self.companion.paths is None:
            return None
        return [_CODE_KEY, source, choices_rev, list(trusted_now), self.max_rules]

    def _saved_file(self):
        return self.companion.paths.cache / "dnr-rules.json"

    def _load_saved(self, key, choices_rev: int, trusted_now: tuple) -> None:
        """The rules compiled by an earlier run, if they were compiled from the same lists, code and choices:
        a restarted server answers its first batch at once instead of compiling for seconds."""
        wanted = self._saved_key(choices_rev, trusted_now)
        if wanted is None:
            return
        try:
            saved = orjson.loads(self._saved_file().read_bytes())
        except (OSError, ValueError):
            return
        if not isinstance(saved, dict) or saved.get("key") != wanted:
            return
        self._result = (saved["version"], saved["rules"])
        self._key, self._filters_seen, self._built_at = key, saved["filters_seen"], time.monotonic()

    def _save(self, choices_rev: int, trusted_now: tuple) -> None:
        wanted = self._saved_key(choices_rev, trusted_now)
        if wanted is None or self._result is None:
            return
        path = self._saved_file()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            # The rules name the person's sites and choices: readable by them only, like the database.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps({"key": wanted, "filters_seen": self._filters_seen,
                                           "version": self._result[0], "rules": self._result[1]}))
            tmp.replace(path)
        except OSError:
            pass  # only a start-up shortcut: without it the next start compiles

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

