"""The companion as one object: classify, decide and record, shared by the web layer and the CLI.

:class:`Companion` owns the store, the filter engine and the tracker knowledge base. It
keeps a snapshot of the person's choices and reloads it when ``choices_rev`` in the
database moves, so a choice made by another process (``crumbs block`` while ``crumbs serve``
runs) applies to the very next event without a restart.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import auth, breakage
from .classify import REQUEST_TYPES, Classifier, Verdict, normalise_type
from .config import DataPaths
from .sites import MAX_URL_LENGTH, NotANetworkURL
from .engine import Engine
from .history.sums import outcome_state
from .history.views import why_it_got_through
from .knowledge import Knowledge, merged
from .lists import Lists, Sources
from .policy import Choices, decide
from .storage import MIN_TIME_MS, RecordedEvent, Store, now_ms
from .storage.checkpoint import Checkpointer
from .surrogates import for_hosts
from .storage import integrity
from .storage.integrity import DatabaseDamaged, damage_of
from .trackerdb import TrackerDB

log = logging.getLogger("crumbs")

MAX_BATCH = 1000
_ABSENT = object()  # a key the event does not have (null is a value, and a wrong one for stream and seq)


class InvalidEvent(ValueError):
    """One event of a batch is malformed; the message says why, for the API's per-event error."""


@dataclass(slots=True)
class Event:
    url: str
    page_url: str | None
    type: str
    tab_id: int | None
    time: int
    browser_blocked: bool  # the outcome: the browser's rules stopped it (else it left the browser)
    outcome_reported: bool = False
    stream: str | None = None  # the extension's numbering, by which a resent event is known (storage/delivered.py)
    seq: int | None = None


# What the browser did with a reported request. Cache hits and failures never left the browser
# and are not reported at all (extension/README.md says how each webRequest outcome is counted).
OUTCOMES = ("reached", "blocked")


_SHARED_TYPES = frozenset(REQUEST_TYPES)
# Browser clocks drift, but an event from before 2000 (MIN_TIME_MS) or more than a day ahead is garbage.
_DAY_MS = 86_400_000
# A stream: the extension's random id of one worker's reports; a seq: a JavaScript safe integer.
_STREAM = re.compile(r"[A-Za-z0-9_-]{1,64}").fullmatch
MAX_SEQ = 2**53 - 1
# The streams already found well formed: every event of a batch names the same one or two, and the
# pattern's check costs ~0.2 us an event where a set lookup costs ~0.02 (bench_record). Bounded.
_GOOD_STREAMS: set[str] = set()
_GOOD_STREAMS_MAX = 1024


def _good_stream(stream: str) -> bool:
    if not _STREAM(stream):
        return False
    if len(_GOOD_STREAMS) >= _GOOD_STREAMS_MAX:
        _GOOD_STREAMS.clear()
    _GOOD_STREAMS.add(stream)
    return True


def parse_event(raw: Any, now: int) -> Event:
    """Validate one reported event (a JSON object) or raise :class:`InvalidEvent` saying what is wrong."""
    # The shape the extension sends, checked in one expression (this runs for every reported request);
    # anything else, valid or not, goes through the careful checks below, which say what is wrong.
    if type(raw) is dict:
        get = raw.get
        url, page_url, rtype, tab_id = get("url"), get("page_url"), get("type", "other"), get("tab_id")
        when, outcome = get("time", now), get("outcome")
        seq = get("seq", _ABSENT)
        if (type(url) is str and 0 < len(url) <= MAX_URL_LENGTH
                and (page_url is None or (type(page_url) is str and len(page_url) <= MAX_URL_LENGTH))
                and type(rtype) is str and rtype in _SHARED_TYPES
                and (tab_id is None or (type(tab_id) is int and -1 <= tab_id < 2**31))
                and type(when) is int and MIN_TIME_MS <= when <= now + _DAY_MS
                and get("browser_blocked") is None and (outcome is None or outcome == "reached" or outcome == "blocked")):
            if seq is _ABSENT:
                if "stream" not in raw:  # an older extension's event
                    return Event(url, page_url or None, rtype, tab_id, when, outcome == "blocked", outcome is not None)
            elif (type(seq) is int and 0 <= seq <= MAX_SEQ and type(stream := get("stream")) is str
                  and (stream in _GOOD_STREAMS or _good_stream(stream))):
                return Event(url, page_url or None, rtype, tab_id, when, outcome == "blocked", outcome is not None,
                             stream, seq)
    return _parse_event_carefully(raw, now)


