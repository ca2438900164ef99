"""What the engine's speed (and its slowest 1 %) relies on, pinned without timing anything.

1. Patterns made of literal pieces and `*` (plus at most a trailing `^`) are decided with
   str.find (filters.FIND_*), never compiled to a regex; they must decide exactly like the regex
   they replace.
2. Regex-kind filters check their literal pieces in order before running (or compiling) the
   regex.
(Plain ASCII hostnames are split into registrable domain and suffix by set lookups in
companion/sites.py, the one site rule; its agreement with tldextract is tested in test_sites.py.)
"""
from __future__ import annotations

import json
import random
import re
import pytest

from companion.engine import Engine
from companion.engine.engine import _AUTHORITY_MATCH
from companion.engine.filters import (ALWAYS, ANCHORED, END, FIND_AFTER_HOST, FIND_FROM_START,
                                      RE_AFTER_HOST, RE_FROM_START, SEP_AFTER)
from companion.engine.compiling import _leading_host, compile_filter
from companion.engine.parser import parse_line
from companion.engine.patterns import abp_to_regex


def compiled(text: str):
    return compile_filter(parse_line(text).filter, 0)[2]


def reference_regex(text: str):
    """The regex the engine used before the FIND kinds (still used for the other patterns)."""
    pf = parse_line(text).filter
    host = _leading_host(pf.body) if pf.host_anchor else ""
    if host:
        return re.compile(abp_to_regex(pf.body[len(host):], False, False, pf.end_anchor,
                                       rest_of_host=True)), True
    return re.compile(abp_to_regex(pf.body, pf.host_anchor, pf.start_anchor, pf.end_anchor)), False


@pytest.mark.parametrize("text,kind,pieces,anchors", [
    ("/collect?v=", ALWAYS, ("/collect?v=",), 0),  # the index's `lit in url` is the whole test
    ("/ads/*/track.js", FIND_FROM_START, ("/ads/", "/track.js"), 0),
    ("|https://a.example/x", FIND_FROM_START, ("https://a.example/x",), ANCHORED),
    ("/pixel.gif|", FIND_FROM_START, ("/pixel.gif",), END),
    ("/banner/ad^", FIND_FROM_START, ("/banner/ad",), SEP_AFTER),
    ("||google.com/pagead/1p-conversion/", ALWAYS, ("/pagead/1p-conversion/",), ANCHORED),
    ("||connect.facebook.net/*/fbds.js$third-party", FIND_AFTER_HOST, ("/", "/fbds.js"), ANCHORED),
    ("||google.com/log^$domain=~accounts.google.com", FIND_AFTER_HOST, ("/log",),
     ANCHORED | SEP_AFTER),
])
def test_literal_patterns_take_the_find_form(text, kind, pieces, anchors):
    f = compiled(text)
    assert (f.kind, f.pieces, f.anchors, f.src) == (kind, pieces, anchors, None)


@pytest.mark.parametrize("text", [
    "/ads^banner",              # `^` inside the pattern
    "||ads.*.example.com^",     # `||` left to match inside the URL
    "/Track.js$match-case",     # case matters: the regex works on the original URL
    "/ads/*^",                  # a separator anywhere after the pieces
])
def test_other_patterns_keep_the_regex_with_a_pieces_prefilter(text):
    f = compiled(text)
    assert f.kind in (RE_FROM_START, RE_AFTER_HOST)
    assert f.src


def test_a_pieces_prefilter_rejects_before_compiling():
    f = compiled("/ads^*/banner/*/track^")
    assert f.pieces == ("/ads", "/banner/", "/track")
    url = "https://x.example/ads/other/thing"
    assert not f.test(url, url, "x.example", len("https://x.example"), "", 0xFFFFFFFF, True)
    assert f.rx is None  # never compiled: a piece was missing
    url = "https://x.example/ads/x/banner/1/track?"
    assert f.test(url, url, "x.example", len("https://x.example"), "", 0xFFFFFFFF, True)


