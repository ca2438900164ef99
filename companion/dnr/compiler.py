"""Compile a person's choices and the tracker lists into browser declarativeNetRequest rules.

Why: blocking happens in the browser, so that no page load ever waits on the companion and blocking keeps
working while the companion is down. The companion's precedence (site+tracker choice, then site trust, then
tracker-everywhere choice, then the list default) is expressed with rule priorities, because the browser
applies the highest-priority matching rule:

    PRIORITY_SITE_TRACKER (400)  block / allow a tracker on one site (initiatorDomains = the site)
    PRIORITY_TRUST        (300)  allowAllRequests on the main frame of a trusted site: the whole page is let through,
                                 except what a higher-priority (site+tracker) block rule still blocks
    PRIORITY_EVERYWHERE   (200)  block / allow a tracker on every site
    PRIORITY_LIST_IMPORTANT (130) list filters with $important (they beat list exceptions, as in ABP)
    PRIORITY_LIST_EXCEPTION (120) list exceptions (@@)
    PRIORITY_LIST_BLOCK   (100)  the list default: block classified third-party trackers

Stand-in scripts (:mod:`.redirects`) add a redirect one above each block level (401, 201, 131,
101), scoped like that block, so the browser serves the stand-in wherever the block would apply, and
whatever beats the block (an allow, trusting the site) beats the stand-in too: the real script loads.

Browsers cap dynamic rules (Chrome 30,000 and 1,000 regex rules; Firefox 5,000), so domains are packed into
one rule wherever the rest of the condition is equal, and when the lists hold more than fits, the filters this
person actually meets (given first by the caller) are kept and the least-met ones are dropped.

Pure: no Flask, no I/O, no filter text: list filters arrive parsed by the engine (their exception and
$important flags included), and :mod:`.condition` turns each into a DNR condition.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..engine import ParsedFilter, parse_filter
from ..sites import is_public_suffix
from .condition import to_dnr_condition

PRIORITY_SITE_TRACKER = 400
PRIORITY_TRUST = 300
PRIORITY_EVERYWHERE = 200
PRIORITY_LIST_IMPORTANT = 130
PRIORITY_LIST_EXCEPTION = 120
PRIORITY_LIST_BLOCK = 100

CHROME_MAX_RULES = 30_000
CHROME_MAX_REGEX = 1_000
FIREFOX_MAX_RULES = 5_000

Condition = dict[str, Any]
Translate = Callable[[ParsedFilter], "Condition | None"]

# `||host^` with nothing else: the same as requestDomains=[host] (both match the host and its subdomains),
# so many of them fold into one rule.
_BARE_HOST = re.compile(r"^\|\|([a-z0-9][a-z0-9.-]*[a-z0-9])\^$")


def _key(obj: Any) -> str:
    """A canonical text of a JSON value: equal conditions give equal keys."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _freeze(obj: Any) -> Any:
    """A hashable stand-in for a JSON value (cheaper than serialising it), equal for equal values."""
    if isinstance(obj, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in obj.items()))
    if isinstance(obj, list):
        return tuple(_freeze(v) for v in obj)
    return obj


class _Packer:
    """Collects rules, folding domains into one rule when action, priority and the rest of the condition match.

    A group is opened by its first member and keeps its place, so the output order follows the order in which
    rules were first asked for (stable rule ids for a stable input).
    """

    def __init__(self) -> None:
        self._order: list[tuple] = []
        self._groups: dict[tuple, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._order)

    def has(self, key: tuple) -> bool:
        return key in self._groups

    @staticmethod
    def group_key(action: dict, priority: int, condition: Condition, pack_field: str | None) -> tuple:
        rest = {k: v for k, v in condition.items() if k != pack_field}
        return (_freeze(action), priority, _freeze(rest), pack_field)

    def add(self, action: dict, priority: int, condition: Condition, pack_field: str | None = None,
            values: Iterable[str] = (), key: tuple | None = None) -> None:
        """Add a rule; with pack_field, merge `values` into that list field of an equal rule."""
        key = key or self.group_key(action, priority, condition, pack_field)
        group = self._groups.get(key)
        if group is None:
            group = {"action": action, "priority": priority, "condition": dict(condition), "values": set()}
            self._groups[key] = group
            self._order.append(key)
        if pack_field:
            group["pack_field"] = pack_field
            group["values"].update(values)

    def rules(self) -> list[dict[str, Any]]:
        out = []
        for key in self._order:
            g = self._groups[key]
            condition = dict(g["condition"])
            if g.get("pack_field"):
                condition[g["pack_field"]] = sorted(g["values"])
            out.append({"priority": g["priority"], "action": dict(g["action"]),
                        "condition": dict(sorted(condition.items()))})
        return out


