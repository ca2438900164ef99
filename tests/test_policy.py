"""The precedence of the person's choices, one step at a time."""

import pytest

from companion.policy import Choices, decide

NOW = 1_780_000_000_000


@pytest.fixture
def verdict(make_verdict):
    """A request to ``domain`` from ``page``: the policy tests' shape of the shared verdict factory."""
    def make(tracker=True, third_party=True, domain="doubleclick.net", page="news.example"):
        return make_verdict(page, domain, domain, tracker, third_party=third_party)
    return make


def test_list_default_blocks_trackers(verdict):
    v = decide(verdict(), Choices(), NOW)
    assert (v.blocked, v.decided_by) == (True, "list-default")


def test_not_a_tracker_is_allowed(verdict):
    v = decide(verdict(tracker=False, domain="cdn.example"), Choices(), NOW)
    assert (v.blocked, v.decided_by) == (False, "not-a-tracker")


def test_report_only_reports_instead_of_blocking(verdict):
    v = decide(verdict(), Choices(report_only=True), NOW)
    assert (v.blocked, v.decided_by) == (False, "report-only")


def test_tracker_everywhere_beats_list_default_both_ways(verdict):
    assert decide(verdict(), Choices(everywhere={"doubleclick.net": "allow"}), NOW).decided_by == "tracker-everywhere"
    assert not decide(verdict(), Choices(everywhere={"doubleclick.net": "allow"}), NOW).blocked
    blocked = decide(verdict(tracker=False, domain="cdn.example"), Choices(everywhere={"cdn.example": "block"}), NOW)
    assert (blocked.blocked, blocked.decided_by) == (True, "tracker-everywhere")


def test_site_trust_beats_tracker_everywhere(verdict):
    choices = Choices(everywhere={"doubleclick.net": "block"}, trusted={"news.example": None})
    v = decide(verdict(), choices, NOW)
    assert (v.blocked, v.decided_by) == (False, "site-trust")


def test_expired_trust_no_longer_applies(verdict):
    choices = Choices(trusted={"news.example": NOW - 1})
    v = decide(verdict(), choices, NOW)
    assert (v.blocked, v.decided_by) == (True, "list-default")
    assert decide(verdict(), Choices(trusted={"news.example": NOW + 1}), NOW).decided_by == "site-trust"


def test_site_tracker_beats_site_trust(verdict):
    choices = Choices(site_tracker={("news.example", "doubleclick.net"): "block"}, trusted={"news.example": None},
                      everywhere={"doubleclick.net": "allow"})
    v = decide(verdict(), choices, NOW)
    assert (v.blocked, v.decided_by) == (True, "site-tracker")


def test_site_tracker_allow_applies_on_that_site_only(verdict):
    choices = Choices(site_tracker={("news.example", "doubleclick.net"): "allow"})
    assert not decide(verdict(), choices, NOW).blocked
    other = decide(verdict(page="other.example"), choices, NOW)
    assert (other.blocked, other.decided_by) == (True, "list-default")


@pytest.mark.parametrize("choices", [
    Choices(everywhere={"news.example": "block"}),
    Choices(site_tracker={("news.example", "news.example"): "block"}),
])
def test_choices_never_apply_to_first_party_requests(verdict, choices):
    v = decide(verdict(tracker=False, third_party=False, domain="news.example"), choices, NOW)
    assert (v.blocked, v.decided_by) == (False, "not-a-tracker")


def test_report_only_still_honours_explicit_blocks(verdict):
    choices = Choices(report_only=True, everywhere={"doubleclick.net": "block"})
    assert decide(verdict(), choices, NOW).blocked