def _random_cases(seed: int, n: int):
    rng = random.Random(seed)
    alphabet = "ab/.?=&-_%1"
    for _ in range(n):
        pieces = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
                  for _ in range(rng.randint(1, 3))]
        body = "*".join(pieces)
        if rng.random() < 0.3:
            body = "*" + body
        if rng.random() < 0.3:
            body += "^"
        elif rng.random() < 0.3:
            body += "*"
        prefix = rng.choice(["", "|https://h.example/", "||h.example/", "||h.example^"])
        suffix = "|" if rng.random() < 0.25 and not body.endswith("^") else ""
        text = prefix + body + suffix
        url = "https://h.example/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        yield text, url


def test_find_form_decides_like_the_regex_on_random_patterns():
    checked = 0
    for text, url in _random_cases(14, 6000):
        pf = parse_line(text).filter
        if pf is None:
            continue
        where, _, f, _ = compile_filter(pf, 0)
        if f is None or f.kind not in (FIND_FROM_START, FIND_AFTER_HOST, ALWAYS):
            continue
        rx, after_host = reference_regex(text)
        host_end = _AUTHORITY_MATCH(url).end(1)
        pos = host_end if after_host else 0
        # The index's whole protocol: head after the host, literal anywhere, then test().
        decided = (url.startswith(f.head, host_end) and f.lit in url
                   and f.test(url, url, "h.example", host_end, "", 0xFFFFFFFF, True))
        assert decided == (rx.match(url, pos) is not None), (text, url, f.kind)
        checked += 1
    assert checked > 2000  # the generator really exercises the FIND form


def test_corpus_decisions_compile_almost_no_regex(list_paths, corpus_path):
    """With EasyList+EasyPrivacy, deciding the whole corpus compiles only a handful of regexes
    (each was a ~100 us first-use cost); the FIND form decides the rest."""
    engine = Engine.from_lists([(p.stem, p.read_text(encoding="utf-8")) for p in list_paths])
    with corpus_path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 4 == 0:
                r = json.loads(line)
                engine.match(r["url"], r["source_url"], r["type"])
    compiled_now = [f for idx in (engine._blocks, engine._exceptions)
                    for f in idx.filters if f.rx is not None]
    find = sum(f.pieces is not None and f.src is None  # decided by the index or str.find
               for idx in (engine._blocks, engine._exceptions) for f in idx.filters)
    assert len(compiled_now) < 40, [f.text for f in compiled_now][:40]
    assert find > 10000


def test_token_indexed_filters_carry_all_their_tokens_also_from_the_cache(tmp_path):
    """Index.find_rest skips a candidate whose other tokens are not in the URL without scanning
    the URL; the token set must survive the cache (filters are rebuilt from their text)."""
    lst = tmp_path / "mini.txt"
    lst.write_text("/stats/collect/*$image\n/stats/other.js\n", encoding="utf-8")
    built = Engine.from_files([lst])
    cached_dir = tmp_path / "cache"
    Engine.from_files([lst], cache_dir=cached_dir)
    loaded = Engine.from_files([lst], cache_dir=cached_dir)
    long_query = "?" + "&".join(f"k{i}=v{i}" for i in range(60))
    for engine in (built, loaded):
        for q in ("", long_query):
            assert engine.match("https://t.example/stats/collect/x.gif" + q, "https://site.example/",
                                "image")
            assert engine.match("https://t.example/stats/collectx/x.gif" + q,
                                "https://site.example/", "image") is None
            assert engine.match("https://t.example/x.gif?u=/stats/collect/&" + q[1:],
                                "https://site.example/", "image")
        assert engine.match("https://t.example/stats/collect/x.gif", "https://site.example/", "image")
        assert engine.match("https://t.example/stats/other.js", "https://site.example/", "script")
        assert engine.match("https://t.example/stats/collectx/x.gif", "https://site.example/",
                            "image") is None
        index = engine._blocks
        fs = [f for key in list(index.by_token) for f in (
            index._bucket(index.by_token, key) if isinstance(index.by_token[key], int)
            else index.by_token[key])]
        assert {f.text: f.toks for f in fs} == {
            "/stats/collect/*$image": frozenset({b"stats", b"collect"}),
            "/stats/other.js": frozenset({b"stats", b"other"})}  # `js` may go on (`.jsx`)


