"""Parse one line of an Adblock Plus filter list into a network filter, or say why not.

The parser knows the syntax EasyList and EasyPrivacy use today plus the uBlock Origin aliases
they may carry. It never raises on bad input: every line ends up in exactly one class that the
list statistics count (see `Kind`).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# Resource-type bits. Every request type of the webRequest vocabulary maps to one bit; POPUP is a
# filter-side type that no request carries, so a popup-only filter can never block a request.
SCRIPT, IMAGE, STYLESHEET, XHR, SUBDOCUMENT, DOCUMENT, OBJECT, PING, MEDIA, FONT, WEBSOCKET, \
    OTHER, CSP_REPORT, POPUP = (1 << i for i in range(14))
ALL_TYPES = (1 << 13) - 1  # every request type, not POPUP

# Filter options naming resource types (ABP names and uBlock Origin aliases).
TYPE_OPTIONS = {
    "script": SCRIPT, "image": IMAGE, "stylesheet": STYLESHEET, "css": STYLESHEET,
    "xmlhttprequest": XHR, "xhr": XHR, "subdocument": SUBDOCUMENT, "frame": SUBDOCUMENT,
    "document": DOCUMENT, "doc": DOCUMENT, "object": OBJECT, "ping": PING, "beacon": PING,
    "media": MEDIA, "font": FONT, "websocket": WEBSOCKET, "other": OTHER, "popup": POPUP,
    "all": ALL_TYPES | POPUP,
}

# webRequest `type` (plus a few synonyms other callers may use) -> bit. Unknown types are OTHER.
REQUEST_TYPES = {
    "main_frame": DOCUMENT, "document": DOCUMENT, "sub_frame": SUBDOCUMENT, "subdocument": SUBDOCUMENT,
    "script": SCRIPT, "image": IMAGE, "imageset": IMAGE, "stylesheet": STYLESHEET,
    "xmlhttprequest": XHR, "xhr": XHR, "fetch": XHR, "font": FONT, "media": MEDIA, "object": OBJECT,
    "object_subrequest": OBJECT, "ping": PING, "beacon": PING, "csp_report": CSP_REPORT,
    "websocket": WEBSOCKET, "other": OTHER,
}

# Options that make a filter act on something other than "block or allow this request": such a
# filter never blocks (nor unblocks) a request.
NON_BLOCKING_OPTIONS = frozenset({
    "csp", "removeparam", "queryprune", "removeheader", "replace", "permissions", "urltransform",
    "uritransform", "responseheader", "cookie", "generichide", "ghide", "elemhide", "ehide",
    "specifichide", "shide", "genericblock", "content", "jsinject", "urlblock", "stealth",
    "extension",
})
# Options we understand but cannot honour: the filter becomes inactive instead of too broad.
INACTIVE_OPTIONS = frozenset({
    "method", "header", "sitekey", "webrtc", "strict1p", "strict3p", "to", "ipaddress",
    "object-subrequest", "xml", "dtd", "inline-script", "inline-font", "app", "network",
})
# Filters whose effect is a substituted response; the request is blocked all the same.
REDIRECT_OPTIONS = frozenset({"redirect", "redirect-rule", "rewrite"})

MAX_LINE = 65536  # longer lines are rejected (no real filter comes close)

_COSMETIC_RE = re.compile(r"#[@?$%]{0,3}#|#\+js\(|\$\$|\$@\$")


class Kind(enum.Enum):
    """What one line of a list is."""
    NETWORK = "network"          # a network filter that takes part in matching
    COMMENT = "comment"          # comments, headers, blank lines, preprocessor directives
    COSMETIC = "cosmetic"        # element hiding, extended CSS, scriptlets, HTML filters
    NON_BLOCKING = "non_blocking"  # popup-only, csp=, removeparam, $generichide exceptions...
    INACTIVE = "inactive"        # an option the engine cannot honour
    REJECTED = "rejected"        # unparsable: bad option, bad regex, empty pattern...


@dataclass(slots=True)
class ParsedFilter:
    """A network filter, decoded but not yet compiled."""
    text: str
    exception: bool
    body: str                # pattern without anchors (regex source when is_regex)
    is_regex: bool
    host_anchor: bool        # `||`
    start_anchor: bool       # `|` at the start
    end_anchor: bool         # `|` at the end
    types: int
    party: int               # 0 any, 1 third-party only, 2 first-party only
    include: frozenset[str] | None   # domain= (page hostnames, or "entity.*")
    exclude: frozenset[str] | None   # domain=~
    denyallow: frozenset[str] | None
    match_case: bool
    important: bool
    badfilter: bool
    redirect: bool


@dataclass(slots=True)
class Outcome:
    """The parser's answer for one line: its kind, and the filter or the reason."""
    kind: Kind
    filter: ParsedFilter | None = None
    reason: str = ""


