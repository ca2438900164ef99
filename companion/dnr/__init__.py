"""The browser's declarativeNetRequest rules.

Rooms: :mod:`.condition` (one parsed filter -> one DNR condition), :mod:`.compiler` (choices and
filters -> numbered rules with priorities, packed to fit the browsers' limits; pure) and
:mod:`.cache` (:class:`BrowserRules`: the compiled rules of a running companion, and when to recompile);
:mod:`.redirects` (the stand-in scripts' redirect rules, one priority above each block level).
"""
from __future__ import annotations

from .cache import BrowserRules
from .compiler import (CHROME_MAX_REGEX, CHROME_MAX_RULES, FIREFOX_MAX_RULES, PRIORITY_EVERYWHERE,
                       PRIORITY_LIST_BLOCK, PRIORITY_LIST_EXCEPTION, PRIORITY_LIST_IMPORTANT, PRIORITY_SITE_TRACKER,
                       PRIORITY_TRUST, compile_rules)
from .condition import to_dnr_condition

__all__ = [
    "BrowserRules", "compile_rules", "to_dnr_condition", "CHROME_MAX_RULES", "CHROME_MAX_REGEX", "FIREFOX_MAX_RULES",
    "PRIORITY_SITE_TRACKER", "PRIORITY_TRUST", "PRIORITY_EVERYWHERE", "PRIORITY_LIST_IMPORTANT",
    "PRIORITY_LIST_EXCEPTION", "PRIORITY_LIST_BLOCK",
]