def test_every_token_a_bucketed_filter_needs_is_known_also_from_the_cache(tmp_path):
    """Index.find_rest tests a candidate's other tokens against the URL tokens in
    Index.needed: a needed token missing from it would make its filter miss every long URL."""
    lst = tmp_path / "mini.txt"
    filler = "".join(f"/zzfill{i}/x.\n" for i in range(80))  # a big token index
    lst.write_text(filler + "/stats/collect/*$image\n/stats/other.js\n/zzrare/beacon?\n",
                   encoding="utf-8")
    cached_dir = tmp_path / "cache"
    Engine.from_files([lst], cache_dir=cached_dir)
    for engine in (Engine.from_files([lst]), Engine.from_files([lst], cache_dir=cached_dir)):
        index = engine._blocks
        assert index.small_token_filters() == ()
        buckets = {k: (index._bucket(index.by_token, k) if isinstance(b, int) else b)
                   for k, b in list(index.by_token.items())}
        assert all(buckets.values())  # no empty bucket to walk
        needed = set()
        for fs in buckets.values():
            for f in fs:
                needed |= f.toks or set()
        assert {b"stats", b"collect", b"other", b"zzrare", b"beacon"} <= needed
        assert set(index.needed) == needed | set(buckets)
        assert all(not b for k, b in index.needed.items() if k not in buckets)
        page = "https://site.example/"
        assert engine.match("https://t.example/zzrare/beacon?a=1", page, "image")
        assert engine.match("https://t.example/zzrare/beacons?", page, "image") is None
        assert engine.match("https://t.example/x.gif?u=/zzrare/beacon?", page, "image")
        long = "&".join(f"k{i}=v{i}" for i in range(80))
        assert engine.match("https://t.example/zzrare/beacon?" + long, page, "image")
        assert engine.match("https://t.example/x.gif?" + long + "&u=/zzrare/beacon?", page, "image")
        assert engine.match("https://t.example/zzrare/beacons?" + long, page, "image") is None
        assert engine.match("https://t.example/" + long + "/stats/collect/1", page, "image")
        assert engine.match("https://t.example/" + long + "/stats/collectx/1", page,
                            "image") is None


@pytest.mark.parametrize("text,head,lit", [
    ("||google.com/pagead/1p-conversion/", "/pagead/1p-conversion/", ""),
    ("||google.com/log^$domain=~accounts.google.com", "/log", ""),
    ("||ads.example/b/*/big.gif", "/b/", "/big.gif"),
    ("||connect.facebook.net^*/fbds.js$third-party", "", "/fbds.js"),
])
def test_hostname_filters_test_what_follows_the_host_first(text, head, lit):
    """Index.find_by_host and Engine.match test `url.startswith(head, host_end)` before the
    literal scan: a host with many path filters and kilobytes of query costs little."""
    f = compiled(text)
    assert (f.head, f.lit) == (head, lit)


def test_hostname_filters_still_match_long_urls():
    engine = Engine.from_lists([("l", "||track.example/pagead/1p-conversion/\n"
                                      "||track.example/log^\n@@||track.example/log/ok^\n")])
    q = "?" + "&".join(f"k{i}=v{i}" for i in range(300))
    page = "https://site.example/"
    assert engine.match("https://www.track.example/pagead/1p-conversion/1/" + q, page, "image")
    assert engine.match("https://track.example/log" + q, page, "image")
    assert engine.match("https://track.example/logs" + q, page, "image") is None
    allowed = engine.match("https://track.example/log/ok" + q, page, "image")
    assert allowed and not allowed.blocked
    assert engine.match("https://track.example/x" + q + "/pagead/1p-conversion/", page, "image") is None