_COMMENT = Outcome(Kind.COMMENT)
_COSMETIC = Outcome(Kind.COSMETIC)


def _split_options(s: str) -> tuple[str, str | None]:
    """Split `pattern$options`; regex filters may hold `$` inside the slashes."""
    i = s.rfind("$")
    if i < 0:
        return s, None
    pat, opts = s[:i], s[i + 1:]
    if s.startswith("/") and s.endswith("/") and len(s) > 2 and not (len(pat) > 1 and pat.endswith("/")):
        return s, None  # `/ads$/`: the `$` belongs to the regex
    if "/" in opts and not (len(pat) > 1 and pat.startswith("/") and pat.endswith("/")):
        # `$` followed by a path: a literal dollar in the pattern, unless options like replace=/../
        if not re.match(r"^[~a-z0-9_-]+(=|,|$)", opts):
            return s, None
    return pat, opts


def _domain_list(value: str, sep: str) -> tuple[frozenset[str] | None, frozenset[str] | None, bool]:
    include, exclude = set(), set()
    for d in value.split(sep):
        d = d.strip().lower()
        neg = d.startswith("~")
        if neg:
            d = d[1:]
        core = d[:-2] if d.endswith(".*") else d  # `name.*` is an entity (any public suffix)
        if not core or any(c in core for c in "/ *?^$|") or core.startswith(".") or core.endswith("."):
            return None, None, False
        (exclude if neg else include).add(d)
    return (frozenset(include) or None), (frozenset(exclude) or None), True


