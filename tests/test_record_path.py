"""The recording path's shortcuts give exactly the answers of the careful code they stand in front of:
parse_event's one-expression check of the usual event, and the classifier's per-(host, page site) memo."""

from __future__ import annotations

import itertools
import random

import pytest

from companion.service import InvalidEvent, _parse_event_carefully, parse_event

NOW = 1_780_000_000_000

VALUES = {
    "url": ["https://t.example/p", "", "x" * 9000, None, 5, "http://a.b/"],
    "page_url": ["https://news.example/", "", None, 3, "y" * 9000, "MISSING"],
    "type": ["script", "beacon", "nonsense", 7, None, "MISSING"],
    "tab_id": [1, -1, -2, 2**31, True, "3", None, "MISSING"],
    "time": [NOW, NOW - 5, NOW + 86_400_001, 5, float(NOW), True, "MISSING"],
    "outcome": ["reached", "blocked", "cache", None, "MISSING"],
    "browser_blocked": [True, False, None, "yes", "MISSING"],
    "stream": ["w1", "a" * 64, "a" * 65, "", "a b", "x\n", 7, None, "MISSING"],
    "seq": [0, 2**53 - 1, 2**53, -1, 3.0, 2.5, True, "4", None, "MISSING"],
}


def _outcome(parse, raw):
    try:
        return ("ok", parse(raw, NOW))
    except InvalidEvent as exc:
        return ("refused", str(exc))


def test_the_fast_check_answers_exactly_as_the_careful_checks():
    rnd = random.Random(14)
    names = list(VALUES)
    cases = [dict(zip(names, combo)) for combo in itertools.islice(itertools.product(*VALUES.values()), 0, None, 997)]
    cases += [{n: rnd.choice(VALUES[n]) for n in names} for _ in range(6000)]
    # the usual event, numbered or not, with each numbering
    usual = {"url": "https://t.example/p", "page_url": "https://news.example/", "type": "script", "tab_id": 1,
             "time": NOW, "outcome": "reached"}
    cases += [{**usual, "stream": st, "seq": sq} for st in VALUES["stream"] for sq in VALUES["seq"]]
    seen = set()
    for case in cases:
        raw = {k: v for k, v in case.items() if v != "MISSING"}
        fast, careful = _outcome(parse_event, raw), _outcome(_parse_event_carefully, raw)
        assert fast == careful, raw
        seen.add(fast[0])
    assert seen == {"ok", "refused"}
    for odd in (None, [], "event", 3):
        assert _outcome(parse_event, odd) == _outcome(_parse_event_carefully, odd) == ("refused", "event must be a JSON object")


@pytest.mark.parametrize("page", ["https://www.news.example/a", "https://www.youtube.com/watch", None])
def test_a_memoised_classification_is_the_classification_made_afresh(companion, page):
    from companion.classify import Classifier

    urls = ["https://www.google-analytics.com/analytics.js", "https://www.google-analytics.com/g/collect?v=2",
            "https://img.news.example/a.jpg", "https://www.google-analytics.com/analytics.js?x=@@"]
    warm = companion.classifier
    for url in urls:  # fills the memo with each (host, page site)
        warm.classify(url, page, "script")
    for url, rtype in itertools.product(urls, ("script", "image", "ping")):
        fresh = Classifier(companion.engine, companion.trackers)
        assert warm.classify(url, page, rtype) == fresh.classify(url, page, rtype)