@pytest.mark.parametrize("source,pieces", [
    (r"^https:\/\/cdn\.example\.net\/npm\/[-a-z_]{4,22}@latest\/dist\/s\.min\.js$",
     ("https://cdn.example.net/npm/", "@latest/dist/s.min.js")),
    (r"^https?:\/\/s3\.*\.amazonaws\.com\/[a-f0-9]{45,}\/", ("http", "://s3", ".amazonaws.com/", "/")),
    (r"(?i)Foo\.bar+baz", ("foo.ba", "baz")),  # `r+`: its extent is unknown, the run stops
    (r"ads|track", ()),                         # a top-level alternation: nothing is certain
])
def test_regex_filters_check_their_literal_runs_in_order_before_re2(source, pieces):
    """A regex filter is a candidate for few requests, so its RE2 program is cold when it runs
    (~36 us against ~4 us hot): its literal runs are found in order first."""
    from companion.engine.patterns import regex_pieces
    assert regex_pieces(source) == pieces
    f = compiled("/" + source + "/")
    assert f.pieces == (pieces if len(pieces) > 1 else None)


def test_regex_literal_runs_never_reject_a_url_the_regex_matches(list_paths, corpus_path):
    """Over every regex filter of EasyList+EasyPrivacy and the corpus URLs plus URLs built to
    match: whenever RE2 finds the regex, the runs are in the URL in order."""
    from companion.engine.filters import RE2_SEARCH
    filters = []
    for p in list_paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            out = parse_line(line)
            if out.filter is not None and out.filter.is_regex:
                try:
                    f = compile_filter(out.filter, 0)[2]
                except Exception:
                    continue
                if f.kind == RE2_SEARCH and f.pieces:
                    try:
                        filters.append((f, f.compile()))
                    except Exception:
                        continue
    assert len(filters) > 10
    urls = [json.loads(line)["url"].lower() for line in corpus_path.open(encoding="utf-8")][::3]
    # URLs made of a filter's own runs (joined by plausible fillers), so that some match.
    urls += ["https://x.example/" + "a1".join(f.pieces) for f, _ in filters]
    urls += ["".join(f.pieces) for f, _ in filters]
    matched = 0
    for f, rx in filters:
        for url in urls:
            if rx.search(url) is None:
                continue
            matched += 1
            pos = 0
            for piece in f.pieces:
                pos = url.find(piece, pos)
                assert pos >= 0, (f.text, url)
                pos += len(piece)
    assert matched > 1000, matched


def test_long_urls_look_at_the_path_first_and_miss_nothing_in_the_query():
    """Index.find_rest cuts a long URL's tokens in two passes, path then query: a filter whose
    tokens are all in the path is decided in the first, one that also needs a query token (or
    is found only through one) in the second. Every case must decide as on a short URL."""
    filler = [f"/zzfill{i}/x." for i in range(80)]  # a big token index (not folded per page)
    engine = Engine.from_lists([("l", "\n".join(filler + [
        "/zzpath/beacon.",            # path tokens only
        "/zzpath/*&zzq=1&",           # a path token and a query token
        "&zzqonly=",                  # found through a query token only
        "/zzboth/*/x?*&zzlate=",      # key may be chosen in either part
        "@@/zzpath/*&zzok=$image",    # an exception needing a query token
        "/zzp2/*&zzcommon=",          # keyed under its path token (the rarer), needs a query one
        "&zzcommon=a$script",
        "&zzcommon=b$script",
    ]))])
    key = [k for k in engine._blocks.by_token if engine._blocks.by_token[k] and any(
        f.text == "/zzp2/*&zzcommon=" for f in engine._blocks.by_token[k])]
    assert key == [b"zzp2"]
    assert engine._blocks.small_token_filters() == ()
    page = "https://site.example/"
    pad = "&".join(f"p{i}=v{i}" for i in range(80))  # past the long-URL length
    cases = {
        "https://t.example/zzpath/beacon.gif?" + pad: True,
        "https://t.example/zzpath/x?" + pad + "&zzq=1&": True,
        "https://t.example/zzpath/x?" + pad + "&zzq=2&": False,
        "https://t.example/a?" + pad + "&zzqonly=1": True,
        "https://t.example/zzboth/a/x?" + pad + "&zzlate=1": True,
        "https://t.example/zzboth/a/y?" + pad + "&zzlate=1": False,
        "https://t.example/a?u=/zzpath/beacon.&" + pad: True,  # path tokens inside the query
        "https://t.example/zzpath/beacon.gif?" + pad + "&zzok=1": None,  # excepted
        "https://t.example/zzp2/x?" + pad + "&zzcommon=1": True,  # deferred to the second pass
        "https://t.example/zzp2/x?" + pad + "&zzcommonx=1": False,
    }
    for url, want in cases.items():
        assert len(url) > 300
        m = engine.match(url, page, "image")
        got = None if (m is not None and not m.blocked) else bool(m)
        assert got == want, url[-60:]
        short = url.replace(pad, "p=1")  # the same decision on a short URL (one pass)
        m = engine.match(short, page, "image")
        assert (None if (m is not None and not m.blocked) else bool(m)) == want, short


