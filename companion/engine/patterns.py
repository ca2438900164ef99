"""Translate Adblock Plus URL patterns into matchers, and pick index tokens.

Why our own translation: an ABP pattern (`||host^`, `|`, `*`, `^`) becomes a Python `re` pattern whose
wildcards are wrapped in *atomic groups*, so matching never backtracks across a `*` (see
`abp_to_regex`). Regex filters (`/.../`) are not translated: they go to google-re2 (linear time),
see `compile_regex_filter`.

Tokens: a request URL is cut into tokens, the maximal runs of `[a-z0-9%]` (after lowercasing).
A filter can be indexed under a token of its pattern only if that run of characters must appear
as a *whole* URL token in every URL the filter matches, i.e. it is bounded on both sides by
something that is not a token character (a literal like `/` or `.`, a `^` separator, or an
anchor). `ads` is a safe token of `/ads/banner`, `banner` is not (the URL may hold `banners`).
"""
from __future__ import annotations

import re
from typing import Iterable

import re2

# Characters that make up URL tokens. `%` is included so that percent-escapes stay inside a token
# (the same choice uBlock Origin makes); everything else splits tokens.
TOKEN_RE = re.compile(r"[a-z0-9%]{2,}")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789%")
# The fast way to cut a lowercased URL into the same tokens (plus 1-character ones, which no
# filter is indexed under): bytes.translate maps every non-token byte to a space, then split().
# About three times faster than TOKEN_RE.findall; tokens are bytes, as are the index's keys.
TOKEN_TABLE = bytes(i if chr(i) in _TOKEN_CHARS else 32 for i in range(256))


def url_tokens(lurl: str) -> list[bytes]:
    """Tokens of a lowercased URL, as bytes (see TOKEN_TABLE)."""
    return lurl.encode("utf-8", "replace").translate(TOKEN_TABLE).split()

# ABP's separator `^`: any character but a letter, a digit, or one of `_ - . %`; also matches the
# end of the URL. The URL has been lowercased unless the filter is match-case, hence both cases.
_SEP = r"(?:[^A-Za-z0-9_.%\-]|$)"

# `||` : start of the hostname or of one of its labels: scheme, `//`, optional userinfo, then any
# number of whole labels. The characters before the match stay inside the authority.
_HOST_ANCHOR = r"[^:/?#]+:(?://)?(?:[^/?#]*[.@])?"

# Tokens so common in URLs that indexing a filter under them would make it a candidate for most
# requests (scheme, top-level domains, big CDNs, file extensions, usual path and query words).
# A filter is indexed under one of these only when it has nothing else; among the rest the token
# shared by the fewest filters wins, then the longest.
BAD_TOKENS = frozenset("""
http https www ws wss com net org co uk de fr es it br ar mx cl io ru jp cn au ca us eu info tv me
cdn cdns static static1 assets asset media img imgs image images js css min max api apis v1 v2 v3
v4 id ids en html htm php asp aspx jsp cgi jpg jpeg png gif webp svg ico json xml txt woff woff2
ttf otf eot mp4 mp3 m3u8 ts wp content uploads includes themes plugins dist build public lib libs
vendor vendors scripts script styles style fonts font app apps main index page pages view data
file files user users search ver cb rnd callback type format width height size lang locale
utm_source utm_medium utm_campaign utm_content utm_term ref src source url uri path query
google googleapis gstatic googleusercontent googletagmanager googlesyndication doubleclick
facebook fbcdn cloudfront amazonaws akamaihd akamaized akamai youtube ytimg twitter twimg
jsdelivr cloudflare unpkg gravatar bootstrap jquery wordpress com%2f http%3a https%3a
0 1 2 3 4 5 6 7 8 9 00 10 100 11 12 13 14 15 16 20 2020 2021 2022 2023 2024 2025 2026 true false
null undefined home default common core client web site sites www2 m mobile desktop amp
""".split())


def _escape_segment(segment: str) -> str:
    """Regex for one `*`-free piece of an ABP pattern (literal text and `^` separators)."""
    out = []
    for ch in segment:
        out.append(_SEP if ch == "^" else re.escape(ch))
    return "".join(out)


