"""The user's choices and the precedence that turns a classification into block or allow.

Precedence, most specific first (README documents the same order):

1. ``site-tracker``: the person's allow/block for this tracker domain on this site;
2. ``site-trust``: the site is trusted (for an hour, a day or until revoked): nothing is blocked there;
3. ``tracker-everywhere``: the person's allow/block for this tracker domain on every site;
4. ``list-default``: a classified third-party tracker is blocked, unless the ``report-only``
   setting is on, in which case it is only reported (``decided_by == "report-only"``);
5. ``not-a-tracker``: anything else is allowed.

Choices are keyed by registrable domains: the page's site and the request's domain. They
apply to third-party requests only: a site's own requests are never the person's "tracker".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .classify import Verdict, with_decision

ACTIONS = ("allow", "block")
TRUST_DURATIONS_MS = {"hour": 3_600_000, "day": 86_400_000, "always": None}


@dataclass(frozen=True)
class Choices:
    """A snapshot of every choice, cheap to consult per request."""

    site_tracker: dict[tuple[str, str], str] = field(default_factory=dict)  # (site, tracker) -> action
    everywhere: dict[str, str] = field(default_factory=dict)  # tracker -> action
    trusted: dict[str, int | None] = field(default_factory=dict)  # site -> until (epoch ms) or None: always
    report_only: bool = False

    def is_trusted(self, site: str | None, now_ms: int) -> bool:
        if site is None or site not in self.trusted:
            return False
        until = self.trusted[site]
        return until is None or until > now_ms


def decide(verdict: Verdict, choices: Choices, now_ms: int) -> Verdict:
    """Apply the precedence to a classified request and say which step decided."""
    site, tracker = verdict.page_domain, verdict.domain
    if verdict.third_party and site is not None:
        action = choices.site_tracker.get((site, tracker))
        if action is not None:
            return with_decision(verdict, action == "block", "site-tracker")
        if choices.is_trusted(site, now_ms):
            return with_decision(verdict, False, "site-trust")
    if verdict.third_party:
        action = choices.everywhere.get(tracker)
        if action is not None:
            return with_decision(verdict, action == "block", "tracker-everywhere")
    if verdict.tracker:
        if choices.report_only:
            return with_decision(verdict, False, "report-only")
        return with_decision(verdict, True, "list-default")
    return with_decision(verdict, False, "not-a-tracker")
