"""One filter -> one condition: a parsed network filter as a declarativeNetRequest `condition`.

The filter arrives parsed by the engine (:func:`companion.engine.parse_filter`); nothing here reads filter text.

DNR's `urlFilter` speaks nearly the same language as ABP patterns (`||`, `|`, `*`, `^`), so the
pattern is carried over as is; options map to condition keys:

- resource types -> `resourceTypes` (positive options) or `excludedResourceTypes` (only negated
  ones, plus main_frame, which ABP never applies negated types to). A filter without type options gets neither, so the browser applies its default: every
  type *except* main_frame. That is Adblock Plus's meaning of such a filter, and it keeps a
  tracker list from blocking navigation; `$document` asks for main_frame explicitly.
- `third-party` / `first-party` -> `domainType` "thirdParty" / "firstParty";
- `domain=a|~b` -> `initiatorDomains` / `excludedInitiatorDomains`;
- `denyallow=a|b` -> `excludedRequestDomains`;
- `match-case` -> `isUrlFilterCaseSensitive` True (False otherwise);
- `/regex/` -> `regexFilter` when RE2 accepts it.

None means "cannot be expressed faithfully": cosmetic, non-blocking (popup, csp=, removeparam...),
inactive or unparsable filters, `$badfilter`, entity domains (`domain=google.*`), regexes RE2
refuses, non-ASCII patterns, and a pattern starting `||*` (which DNR rejects).
Whether the rule blocks or allows (`pf.exception`) and its priority (`pf.important`) are the compiler's business.
"""
from __future__ import annotations

from ..engine.parser import (ALL_TYPES, CSP_REPORT, DOCUMENT, FONT, IMAGE, MEDIA, OBJECT, OTHER, PING, SCRIPT,
                             STYLESHEET, SUBDOCUMENT, WEBSOCKET, XHR, ParsedFilter)
from ..engine.patterns import RegexRejected, compile_regex_filter

# Our type bits -> DNR resource type names (same order as the DNR documentation).
DNR_TYPES = (
    (DOCUMENT, "main_frame"), (SUBDOCUMENT, "sub_frame"), (STYLESHEET, "stylesheet"),
    (SCRIPT, "script"), (IMAGE, "image"), (FONT, "font"), (OBJECT, "object"),
    (XHR, "xmlhttprequest"), (PING, "ping"), (CSP_REPORT, "csp_report"), (MEDIA, "media"),
    (WEBSOCKET, "websocket"), (OTHER, "other"),
)


def _ascii(s: str) -> bool:
    return all(ord(c) < 128 for c in s)


def to_dnr_condition(pf: ParsedFilter) -> dict | None:
    """DNR `condition` for one parsed network filter, or None when DNR cannot say the same thing."""
    if pf.badfilter:
        return None
    cond: dict = {}
    if pf.is_regex:
        if not _ascii(pf.body):
            return None
        try:
            compile_regex_filter(pf.body, pf.match_case)
        except RegexRejected:
            return None
        cond["regexFilter"] = pf.body
    else:
        pattern = ("||" if pf.host_anchor else "|" if pf.start_anchor else "") + pf.body + (
            "|" if pf.end_anchor else "")
        if not _ascii(pattern) or pattern.startswith("||*"):
            return None
        if pattern.strip("*"):
            cond["urlFilter"] = pattern
    cond["isUrlFilterCaseSensitive"] = bool(pf.match_case)

    if pf.types != ALL_TYPES:
        included = [name for bit, name in DNR_TYPES if pf.types & bit]
        excluded = [name for bit, name in DNR_TYPES if not pf.types & bit]
        if not included:
            return None
        if len(excluded) < len(included):
            # Negated options only (`~script`): an exclusion list. DNR would then also match
            # main_frame, which ABP never applies negated types to, so exclude it too.
            if "main_frame" not in excluded:
                excluded.insert(0, "main_frame")
            cond["excludedResourceTypes"] = excluded
        else:
            cond["resourceTypes"] = included
    if pf.party == 1:
        cond["domainType"] = "thirdParty"
    elif pf.party == 2:
        cond["domainType"] = "firstParty"
    for key, domains in (("initiatorDomains", pf.include), ("excludedInitiatorDomains", pf.exclude)):
        if domains:
            if any(d.endswith(".*") or not _ascii(d) for d in domains):
                return None
            cond[key] = sorted(domains)
    if pf.denyallow:
        if not _ascii("".join(pf.denyallow)):
            return None
        cond["excludedRequestDomains"] = sorted(pf.denyallow)
    return cond