def abp_to_regex(body: str, host_anchor: bool, start_anchor: bool, end_anchor: bool,
                 rest_of_host: bool = False) -> str | None:
    """Regex source for an ABP pattern body (anchors already removed); None if it matches any URL.

    The result is meant for `pattern.match(url, pos)` (anchored at `pos`, never `search`): each
    `*`-separated segment after the first is wrapped in `(?>.*?SEG)`, an atomic group that finds
    the *earliest* occurrence of SEG and never gives it back. Taking the earliest occurrence of each
    segment is always right for wildcard patterns (segments have fixed length, so an earlier match
    never hurts the following ones), and it makes the cost linear per segment instead of the
    polynomial backtracking of `.*a.*b.*c`.

    `rest_of_host=True` builds the matcher for what follows a hostname that the index has already
    matched: it is applied with `match(url, end_of_hostname)`.
    """
    parts = body.split("*")
    if end_anchor and parts and parts[-1] == "":
        end_anchor = False  # `foo*|`: the end anchor is satisfied by anything
    pieces = [p for p in parts if p]
    if not pieces:
        if end_anchor and (start_anchor or host_anchor):
            return None  # `||*|`-like nonsense: treated as match-all
        return None
    anchored_first = (host_anchor or start_anchor or rest_of_host) and parts[0] != ""
    out = []
    if host_anchor and not rest_of_host:
        out.append(_HOST_ANCHOR)
    for i, piece in enumerate(pieces):
        seg = _escape_segment(piece)
        last = i == len(pieces) - 1
        if last and end_anchor:
            seg += "$"
        if i == 0 and anchored_first:
            out.append(seg)
        else:
            out.append("(?>.*?" + seg + ")")
    return "".join(out)


def longest_literal(body: str) -> str:
    """Longest `*`/`^`-free piece of an ABP pattern body, lowercased: a substring of every URL
    the pattern matches (lowercased)."""
    best = ""
    for part in body.lower().split("*"):
        for piece in part.split("^"):
            if len(piece) > len(best):
                best = piece
    return best


def literal_pieces(body: str) -> tuple[str, ...]:
    """The `*`/`^`-free pieces of an ABP pattern body, lowercased, in order: every URL the
    pattern matches contains them in this order without overlap (a `^` or `*` sits between two
    pieces), so finding them one after the other is a necessary condition checked before the
    regex."""
    return tuple(p for part in body.lower().split("*") for p in part.split("^") if p)


def pattern_tokens(body: str, host_anchor: bool, start_anchor: bool, end_anchor: bool) -> list[str]:
    """Tokens of an ABP pattern that every matching URL must contain as whole tokens."""
    low = body.lower()
    tokens = []
    n = len(low)
    i = 0
    while i < n:
        if low[i] not in _TOKEN_CHARS:
            i += 1
            continue
        j = i
        while j < n and low[j] in _TOKEN_CHARS:
            j += 1
        left_ok = (low[i - 1] != "*") if i > 0 else (host_anchor or start_anchor)
        right_ok = (low[j] != "*") if j < n else end_anchor
        if left_ok and right_ok and j - i >= 2:
            tokens.append(low[i:j])
        i = j
    return tokens


# --- regex filters --------------------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a rejected pattern is counted, not printed to stderr
_RE2_OPTIONS.max_mem = 2 << 20    # DNR-like memory budget; bigger programs are refused


class RegexRejected(ValueError):
    """A regex filter that RE2 cannot compile (backreference, lookaround, too big...)."""


# Linear time is not cheap time: RE2's cost per URL grows with its program, and a counted
# repetition like `[^!]{1000}` makes a program of thousands of instructions that defeats the DFA
# (~0.2 s per URL), as does a big alternation of classes (~0.5 s). EasyList's and EasyPrivacy's
# largest regex programs are ~830 instructions, with repetitions up to {100,}; the caps leave room.
MAX_REGEX_PROGRAM = 2000
MAX_REGEX_REPEAT = 200
MAX_REGEX_LENGTH = 4096  # characters of the filter's source
# A regex filter is tested only on URLs up to this many characters (longer ones never match a
# regex filter): RE2 is linear in the text, so this bounds one test whatever a page requests.
MAX_REGEX_SUBJECT = 4096
_REPEAT_RE = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")


def _repeat_problem(source: str) -> str | None:
    """A counted repetition above the cap (`x{1000}`, `x{5,1000}`), read the way RE2 reads it."""
    for match in _REPEAT_RE.finditer(source):
        low, high = match.group(1), match.group(2)
        biggest = max(int(low[:9]), int(high[:9]) if high else 0)
        if biggest > MAX_REGEX_REPEAT:
            return f"counted repetition {{{match.group(0)[1:-1]}}} is above {MAX_REGEX_REPEAT}"
    return None