def parse_line(line: str) -> Outcome:
    """Classify and decode one list line (already stripped of line ends)."""
    s = line.strip()
    if not s or s.startswith("!") or (s.startswith("[") and s.endswith("]")):
        return _COMMENT
    if s.startswith("#") and not _COSMETIC_RE.match(s):
        return _COMMENT  # `# comment` and `#if`-style lines
    if len(s) > MAX_LINE:
        return Outcome(Kind.REJECTED, reason="line too long")
    if _COSMETIC_RE.search(s) and not (s.startswith("/") and "/$" in s):
        # `##`, `#@#`, `#?#`, `#$#`, `#%#`, `##+js(...)`, HTML filters `$$`: not about requests
        return _COSMETIC
    exception = s.startswith("@@")
    rest = s[2:] if exception else s
    pat, opts = _split_options(rest)

    types_pos = types_neg = 0
    party = 0
    include = exclude = denyallow = None
    match_case = important = badfilter = redirect = False
    non_blocking = False
    inactive = ""
    if opts is not None:
        if not opts:
            return Outcome(Kind.REJECTED, reason="empty option list")
        for raw in opts.split(","):
            opt = raw.strip()
            name, eq, value = opt.partition("=")
            name = name.lower()
            neg = name.startswith("~")
            if neg:
                name = name[1:]
            if name in TYPE_OPTIONS and not eq:
                if neg:
                    types_neg |= TYPE_OPTIONS[name]
                else:
                    types_pos |= TYPE_OPTIONS[name]
            elif name in ("third-party", "3p", "first-party", "1p") and not eq:
                third = name in ("third-party", "3p")
                party = 1 if third != neg else 2
            elif name in ("domain", "from") and eq and not neg:
                include, exclude, ok = _domain_list(value, "|")
                if not ok:
                    return Outcome(Kind.REJECTED, reason=f"bad domain list: {value[:40]}")
            elif name == "denyallow" and eq and not neg:
                inc, exc, ok = _domain_list(value, "|")
                if not ok or exc or not inc or any(d.endswith(".*") for d in inc):
                    return Outcome(Kind.REJECTED, reason="bad denyallow list")
                denyallow = inc
            elif name == "match-case" and not eq:
                match_case = not neg
            elif name == "important" and not eq and not neg:
                important = True
            elif name == "badfilter" and not eq and not neg:
                badfilter = True
            elif name in REDIRECT_OPTIONS and eq and value and not neg:
                redirect = True
            elif name in ("empty", "mp4") and not eq and not neg:
                redirect = True  # uBlock Origin's old redirect shorthands
            elif name in NON_BLOCKING_OPTIONS:
                non_blocking = True
            elif name and name in INACTIVE_OPTIONS:
                inactive = name
            else:
                return Outcome(Kind.REJECTED, reason=f"unknown option {name!r}")

    is_regex = len(pat) > 2 and pat.startswith("/") and pat.endswith("/")
    host_anchor = start_anchor = end_anchor = False
    body = pat
    if is_regex:
        body = pat[1:-1]
    else:
        if body.startswith("||"):
            host_anchor, body = True, body[2:]
        elif body.startswith("|"):
            start_anchor, body = True, body[1:]
        if body.endswith("|") and not body.endswith("\\|"):
            end_anchor, body = True, body[:-1]
        if not match_case:
            body = body.lower()
        if host_anchor and not body.isascii():
            # Browsers send internationalised hostnames in punycode; so must the pattern be.
            end = next((i for i, c in enumerate(body) if c in "^/*|:?"), len(body))
            try:
                body = body[:end].encode("idna").decode("ascii") + body[end:]
            except UnicodeError:
                return Outcome(Kind.REJECTED, reason="invalid internationalised hostname")
        if any(ord(c) < 32 or c == " " for c in body):
            return Outcome(Kind.REJECTED, reason="whitespace or control character in pattern")
    if not body.strip("*") and include is None and not is_regex and denyallow is None and not badfilter:
        # `*`, `$script`, `|` ... would match everything everywhere: refuse rather than over-block
        return Outcome(Kind.REJECTED, reason="pattern matches every URL")

    if types_pos:
        types = types_pos & ~types_neg
    elif types_neg:
        types = ALL_TYPES & ~types_neg
    else:
        types = ALL_TYPES
    pf = ParsedFilter(s, exception, body, is_regex, host_anchor, start_anchor, end_anchor, types,
                      party, include, exclude, denyallow, match_case, important, badfilter, redirect)
    if badfilter:
        return Outcome(Kind.NETWORK, pf)
    if non_blocking or not (types & ALL_TYPES):
        return Outcome(Kind.NON_BLOCKING, pf, reason="never blocks a request")
    if inactive:
        return Outcome(Kind.INACTIVE, pf, reason=f"unsupported option {inactive!r}")
    return Outcome(Kind.NETWORK, pf)


def badfilter_target(text: str) -> str:
    """The filter text a `$badfilter` filter disables: the same filter without that option."""
    exception = text.startswith("@@")
    rest = text[2:] if exception else text
    pat, opts = _split_options(rest)
    kept = [o for o in (opts or "").split(",") if o.strip().lower() != "badfilter"]
    out = pat + ("$" + ",".join(kept) if kept else "")
    return ("@@" if exception else "") + out


def parse_filter(text: str) -> ParsedFilter | None:
    """The parsed network filter of one line, or None when the line is not an active network filter
    (comment, cosmetic, rejected, non-blocking or inactive). What the DNR compiler is given."""
    out = parse_line(text)
    return out.filter if out.kind is Kind.NETWORK else None
