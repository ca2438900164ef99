"""declarativeNetRequest redirect rules that serve the stand-in scripts wherever a block would apply.

Why a rule at *block + 1* for each level a block can come from: the browser applies the highest-priority
matching rule, so a redirect one above a block wins over that block, and anything that beats the block
(an allow above it, trusting the site) beats the redirect as well. So the stand-in follows exactly the
precedence of :mod:`.compiler`:

    401  redirect a tracker's script on the sites where the person blocked that tracker (same initiatorDomains)
    300  (trust: allowAllRequests) wins over everything below: the real script loads
    201  redirect where the person blocked the tracker everywhere
    131  redirect where the lists block the script with an $important filter (it beats list exceptions)
    101  redirect where the lists block the script (a list exception at 120 wins: the real script loads)

At the list levels a redirect is emitted only when the lists in force block the pattern's sample URL from an
ordinary third-party page (the caller asks its engine), and never in report-only mode. A site-specific list
exception still wins, since it sits at 120 above the 101 redirect.

Redirects count against Chrome's 5,000 "unsafe" dynamic rules (Firefox: 5,000 rules in all). The catalog is a
few dozen patterns and each level folds its sites into one rule per pattern, so the count is at most
patterns x 4, far below; :func:`redirect_rules` still refuses to go over ``max_unsafe``.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..surrogates import CATALOG, Pattern, Surrogate
from .compiler import PRIORITY_EVERYWHERE, PRIORITY_LIST_BLOCK, PRIORITY_LIST_IMPORTANT, PRIORITY_SITE_TRACKER

MAX_UNSAFE_RULES = 5_000  # Chrome's cap on dynamic redirect/modifyHeaders rules

# "important" | "block" | None: how the lists in force treat a pattern's sample URL.
ListVerdict = Callable[[Pattern], "str | None"]


def _rule(surrogate: Surrogate, pattern: Pattern, priority: int, **scope: Any) -> dict[str, Any]:
    condition = {**pattern.condition(), "domainType": "thirdParty", **scope}
    return {"priority": priority,
            "action": {"type": "redirect", "redirect": {"extensionPath": surrogate.resource}},
            "condition": dict(sorted(condition.items()))}


def redirect_rules(*, site_tracker: Sequence[tuple[str, str, str]], everywhere: Sequence[tuple[str, str]],
                   report_only: bool, lists: ListVerdict | None,
                   catalog: Iterable[Surrogate] = CATALOG, max_unsafe: int = MAX_UNSAFE_RULES) -> list[dict[str, Any]]:
    """The redirect rules (without ids) for the person's blocks and the lists' blocks.

    site_tracker: (site, tracker, "allow"|"block"); everywhere: (tracker, "allow"|"block"); lists: how the lists
    treat a pattern (None: the lists block nothing, e.g. none are loaded).
    """
    blocked_on: dict[str, set[str]] = {}
    for site, tracker, action in site_tracker:
        if action == "block":
            blocked_on.setdefault(tracker.lower(), set()).add(site.lower())
    blocked_everywhere = {t.lower() for t, a in everywhere if a == "block"}

    rules: list[dict[str, Any]] = []
    for surrogate in catalog:
        for pattern in surrogate.patterns:
            sites = blocked_on.get(pattern.domain)
            if sites:
                rules.append(_rule(surrogate, pattern, PRIORITY_SITE_TRACKER + 1, initiatorDomains=sorted(sites)))
            if pattern.domain in blocked_everywhere:
                rules.append(_rule(surrogate, pattern, PRIORITY_EVERYWHERE + 1))
            verdict = None if report_only or lists is None else lists(pattern)
            if verdict == "important":
                rules.append(_rule(surrogate, pattern, PRIORITY_LIST_IMPORTANT + 1))
            elif verdict == "block":
                rules.append(_rule(surrogate, pattern, PRIORITY_LIST_BLOCK + 1))
    if len(rules) > max_unsafe:
        # Keep the person's own choices first (they were added first per pattern only; sort by priority).
        rules.sort(key=lambda r: -r["priority"])
        rules = rules[:max_unsafe]
    return rules


def engine_verdict(engine) -> ListVerdict:
    """A :data:`ListVerdict` backed by a filter engine: does it block the pattern's sample from a third-party page?"""
    def verdict(pattern: Pattern) -> str | None:
        match = engine.match(pattern.sample, "https://crumbs-surrogate-check.invalid/", "script")
        if match is None or not match.blocked:
            return None
        return "important" if match.important else "block"
    return verdict


__all__ = ["redirect_rules", "engine_verdict", "MAX_UNSAFE_RULES", "ListVerdict"]