def test_a_popular_hosts_candidates_are_keyed_by_what_follows_the_host():
    """A context with many host candidates (google.com's path filters) keys them by the first
    characters of their head (index.HostSplit): each request reads only those that can match,
    plus the short heads. Every case decides as a plain walk would."""
    from companion.engine.index import HostSplit
    paths = [f"/zz{i:02d}/pixel" for i in range(12)]
    engine = Engine.from_lists([("l", "\n".join(
        [f"||pop.example{p}$image" for p in paths]
        + ["||pop.example/a^$image", "||pop.example^*/deep/x.gif$image", "||pop.example/zz03/q"]))])
    page = "https://site.example/"
    assert engine.match("https://pop.example/zz00/pixel?x", page, "image")  # makes the context
    split = engine._blocks._ctx_cache[("pop.example", "site.example", 2)]
    assert isinstance(split, HostSplit)
    assert {f.text for f in split.short} == {"||pop.example/a^$image",
                                             "||pop.example^*/deep/x.gif$image"}
    for url, want in {
        "https://pop.example/zz07/pixel.gif": True,
        "https://www.pop.example/zz11/pixel": True,
        "https://pop.example/zz03/q": True,
        "https://pop.example/zz03/pixe": False,
        "https://pop.example/zz99/pixel": False,
        "https://pop.example/a": True,            # a head shorter than the key
        "https://pop.example/ab": False,
        "https://pop.example/q/deep/x.gif": True,  # no head: tried for every path
        "https://pop.example:8443/zz07/pixel": False,  # the head must follow the hostname
        "https://pop.example/z": False,
        "https://pop.example": False,
    }.items():
        assert bool(engine.match(url, page, "image")) == want, url
    assert engine.match("https://pop.example/zz07/pixel", page, "script") is None


POPULAR = [  # one token (zzpop) keys them all: a popular token's bucket (index.TokenSplit)
    "/zzpop/a", "/zzpop?b=", "_zzpop.js", "-zzpop-", ".zzpop/", "zzpop/x/", "/y/zzpop",
    "/zzpop|", "|https://t.example/zzpop/c", "/zzpop^", "/zzpop/*/d.gif",
    "/zzpop.$script", "/x/*/zzpop/", "/zzpop/a$image", "/ZZPop/e/$match-case",
    "/zzpop/*/images.gif", "^zzpop^",  # literal without the token / the token alone
]