def _choice_rules(site_tracker: Sequence[tuple[str, str, str]], trusted_sites: Sequence[str],
                  everywhere: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The rules for the person's own choices: never dropped, whatever the limits."""
    rules: list[dict[str, Any]] = []
    # A public suffix ("com") stored as a choice before such choices were refused would block or trust every
    # site under it in the browser, while the companion's verdicts never match it (they name registrable
    # domains): left out, so the browser does what the companion says. It can still be removed.
    site_tracker = [(s, t, a) for s, t, a in site_tracker if not (is_public_suffix(s) or is_public_suffix(t))]
    trusted_sites = [s for s in trusted_sites if not is_public_suffix(s)]
    everywhere = [(t, a) for t, a in everywhere if not is_public_suffix(t)]

    # site+tracker: group trackers per (site, action), then merge the sites that share the same tracker set,
    # so "block X on 40 sites" is one rule and "block 40 trackers on one site" is one rule too.
    per_site: dict[tuple[str, str], set[str]] = {}
    for site, tracker, action in site_tracker:
        _check_action(action)
        per_site.setdefault((site.lower(), action), set()).add(tracker.lower())
    by_set: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for (site, action), trackers in per_site.items():
        by_set.setdefault((action, tuple(sorted(trackers))), set()).add(site)
    for (action, trackers), sites in sorted(by_set.items()):
        condition: Condition = {"requestDomains": list(trackers), "initiatorDomains": sorted(sites)}
        if action == "block":
            condition["domainType"] = "thirdParty"
        rules.append({"priority": PRIORITY_SITE_TRACKER, "action": {"type": action},
                      "condition": dict(sorted(condition.items()))})

    # Trust: allowAllRequests on the trusted site's top-level document lets its whole frame tree through.
    sites = sorted({s.lower() for s in trusted_sites})
    if sites:
        rules.append({"priority": PRIORITY_TRUST, "action": {"type": "allowAllRequests"},
                      "condition": {"requestDomains": sites, "resourceTypes": ["main_frame"]}})

    # Everywhere: one rule per action.
    for action in ("allow", "block"):
        trackers = sorted({t.lower() for t, a in everywhere if _check_action(a) == action})
        if trackers:
            condition = {"requestDomains": trackers}
            if action == "block":
                # Only as a third party: blocking a tracker's own site when the person visits it helps no one.
                condition["domainType"] = "thirdParty"
            rules.append({"priority": PRIORITY_EVERYWHERE, "action": {"type": action},
                          "condition": dict(sorted(condition.items()))})
    return rules


def _check_action(action: str) -> str:
    if action not in ("allow", "block"):
        raise ValueError(f"action must be 'allow' or 'block', not {action!r}")
    return action


def _list_rule(condition: Condition, is_exception: bool, is_important: bool) -> tuple[dict, int, Condition] | None:
    """The action, priority and condition of one translated list filter, or None if it could never apply."""
    condition = dict(condition)
    if is_exception:
        return {"type": "allow"}, PRIORITY_LIST_EXCEPTION, condition
    # The list default blocks third-party trackers only; a first-party-only filter would never block.
    if condition.get("domainType") == "firstParty":
        return None
    condition["domainType"] = "thirdParty"
    priority = PRIORITY_LIST_IMPORTANT if is_important else PRIORITY_LIST_BLOCK
    return {"type": "block"}, priority, condition


@functools.lru_cache(maxsize=4096)
def browser_can_apply(filter_text: str) -> bool:
    """Whether the browser's rules can carry this list filter at all: False for what declarativeNetRequest
    cannot say (entity domains like ``domain=news.*``, non-ASCII patterns, ``||*``, regexes RE2 refuses,
    a first-party-only block: see :mod:`.condition`). The engine still matches such a filter, so the
    companion says "blocked" while the browser lets the request through: the history and ``crumbs check``
    must say so instead of blaming rules that have not caught up (they never will).

    Not whether it is in the rules now: a filter met for the first time is added at the next compile, and
    a list bigger than the browser's rule limit leaves its least-met filters out."""
    parsed = parse_filter(filter_text)
    if parsed is None:
        return False
    condition = to_dnr_condition(parsed)
    return bool(condition) and _list_rule(condition, parsed.exception, parsed.important) is not None


def compile_rules(*, site_tracker: Sequence[tuple[str, str, str]], trusted_sites: Sequence[str],
                  everywhere: Sequence[tuple[str, str]], list_filters: Iterable[ParsedFilter],
                  report_only: bool, max_rules: int = CHROME_MAX_RULES, max_regex: int = CHROME_MAX_REGEX,
                  translate: Translate | None = None,
                  redirects: Sequence[dict[str, Any]] = ()) -> tuple[str, list[dict[str, Any]]]:
    """Compile choices and list filters into DNR rules with ids 1..N; return (version, rules).

    site_tracker: (site, tracker, "allow"|"block"); trusted_sites: sites trusted now (expired trust already
    removed by the caller); everywhere: (tracker, "allow"|"block"); list_filters: the engine's parsed filters,
    most-met first. With report_only the lists block nothing (the person's choices still apply).
    translate: parsed filter -> DNR condition or None (default: :func:`.condition.to_dnr_condition`).
    redirects: stand-in redirect rules without ids (:mod:`.redirects`); kept like choices, before lists.
    """
    if max_rules < 0 or max_regex < 0:
        raise ValueError("limits must not be negative")
    rules = (_choice_rules(site_tracker, trusted_sites, everywhere) + [dict(r) for r in redirects])[:max_rules]
    regex_used = sum(1 for r in rules if "regexFilter" in r["condition"])

    if not report_only:
        translate = translate or to_dnr_condition
        budget = max_rules - len(rules)
        packer = _Packer()
        for parsed in list_filters:
            condition = translate(parsed)
            if not condition:
                continue
            made = _list_rule(condition, parsed.exception, parsed.important)
            if made is None:
                continue
            action, priority, condition = made
            pack_field, values = None, ()
            match = _BARE_HOST.match(condition.get("urlFilter", "")) if "requestDomains" not in condition else None
            if match and "regexFilter" not in condition:
                condition.pop("urlFilter")
                condition.pop("isUrlFilterCaseSensitive", None)  # domains have no case
                pack_field, values = "requestDomains", (match.group(1),)
            key = packer.group_key(action, priority, condition, pack_field)
            if packer.has(key):  # joins an existing rule: costs nothing
                packer.add(action, priority, condition, pack_field, values, key)
                continue
            is_regex = "regexFilter" in condition
            # A full budget drops this filter but keeps scanning: later filters may still pack for free.
            if len(packer) >= budget or (is_regex and regex_used >= max_regex):
                continue
            regex_used += is_regex
            packer.add(action, priority, condition, pack_field, values, key)
        rules.extend(packer.rules())

    for i, rule in enumerate(rules, start=1):
        rule["id"] = i
    rules = [{"id": r["id"], "priority": r["priority"], "action": r["action"], "condition": r["condition"]}
             for r in rules]
    version = hashlib.sha256(_key(rules).encode()).hexdigest()[:16]
    return version, rules
