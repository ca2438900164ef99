"""BrowserRules' shortcuts (issue 14): a restarted server reuses the rules an earlier run compiled from the
same lists, code and choices; newly met filters are folded in by a background compile, never in a batch."""

from __future__ import annotations

import stat
import time

import pytest

from companion.dnr import BrowserRules
from companion.service import Companion


def _fail(*_args, **_kwargs):
    raise AssertionError("compiled although saved rules applied")


def test_a_restart_reuses_the_saved_rules_without_compiling(companion, data_dir, monkeypatch):
    version, rules = BrowserRules(companion, min_interval=0).get()
    saved = data_dir / "cache" / "dnr-rules.json"
    assert saved.exists() and stat.S_IMODE(saved.stat().st_mode) == 0o600
    again = Companion(data_dir)  # a new process's objects on the same folder
    try:
        fresh = BrowserRules(again, min_interval=30)
        monkeypatch.setattr(fresh, "_compile", _fail)
        assert fresh.get() == (version, rules)
    finally:
        again.close()


def test_saved_rules_are_not_used_after_a_choice_changed(companion, data_dir):
    version, _rules = BrowserRules(companion, min_interval=0).get()
    companion.set_tracker("example-tracker.net", "block")
    again = Companion(data_dir)
    try:
        new_version, rules = BrowserRules(again, min_interval=30).get()
    finally:
        again.close()
    assert new_version != version
    assert any("example-tracker.net" in str(r["condition"]) for r in rules)


def test_newly_met_filters_are_compiled_in_the_background(companion, monkeypatch):
    cache = BrowserRules(companion, min_interval=0.01)
    first = cache.get()
    companion.report([{"url": "https://www.google-analytics.com/analytics.js", "page_url": "https://news.example/",
                       "type": "script"}])
    assert companion.store.revisions()[1] > 0  # a filter was met: the rules could list it first
    time.sleep(0.02)
    calls = []
    real = cache._compile
    monkeypatch.setattr(cache, "_compile", lambda *a: calls.append(1) or real(*a))
    assert cache.get() is first  # answered at once with the rules in force
    deadline = time.monotonic() + 60
    while cache._refreshing and time.monotonic() < deadline:
        time.sleep(0.05)
    assert calls == [1]
    assert cache._filters_seen == companion.store.revisions()[1]
