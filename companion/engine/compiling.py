"""One parsed filter made ready to match: where it goes in the index and how its pattern is tested.

Why its own module: deciding a filter's *form* (a plain `||host^`, a hostname followed by a test
from the host's end, a `str.find` chain of literal pieces, a Python regex, or RE2 for `/regex/`
filters) is about the pattern alone; :mod:`.index` decides where the filter lives and how lookups
walk it. The index calls :func:`compile_filter` when it is built and :func:`filter_from_text` when
a cached index rebuilds a filter on first use.
"""
from __future__ import annotations

import re

from .filters import (ALWAYS, ANCHORED, END, FIND_AFTER_HOST, FIND_FROM_START, RE2_SEARCH,
                      RE_AFTER_HOST, RE_FROM_START, SEP_AFTER, Filter)
from .parser import ALL_TYPES, ParsedFilter, parse_line
from .patterns import (abp_to_regex, literal_pieces, longest_literal, pattern_tokens, regex_literal,
                       regex_pieces, regex_tokens)

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")


def _leading_host(body: str) -> str:
    """The hostname at the start of a `||` pattern when it is complete (followed by `^` or `/`)."""
    i = 0
    n = len(body)
    while i < n and body[i].lower() in _HOST_CHARS:
        i += 1
    host = body[:i].lower()
    if not host or host.startswith(".") or host.endswith(".") or ".." in host:
        return ""
    if i < n and body[i] in "^/":
        return host
    return ""


def _find_form(body: str, pf: ParsedFilter, after_host: bool) -> tuple[tuple[str, ...], int] | None:
    """(pieces, anchor bits) when the pattern can be decided with str.find (filters.FIND_*):
    not match-case, no `||` left to match (the index matched the hostname, or there was none),
    `^` at most once and only at the very end; None otherwise (the regex decides)."""
    if pf.match_case or (pf.host_anchor and not after_host):
        return None
    sep_after = body.endswith("^")
    core = body[:-1] if sep_after else body
    if "^" in core or (sep_after and pf.end_anchor):
        return None
    parts = core.lower().split("*")
    pieces = tuple(p for p in parts if p)
    if not pieces:
        return None
    anchors = 0
    if (after_host or pf.start_anchor) and parts[0] != "":
        anchors |= ANCHORED
    if pf.end_anchor and parts[-1] != "":
        anchors |= END
    if sep_after and parts[-1] != "":
        anchors |= SEP_AFTER
    elif sep_after:
        return None  # `*^`: a separator anywhere after the pieces; rare, the regex does it
    return pieces, anchors


def compile_filter(pf: ParsedFilter, list_id: int) -> tuple[str, str, Filter | None, list[str]]:
    """Where a parsed filter goes and its compiled form: ("plain", host, None, []),
    ("host", host, filter, []) or ("token", "", filter, candidate tokens). Used when building
    and again when a filter stored in the cache is first needed."""
    def make(kind: int, src: str | None, lit_from: str) -> Filter:
        pieces = literal_pieces(lit_from) if kind in (RE_FROM_START, RE_AFTER_HOST) else ()
        anchors = 0
        if kind in (RE_FROM_START, RE_AFTER_HOST):
            find = _find_form(lit_from, pf, kind == RE_AFTER_HOST)
            if find is not None:
                kind, src = (FIND_AFTER_HOST if kind == RE_AFTER_HOST else FIND_FROM_START), None
                pieces, anchors = find
        return Filter(pf.text, list_id, pf.exception, pf.important, pf.types, pf.party,
                      pf.include, pf.exclude, pf.denyallow, pf.match_case, kind, src,
                      longest_literal(lit_from),
                      pieces if (len(pieces) > 1 or kind >= FIND_FROM_START) else None, anchors)

    if pf.is_regex:
        f = make(RE2_SEARCH, pf.body, "")
        f.lit = regex_literal(pf.body)
        # Its other literal runs too, in order, before RE2 runs: a regex filter is a candidate
        # for a few requests only, and on those its program is cold (a search measured ~36 us
        # in the middle of a browsing session against ~4 us when hot).
        pieces = regex_pieces(pf.body)
        f.pieces = pieces if len(pieces) > 1 else None
        return "token", "", f, regex_tokens(pf.body)
    host = _leading_host(pf.body) if pf.host_anchor else ""
    if host:
        rest = pf.body[len(host):]
        if rest == "^" and not pf.end_anchor:
            plain_text = ("@@||" if pf.exception else "||") + host + "^"
            if (pf.text == plain_text and pf.types == ALL_TYPES and not pf.party
                    and pf.include is None and pf.exclude is None and pf.denyallow is None
                    and not pf.important):
                return "plain", host, None, []
            return "host", host, make(ALWAYS, None, ""), []
        src = abp_to_regex(rest, False, False, pf.end_anchor, rest_of_host=True)
        f = make(RE_AFTER_HOST if src else ALWAYS, src, rest)
        if src:
            f.head = re.split(r"[*^]", rest.lower(), maxsplit=1)[0]
            if f.lit == f.head:
                f.lit = ""  # the head test already proves it, without scanning the URL
            if f.kind == FIND_AFTER_HOST and f.pieces == (f.head,) and f.anchors == ANCHORED:
                f.kind = ALWAYS  # `||host/path`: the head test is the whole pattern
        return "host", host, f, []
    src = abp_to_regex(pf.body, pf.host_anchor, pf.start_anchor, pf.end_anchor)
    f = make(RE_FROM_START if src else ALWAYS, src, pf.body)
    if f.kind == FIND_FROM_START and f.anchors == 0 and f.pieces == (f.lit,):
        f.kind = ALWAYS  # one literal anywhere: the index's `lit in url` test is the whole pattern
    return ("token", "", f,
            pattern_tokens(pf.body, pf.host_anchor, pf.start_anchor, pf.end_anchor))


def set_tokens(f: Filter, tokens: list[str]) -> None:
    """Give a token-indexed filter its set of required tokens (see Filter.toks)."""
    toks = frozenset(t.encode("ascii") for t in tokens)
    f.toks = toks if len(toks) > 1 else None


def filter_from_text(text: str, list_id: int) -> Filter:
    out = parse_line(text)
    where, _, f, tokens = compile_filter(out.filter, list_id)
    if where == "token":
        set_tokens(f, tokens)  # type: ignore[arg-type]
    return f  # type: ignore[return-value]