def compile_regex_filter(source: str, match_case: bool):
    """Compile a `/.../` filter with google-re2 (linear time, no catastrophic backtracking), refusing
    regexes whose cost per URL is unbounded in practice: too long a source, counted repetitions above
    :data:`MAX_REGEX_REPEAT`, or an RE2 program above :data:`MAX_REGEX_PROGRAM` instructions."""
    if len(source) > MAX_REGEX_LENGTH:
        raise RegexRejected(f"regex longer than {MAX_REGEX_LENGTH} characters")
    problem = _repeat_problem(source)
    if problem:
        raise RegexRejected(problem)
    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = _RE2_OPTIONS.max_mem
    opts.case_sensitive = match_case
    try:
        compiled = re2.compile(source, opts)
    except Exception as exc:  # re2.error and friends: the message says why
        raise RegexRejected(str(exc)) from None
    size = max(compiled.programsize, getattr(compiled, "reverseprogramsize", 0) or 0)
    if size > MAX_REGEX_PROGRAM:
        raise RegexRejected(f"regex program of {size} instructions is above {MAX_REGEX_PROGRAM}")
    return compiled


_CLASS_ESCAPES = frozenset("dDwWsSbBpPxuUAzZQEC0123456789")


def _regex_atoms(source: str) -> list[str | None] | None:
    """Top-level atoms of a regex: a literal character, or None for anything else (group, class,
    `.`, anchor, quantified atom). None when the regex has a top-level alternation."""
    atoms: list[str | None] = []
    i, n, depth = 0, len(source), 0
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n:
            nxt = source[i + 1]
            if depth == 0:
                atoms.append(None if (nxt.isalnum() or nxt in _CLASS_ESCAPES) else nxt)
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < n and source[j] == "^":
                j += 1
            if j < n and source[j] == "]":
                j += 1
            while j < n and source[j] != "]":
                j += 2 if source[j] == "\\" else 1
            if depth == 0:
                atoms.append(None)
            i = j + 1
            continue
        if ch == "(":
            depth += 1
            if depth == 1:
                atoms.append(None)
            i += 1
            continue
        if ch == ")":
            depth = max(0, depth - 1)
            i += 1
            continue
        if depth == 0:
            if ch == "|":
                return None
            if ch in "?*+{":
                if atoms:
                    atoms[-1] = None  # optional or repeated: its extent is unknown
                if ch == "{":
                    j = source.find("}", i)
                    i = n if j < 0 else j + 1
                    continue
            elif ch in ".^$":
                atoms.append(None)
            else:
                atoms.append(ch.lower())
        i += 1
    return atoms


def regex_pieces(source: str) -> tuple[str, ...]:
    """The literal runs (lowercased) of a regex filter's top level, in order: every URL the regex
    matches contains them in this order without overlap, so finding them one after the other is
    a necessary condition checked before RE2 runs. () when the regex has a top-level alternation."""
    atoms = _regex_atoms(source) or []
    pieces, run = [], []
    for a in atoms + [None]:
        if a is None:
            if run:
                pieces.append("".join(run))
            run = []
        else:
            run.append(a)
    return tuple(pieces)


def regex_literal(source: str) -> str:
    """Longest literal text (lowercased) that every URL a regex filter matches contains."""
    return max(regex_pieces(source), key=len, default="")


def regex_tokens(source: str) -> list[str]:
    """Tokens a regex filter certainly requires as whole URL tokens; [] when unsure.

    Conservative scan of the top level of the regex: a top-level alternation gives nothing;
    groups, classes, `.`, anchors and quantified atoms are "unknown" atoms; a run of literal token
    characters counts only if it sits between two literal non-token characters (e.g. `\\.154\\.`).
    """
    atoms = _regex_atoms(source)
    if atoms is None:
        return []
    tokens = []
    k = 0
    while k < len(atoms):
        a = atoms[k]
        if a is None or a not in _TOKEN_CHARS:
            k += 1
            continue
        j = k
        while j < len(atoms) and atoms[j] is not None and atoms[j] in _TOKEN_CHARS:
            j += 1
        left = atoms[k - 1] if k > 0 else None
        right = atoms[j] if j < len(atoms) else None
        if left is not None and right is not None and j - k >= 2:
            tokens.append("".join(atoms[k:j]))  # type: ignore[arg-type]
        k = j
    return tokens


def pick_token(candidates: Iterable[str], counts: dict[str, int]) -> str | None:
    """The rarest candidate (fewest filters already counted under it); common URL words last."""
    best, best_score = None, None
    for tok in candidates:
        score = (tok in BAD_TOKENS, counts.get(tok, 0), -len(tok))
        if best_score is None or score < best_score:
            best, best_score = tok, score
    return best