@pytest.mark.parametrize("cached", [False, True])
def test_a_popular_tokens_bucket_is_keyed_by_the_characters_around_the_token(tmp_path, cached):
    """A short URL reads only the filters of a popular token whose literal can sit where the URL
    has the token (the characters just before and after it), plus those whose literal does not
    hold the token or holds it alone; every case decides as a walk of the whole bucket would
    (the same filters on a long URL, which walks the whole bucket, and a regex per filter)."""
    from companion.engine.index import TokenSplit
    lst = tmp_path / "pop.txt"
    filler = [f"/zzfill{i}/x" for i in range(70)]  # past a small index (no token walk at all)
    lst.write_text("\n".join(POPULAR + filler) + "\n")
    engine = Engine.from_files([lst], cache_dir=tmp_path / "c") if cached else Engine.from_lists(
        [("pop", lst.read_text())])
    if cached:  # the second load reads the cache: buckets are made on first use
        engine = Engine.from_files([lst], cache_dir=tmp_path / "c")
    page = "https://site.example/"
    urls = ["https://t.example/zzpop/a", "https://t.example/q/zzpop?b=1", "https://t.example/x_zzpop.js",
            "https://t.example/a-zzpop-b", "https://t.example/s.zzpop/", "https://t.example/zzpop/x/",
            "https://t.example/y/zzpop", "https://t.example/zzpop", "https://t.example/zzpop/c",
            "https://t.example/zzpop?", "https://t.example/zzpop/q/d.gif", "https://t.example/zzpop.js",
            "https://t.example/x/1/zzpop/", "https://t.example/zzpop/e/", "https://t.example/ZZPop/e/",
            "https://t.example/zzpop.x", "https://t.example/zzpopx/a", "https://t.example/a/zzpop_b",
            "https://zzpop.example/", "https://t.example/zzpop/zzpop?b", "https://t.example/?zzpop",
            "https://t.example/q?u=/zzpop/a&zzpop=1", "zzpop://x/zzpop",
            "https://t.example/zzpop/1/images.gif", "https://t.example/zzpop1/images.gif",
            "https://t.example/a=zzpop&", "https://t.example/a=zzpopx&"]
    pad = "&" + "&".join(f"p{i}=v{i}" for i in range(80))  # past the long-URL length: whole bucket
    for kind in ("image", "script"):
        for url in urls:
            want = [t for t in POPULAR if re.search(
                abp_to_regex(*(lambda pf: (pf.body, pf.host_anchor, pf.start_anchor, pf.end_anchor))(
                    parse_line(t).filter)), url if "match-case" in t else url.lower())
                and ("$image" not in t or kind == "image") and ("$script" not in t or kind == "script")]
            assert bool(engine.match(url, page, kind)) == bool(want), (url, kind, want)
            if "?" in url:
                assert bool(engine.match(url + pad, page, kind)) == bool(want), (url, kind)
    split = engine._blocks.short[b"zzpop"]
    assert isinstance(split, TokenSplit)
    anywhere = {"/zzpop/*/images.gif", "^zzpop^", "/zzpop|", "/zzpop^"}  # not between two characters
    assert {f.text for f in split.any} == anywhere
    assert {f.text for f in split.at("https://t.example/q/zzpop?b=1")} == {"/zzpop?b="} | anywhere
    assert {f.text for f in split.at("https://t.example/q/zzpop?b=1&u=/zzpop/")} == {
        "/zzpop?b=", "/zzpop/a", "/zzpop/*/d.gif", "/zzpop/a$image"} | anywhere


def test_what_the_index_reads_of_every_candidate_sits_first_in_a_filter():
    """The index reads types, lit, toks and head of each candidate it visits (then party and
    kind): they are the first slots, in the object's first cache line, and filters with the same
    type mask share one int object (a candidate visited in the middle of a browsing session is
    cold memory)."""
    from companion.engine.filters import Filter
    assert Filter.__slots__[:6] == ("types", "lit", "toks", "head", "party", "kind")
    a, b = compiled("/zzshare/a$~image,~script"), compiled("/zzshare/b$~script,~image")
    assert a.types == b.types and a.types > 256 and a.types is b.types