def _parse_event_carefully(raw: Any, now: int) -> Event:
    if not isinstance(raw, dict):
        raise InvalidEvent("event must be a JSON object")
    url, page_url, rtype = raw.get("url"), raw.get("page_url"), raw.get("type", "other")
    if not isinstance(url, str) or not url:
        raise InvalidEvent("'url' must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidEvent(f"'url' is longer than {MAX_URL_LENGTH} characters")
    if page_url is not None and not isinstance(page_url, str):
        raise InvalidEvent("'page_url' must be a string or null")
    if page_url is not None and len(page_url) > MAX_URL_LENGTH:
        raise InvalidEvent(f"'page_url' is longer than {MAX_URL_LENGTH} characters")
    if not isinstance(rtype, str):
        raise InvalidEvent("'type' must be a string")
    try:
        rtype = normalise_type(rtype)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None
    tab_id = raw.get("tab_id")
    if tab_id is not None and (isinstance(tab_id, bool) or not isinstance(tab_id, int) or not -1 <= tab_id < 2**31):
        raise InvalidEvent("'tab_id' must be an integer")
    when = raw.get("time", now)
    if isinstance(when, float) and when.is_integer():
        when = int(when)
    if isinstance(when, bool) or not isinstance(when, int) or not MIN_TIME_MS <= when <= now + 86_400_000:
        raise InvalidEvent("'time' must be epoch milliseconds, not in the future")
    blocked = raw.get("browser_blocked")
    if blocked is not None and not isinstance(blocked, bool):
        raise InvalidEvent("'browser_blocked' must be true or false")
    outcome = raw.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidEvent("'outcome' must be 'reached' or 'blocked' (requests that never left the browser are not reported)")
    if outcome is not None and blocked is not None and blocked != (outcome == "blocked"):
        raise InvalidEvent(f"'outcome' {outcome!r} contradicts 'browser_blocked' {str(blocked).lower()}")
    # Blocked is what the browser did: the outcome, or for older extensions browser_blocked (set
    # when the request settled). Never the verdict: a rule the browser has not fetched yet, or a
    # path no filter names, lets a request through whatever the companion decided.
    stopped = outcome == "blocked" if outcome is not None else bool(blocked)
    stream, seq = _stream_and_seq(raw)
    return Event(url, page_url or None, rtype, tab_id, when, stopped, outcome is not None, stream, seq)


def _stream_and_seq(raw: dict) -> tuple[str | None, int | None]:
    """The event's numbering, both or neither (an older extension sends neither: recorded as it comes)."""
    if "stream" not in raw and "seq" not in raw:
        return None, None
    if "stream" not in raw or "seq" not in raw:
        raise InvalidEvent("'stream' and 'seq' go together: give both or neither")
    stream, seq = raw["stream"], raw["seq"]
    if not isinstance(stream, str) or not _good_stream(stream):
        raise InvalidEvent("'stream' must be 1 to 64 letters, digits, '_' or '-'")
    if isinstance(seq, float) and seq.is_integer():
        seq = int(seq)
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise InvalidEvent(f"'seq' must be an integer from 0 to {MAX_SEQ}")
    return stream, seq


class Companion:
    """Everything the companion does, without HTTP."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        lists: Sequence[str | Path] | None = None,
        trackers: TrackerDB | None = None,
        with_engine: bool = True,
        defer_check_above: int | None = None,
    ) -> None:
        """``with_engine=False``: the store, the token and the list registry only, for the command
        line's writes (choices, pairing, lists); nothing can be classified, and list changes are
        left for the running server to swap in (it watches ``lists_rev``).
        ``defer_check_above``: a database bigger than this (bytes) is quick-checked later, by
        :meth:`start_background_check` (``crumbs serve``: integrity.START_CHECK_MAX_BYTES)."""
        self.paths = DataPaths.at(data_dir)
        self.store = Store(self.paths.database, defer_check_above=defer_check_above)
        # Set when the integrity check finished in the background found the file damaged: the web
        # layer then answers every request 503 with this one-line reason (companion/web/__init__.py).
        self.damage: DatabaseDamaged | None = None
        self._background_check: threading.Thread | None = None
        self._token = auth.TokenFile(self.paths.token)
        # Crumbs' knowledge base with the person's knowledge sources merged under it (companion/knowledge.py).
        self.sources = Sources(self.paths, self.store, on_change=self._use_sources)
        self.trackers: Knowledge = merged(trackers or TrackerDB.load(), self.sources.facts())
        # The lists in force come from the registry (shipped rules/*.txt plus the person's enabled
        # subscriptions; see companion/lists/). ``lists=[paths]`` overrides it with fixed files:
        # then ``self.lists`` is None and nothing can be subscribed.
        self.lists: Lists | None = None
        self.engine: Engine | None = None
        self.classifier: Classifier | None = None
        if not with_engine:
            self.lists = Lists(self.paths, self.store)
            self.list_paths = []
        elif lists is not None:
            self.list_paths = [Path(p) for p in lists]
            self.engine = Engine.from_files(self.list_paths, cache_dir=self.paths.cache)
        else:
            self.lists = Lists(self.paths, self.store)
            self.engine = self.lists.load_engine()
            self.list_paths = self.lists.paths_in_force()
            self.lists.on_engine = self.use_engine
        if self.engine is not None:
            self.classifier = Classifier(self.engine, self.trackers)
        self._choices_lock = threading.Lock()
        self._choices: Choices | None = None
        self._choices_rev = -1
        self._checkpointer: Checkpointer | None = None
        self._paired_for: str | None = None  # the token a browser was last noted to hold (one write per token)

    @property
    def token(self) -> str:
        """The API token in force (follows ``crumbs token --rotate`` without a restart)."""
        return self._token.value

    # -- engine ---------------------------------------------------------------------------

    def use_engine(self, engine: Engine) -> None:
        """Swap in a rebuilt engine (after a list changed): one reference assignment, atomic for readers."""
        self.engine = engine
        self.classifier = Classifier(engine, self.trackers)

    def _use_sources(self, facts: list) -> None:
        """A knowledge source changed: merge the new facts, and classify with fresh memos."""
        self.trackers.use(facts)
        if self.engine is not None:
            self.use_engine(self.engine)

    # -- choices --------------------------------------------------------------------------

    def choices(self, rev: int | None = None) -> Choices:
        """The current choices, reloaded only when the database says they changed (``rev``: a
        ``choices_rev`` the caller just read, to save a query)."""
        if rev is None:
            rev = self.store.choices_rev()
        with self._choices_lock:
            if self._choices is None or rev != self._choices_rev:
                self._choices = self.store.choices()
                self._choices_rev = rev
            return self._choices

    # -- classification -------------------------------------------------------------------

    def check(self, url: str, page_url: str | None, request_type: str = "other", now: int | None = None) -> Verdict:
        """Classify and decide one request (nothing is recorded). Raises ValueError on bad input."""
        verdict = self.classifier.classify(url, page_url, request_type)
        return decide(verdict, self.choices(), now_ms() if now is None else now)

    def report(self, raw_events: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
        """Classify, decide and record a batch; invalid events are refused one by one, the rest recorded.

        Returns one result per event (``{"ok": True, "verdict": Verdict}`` or ``{"ok": False, "error": …}``)
        and, per tab, the distinct tracker domains this batch recorded and how many of them were blocked.
        The batch is committed before this returns.

        An event sent again (its stream's seq already recorded: storage/delivered.py) gets its verdict as
        the first time, so the extension's badge and popup learn it even when the first answer was lost;
        it is not recorded again, nor counted in the tabs' figures (they say what this batch added).
        """
        now = now_ms()
        choices = self.choices()
        classifier = self.classifier
        results: list[dict[str, Any]] = []
        recorded: list[RecordedEvent] = []
        tracked: list[tuple[int, int, str, bool]] = []  # (position in recorded, tab, tracker domain, blocked)
        for raw in raw_events:
            try:
                event = parse_event(raw, now)
                verdict = decide(classifier.classify(event.url, event.page_url, event.type), choices, now)
            except (InvalidEvent, NotANetworkURL, ValueError) as exc:
                results.append({"ok": False, "error": str(exc)})
                continue
            if event.tab_id is not None and event.tab_id >= 0 and verdict.tracker:
                tracked.append((len(recorded), event.tab_id, verdict.domain, event.browser_blocked))
            recorded.append(RecordedEvent(verdict, event.time, event.browser_blocked, event.outcome_reported,
                                          event.stream, event.seq))
            results.append({"ok": True, "verdict": verdict})
        try:
            again = self.store.record(recorded)
        except sqlite3.DatabaseError as exc:
            # A page gone bad under a running server: the batch is not recorded (and not acknowledged);
            # what was committed before stays. The caller answers 503 with the one-line reason.
            damage = damage_of(self.store.path, exc)
            if damage is not None:
                raise damage from None
            raise
        tabs: dict[int, dict[str, bool]] = {}
        for n, tab_id, domain, blocked in tracked:
            if again and n in again:
                continue
            seen = tabs.setdefault(tab_id, {})
            # A domain is blocked on the tab only when none of its requests got through.
            seen[domain] = seen.get(domain, True) and blocked
        tab_counts = {
            str(tab): {"trackers": len(seen), "blocked": sum(seen.values()),
                       "reached": sum(not b for b in seen.values())}
            for tab, seen in tabs.items()
        }
        return results, tab_counts

    # -- what a site looks like -----------------------------------------------------------

    def site_report(self, site: str, now: int | None = None) -> dict[str, Any]:
        """Every third party seen on ``site`` with owner, category, counts and the current choice."""
        now = now_ms() if now is None else now
        choices = self.choices()
        trusted = site in choices.trusted and choices.is_trusted(site, now)
        # One pass over the site's detail: its third parties, its script hosts (for stand_ins) and what got through.
        parties, scripts, got_through = self.store.site_summary(site, "script")
        third_parties = []
        through: dict[str, list[dict[str, Any]]] = {}
        for domain, host, tracker, meant, exception, decided_by, ftext, flist, n in got_through:
            through.setdefault(domain, []).append({
                "host": host, "requests": n, "filter": ftext, "list": flist, "decided_by": decided_by,
                "why": why_it_got_through(tracker, meant, exception, decided_by, ftext, flist)})
        for row in parties:
            domain = row["domain"]
            info = self.trackers.facts(domain)  # the one answer every view gives
            owner, owner_source = (info.owner, info.owner_source) if info else self.trackers.owner_with_source(domain)
            # What would happen now to a tracker request from this domain on this site.
            probe = Verdict(
                url="", type="other", host=domain, domain=domain, page_domain=site, third_party=True,
                same_owner=False, tracker=row["trackers"] > 0, owner=None, category=None, category_label=None,
                description=None, learns=None, filter=None, list=None, exception=False, overridden_filter=None,
                blocked=False, decided_by="not-a-tracker",
            )
            decided = decide(probe, choices, now)
            third_parties.append(
                {
                    "domain": domain,
                    "hosts": row["hosts"],
                    "owner": owner,
                    "owner_source": owner_source,  # "Crumbs" or a knowledge source's label
                    "category": info.category if info else None,
                    "category_source": info.category_source if info else None,
                    "category_label": info.category_label if info else None,
                    "description": info.description if info else None,
                    "learns": info.learns if info else None,
                    "tracker": row["trackers"] > 0,
                    "requests": row["requests"],
                    # What the browser did: requests = reached + blocked.
                    "blocked": row["blocked"],
                    "reached": row["requests"] - row["blocked"],
                    "state": outcome_state(row["requests"] - row["blocked"], row["blocked"]),
                    "got_through": through.get(domain, []),
                    "first_seen": row["first_seen"],
                    "last_seen": row["last_seen"],
                    "choice": {
                        "here": choices.site_tracker.get((site, domain)),
                        "everywhere": choices.everywhere.get(domain),
                    },
                    "blocked_now": decided.blocked,
                    "decided_by": decided.decided_by,
                    # Stand-ins the browser serves for this third party's scripts while it is blocked here.
                    "stand_ins": [s.title for s in for_hosts([h for h in row["hosts"] if h in scripts], domain)]
                    if decided.blocked else [],
                }
            )
        until = choices.trusted.get(site)
        return {"site": site, "trusted": {"until": until} if trusted else None, "third_parties": third_parties}

    # -- choices and settings (every write of the web layer and the CLI comes through here) --

    def list_choices(self) -> dict[str, list[dict[str, Any]]]:
        return self.store.list_choices()

    def set_site_tracker(self, site: str, tracker: str, action: str | None) -> None:
        """Allow or block ``tracker`` on ``site``; None clears the choice."""
        self.store.set_site_tracker(site, tracker, action)

    def set_tracker(self, tracker: str, action: str | None) -> None:
        """Allow or block ``tracker`` everywhere; None clears the choice."""
        self.store.set_tracker(tracker, action)

    def set_trust(self, site: str, duration: str | None) -> int | None:
        """Trust ``site`` for a duration (None revokes); returns the expiry, None for always or revoked."""
        return self.store.set_trust(site, duration)

    @property
    def report_only(self) -> bool:
        return self.store.get_setting("report_only") == "1"

    def set_report_only(self, on: bool) -> None:
        self.store.set_setting("report_only", "1" if on else "0")

    # -- "Page broken?" and Global Privacy Control (issue 12) -------------------------------

    def report_breakage(self, body: Any) -> dict[str, Any]:
        """Check and record a breakage report (:func:`companion.breakage.clean_report`); returns it."""
        site, trackers = breakage.clean_report(body)
        return breakage.add_report(self.store, site, trackers)

    def breakage_reports(self) -> list[dict[str, Any]]:
        return self.store.breakage_reports()

    def breakage_for(self, tracker: str) -> dict[str, int]:
        return breakage.tracker_summary(self.store, tracker)

    def forget_breakage(self, report_id: int | None = None) -> int:
        """Forget one report, or all of them (None); returns how many went."""
        return self.store.forget_breakage_report(report_id)

    @property
    def gpc(self) -> bool:
        """The extension's copy of its GPC switch (on unless it said off); the browser's copy applies."""
        return self.store.get_setting("gpc", "1") == "1"

    def set_gpc(self, on: bool) -> None:
        self.store.set_setting("gpc", "1" if on else "0")

    # -- web sign-in ------------------------------------------------------------------------

    def new_signin_code(self) -> str:
        return auth.new_signin_code(self.store)

    def redeem_signin_code(self, code: str) -> tuple[str, str] | None:
        return auth.redeem_signin_code(self.store, code)

    def session_opened_by(self, session: str | None, code: str) -> bool:
        return auth.opened_by(self.store, session, code)

    def session_csrf(self, session: str | None) -> str | None:
        return auth.session_csrf(self.store, session)

    def end_session(self, session: str | None) -> None:
        auth.end_session(self.store, session)

    # -- pairing --------------------------------------------------------------------------

    def new_pairing_code(self) -> str:
        return auth.issue_pairing_code(self.store)

    def redeem_pairing_code(self, code: str) -> bool:
        """Consume a pairing code; on success the caller hands out the token, so a browser now holds it."""
        if not self.store.take_pairing_code(auth.hash_code(code)):
            return False
        self.mark_paired()
        return True

    def is_paired(self) -> bool:
        """Whether a browser holds the token in force (``crumbs serve`` prints a pairing code only when not)."""
        return auth.is_paired(self.store, self.token)

    def mark_paired(self) -> None:
        """A browser received the token (a redeemed code, the native messaging host)."""
        token = self.token
        auth.mark_paired(self.store, token)
        self._paired_for = token

    def note_extension_call(self) -> None:
        """An authenticated call came from an extension origin: that browser holds the token.
        Writes at most once per token in this process, so the API's hot path stays read-free."""
        if self._paired_for != self.token:
            self.mark_paired()

    def start_checkpointer(self) -> None:
        """Checkpoint the WAL in a background thread (the server's): recording batches then never
        wait for SQLite's automatic checkpoint (companion/storage/checkpoint.py)."""
        if self._checkpointer is None:
            self._checkpointer = Checkpointer(self.store.path).start()
            self.store.leave_checkpoints_to_thread()

    def start_background_check(self) -> None:
        """Run, in a background thread, the integrity check deferred at start (a big database).

        The file is read while serving (SQLite readers do not block the writer). Damage found there
        is logged and kept in :attr:`damage`."""
        if self.store.fully_checked or self._background_check is not None:
            return
        self._background_check = threading.Thread(target=self.finish_integrity_check, name="crumbs-integrity",
                                                  daemon=True)
        self._background_check.start()

    def finish_integrity_check(self) -> DatabaseDamaged | None:
        """The whole ``quick_check`` of the database (bounded by ``BACKGROUND_CHECK_BUDGET_S``); the damage
        it found, also kept in :attr:`damage`, or None."""
        problem = integrity.quick_check(self.store.path, budget_s=integrity.BACKGROUND_CHECK_BUDGET_S)
        if problem:
            self.damage = DatabaseDamaged(self.store.path, f"is damaged ({problem[:80]})")
            log.error("%s", self.damage)
        return self.damage

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.store.close()
