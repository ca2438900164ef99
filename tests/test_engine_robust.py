"""The engine survives hostile input: pathological regexes, garbage, huge lists, odd encodings,
and a cache that is stale, corrupt or writable by someone else."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from companion.engine import Engine
from companion.engine import cache as engine_cache


def _within(seconds: float, fn):
    """Run fn in a thread; fail (instead of hanging the suite) if it takes longer than `seconds`."""
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("v", fn()), daemon=True)
    start = time.monotonic()
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    return result["v"], time.monotonic() - start


# --- ReDoS --------------------------------------------------------------------------------------

def test_catastrophic_backtracking_regex_runs_in_linear_time():
    # `(a+)+$` takes exponential time on Python's `re` with this input (minutes);
    # google-re2 answers in microseconds.
    e = Engine.from_lists([("t", "/(a+)+$/\n")])
    url = "https://x.example/" + "a" * 5000 + "!"
    m, _ = _within(2.0, lambda: e.match(url, "https://page.example/", "script"))
    assert m is None
    m, _ = _within(2.0, lambda: e.match("https://x.example/aaaa", "https://page.example/", "script"))
    assert m is not None and m.blocked


def test_many_wildcards_on_a_long_url_stay_fast():
    e = Engine.from_lists([("t", "*a*a*a*a*a*a*a*a*a*a*c^\n/a*a*a*a*a*a*a*a*b")])
    url = "https://x.example/" + "a" * 20000
    m, _ = _within(2.0, lambda: e.match(url, None, "image"))
    assert m is None


def test_regex_features_re2_lacks_are_refused_not_emulated():
    e = Engine.from_lists([("t", r"/(\w+)\1/" + "\n" + r"/a(?!b)/" + "\n" + r"/(?<=x)y/")])
    assert e.stats["t"].rejected == 3 and e.stats["t"].used == 0


# --- garbage and size ---------------------------------------------------------------------------

def test_garbage_list_loads_and_counts():
    lines = ["\x00\x01\x02", "$$$$", "@@", "||", "|", "/", "//", "@@$script", "*$", "$domain=",
             "||a.example^$domain=|", "||b.example^$~", "ünïcödé/ads", "\ud800", "/[/", "/(/",
             "#" * 50, "a" * 70000, "||good.example^"]
    e = Engine.from_lists([("junk", "\n".join(lines))])
    st = e.stats["junk"]
    assert st.lines == len(lines)
    assert st.used + st.skipped + st.rejected + st.inactive + st.disabled == len(lines)
    assert st.used >= 1 and st.rejected >= 10
    assert e.match("https://good.example/", None, "script").blocked


def test_crlf_and_bom(tmp_path: Path):
    p = tmp_path / "crlf.txt"
    p.write_bytes(b"\xef\xbb\xbf||first.example^\r\n! c\r\n||second.example^$script\r\n")
    e = Engine.from_files([p])
    assert e.match("https://first.example/", None, "image").filter == "||first.example^"
    assert e.match("https://second.example/", None, "script").filter == "||second.example^$script"
    assert e.stats["crlf"].used == 2 and e.stats["crlf"].skipped == 1


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"||ok.example^\n\xff\xfe/ads\xc3\n")
    e = Engine.from_files([p])
    assert e.stats["bad"].used >= 1
    assert e.match("https://ok.example/", None, "image").blocked


def test_fifty_megabyte_list(tmp_path: Path):
    # 50 MB: mostly comments and cosmetic rules (cheap lines), a few huge lines, some filters.
    p = tmp_path / "huge.txt"
    chunk = ("! " + "x" * 200 + "\n") * 50 + "example.com##.ad-" + "y" * 100 + "\n" + "||h{}.example^\n"
    with p.open("w") as fh:
        for i in range(4500):
            fh.write(chunk.replace("{}", str(i)))
        fh.write("/" + "z" * 4_000_000 + "\n")  # one 4 MB line
    assert p.stat().st_size > 50_000_000
    e = Engine.from_files([p])
    st = e.stats["huge"]
    assert st.used == 4500 and st.cosmetic == 4500 and st.rejected == 1
    assert e.match("https://h4499.example/", None, "image").blocked


# --- cache --------------------------------------------------------------------------------------

LIST = "||cached.example^\n/ads/*$script\n@@||cached.example/ok\n"


@pytest.fixture
def listfile(tmp_path: Path) -> Path:
    p = tmp_path / "lists" / "mylist.txt"
    p.parent.mkdir()
    p.write_text(LIST)
    return p


def _cache_files(d: Path) -> list[Path]:
    return sorted(d.glob("crumbs-engine-*.cache"))


def test_cache_written_reused_and_private(listfile: Path, tmp_path: Path, monkeypatch):
    d = tmp_path / "cache"
    Engine.from_files([listfile], cache_dir=d)
    (f,) = _cache_files(d)
    assert f.stat().st_mode & 0o077 == 0
    calls = []
    monkeypatch.setattr(Engine, "from_lists", classmethod(lambda cls, lists: calls.append(1)))
    e = Engine.from_files([listfile], cache_dir=d)
    assert calls == []  # came from the cache, no parsing
    assert e.match("https://cached.example/x", None, "image").blocked
    assert not e.match("https://cached.example/ok", None, "image").blocked
    assert e.match("https://x.example/ads/1.js", None, "script").blocked


def _rebuilds(listfile: Path, d: Path, monkeypatch) -> bool:
    built = []
    real = Engine.from_lists.__func__

    def spy(cls, lists):
        built.append(1)
        return real(cls, lists)

    monkeypatch.setattr(Engine, "from_lists", classmethod(spy))
    e = Engine.from_files([listfile], cache_dir=d)
    assert e.match("https://cached.example/x", None, "image").blocked
    monkeypatch.undo()
    return bool(built)


def test_stale_cache_is_rebuilt_when_list_changes(listfile: Path, tmp_path: Path, monkeypatch):
    d = tmp_path / "cache"
    Engine.from_files([listfile], cache_dir=d)
    listfile.write_text(LIST + "||new.example^\n")
    assert _rebuilds(listfile, d, monkeypatch)
    assert Engine.from_files([listfile], cache_dir=d).match("https://new.example/", None, "image")


def test_stale_cache_is_rebuilt_when_engine_version_changes(listfile: Path, tmp_path: Path,
                                                            monkeypatch):
    d = tmp_path / "cache"
    Engine.from_files([listfile], cache_dir=d)
    monkeypatch.setattr(Engine, "VERSION", Engine.VERSION + "-next")
    assert _rebuilds(listfile, d, monkeypatch)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_cache_is_rebuilt(listfile: Path, tmp_path: Path, monkeypatch, damage):
    d = tmp_path / "cache"
    Engine.from_files([listfile], cache_dir=d)
    (f,) = _cache_files(d)
    data = f.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data = data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:]
    elif damage == "garbage":
        data = os.urandom(len(data))
    else:
        data = b""
    f.write_bytes(data)
    assert _rebuilds(listfile, d, monkeypatch)
    assert engine_cache.read(f, b"x" * 32) is None  # and the rebuilt file is sound again
    assert not _rebuilds(listfile, d, monkeypatch)


def test_group_or_world_writable_cache_is_never_unpickled(listfile: Path, tmp_path: Path,
                                                          monkeypatch):
    d = tmp_path / "cache"
    Engine.from_files([listfile], cache_dir=d)
    (f,) = _cache_files(d)
    unpickled = []
    monkeypatch.setattr(engine_cache.pickle, "loads", lambda *a: unpickled.append(1))
    for mode in (0o620, 0o602, 0o666):
        os.chmod(f, mode)
        data = f.read_bytes()
        assert engine_cache.read(f, data[8:40]) is None
    assert unpickled == []
    monkeypatch.undo()
    os.chmod(f, 0o660)
    assert _rebuilds(listfile, d, monkeypatch)
    (f,) = _cache_files(d)
    assert f.stat().st_mode & 0o077 == 0  # rewritten private


def test_cache_owned_by_another_user_is_never_unpickled(listfile: Path, tmp_path: Path,
                                                        monkeypatch):
    d = tmp_path / "cache"
    Engine.from_files([listfile], cache_dir=d)
    (f,) = _cache_files(d)
    key = f.read_bytes()[8:40]
    unpickled = []
    monkeypatch.setattr(engine_cache.pickle, "loads", lambda *a: unpickled.append(1))
    other = os.getuid() + 4242
    monkeypatch.setattr(engine_cache.os, "getuid", lambda: other)
    assert engine_cache.read(f, key) is None
    assert unpickled == []


def test_symlinked_cache_is_not_followed(listfile: Path, tmp_path: Path):
    d = tmp_path / "cache"
    Engine.from_files([listfile], cache_dir=d)
    (f,) = _cache_files(d)
    key = f.read_bytes()[8:40]
    real = tmp_path / "elsewhere.cache"
    f.rename(real)
    f.symlink_to(real)
    assert engine_cache.read(f, key) is None


def test_unwritable_cache_dir_still_builds(listfile: Path, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    e = Engine.from_files([listfile], cache_dir=blocker / "sub")
    assert e.match("https://cached.example/x", None, "image").blocked


# --- regex cost caps (issue 15, finding 2) -------------------------------------------------------

def test_counted_repetition_regex_is_refused_and_counted():
    # `[^!]{1000}` compiles to an 8,000-instruction RE2 program: ~0.2 s per URL before the cap.
    e = Engine.from_lists([("t", "/[^!]{1000}!x/\n/x{5,1000}/\n/ads[0-9]{2,4}\\.js/\n||fine.example^")])
    assert e.stats["t"].rejected == 2 and e.stats["t"].used == 2
    m, elapsed = _within(2.0, lambda: e.match("https://x.example/" + "a" * 5000 + "!x", None, "script"))
    assert m is None
    assert e.match("https://x.example/ads123.js", None, "script").blocked


def test_big_alternation_regex_is_refused_by_program_size():
    # 20 KB of alternated classes: ~0.5 s per URL in RE2 before the program-size cap.
    alternation = "|".join("a[^%s]{3}.*b%d" % (chr(98 + i % 20), i) for i in range(1400))
    assert len(alternation) > 20_000
    e = Engine.from_lists([("t", f"/{alternation}/\n||fine.example^")])
    assert e.stats["t"].rejected == 1 and e.stats["t"].used == 1


def test_a_regex_sees_at_most_the_capped_url_length():
    from companion.engine.patterns import MAX_REGEX_SUBJECT
    e = Engine.from_lists([("t", "/tail-marker$/")])
    short = "https://x.example/" + "a" * 100 + "tail-marker"
    assert e.match(short, None, "script").blocked
    # The same ending beyond the cap is not seen by the regex: bounded work whatever the URL's length.
    long = "https://x.example/" + "a" * MAX_REGEX_SUBJECT + "tail-marker"
    assert e.match(long, None, "script") is None


def test_regexes_of_the_real_lists_stay_under_the_caps(list_paths):
    from companion.engine.patterns import RegexRejected, compile_regex_filter
    refused = []
    seen = 0
    for path in list_paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            body = line.split("$", 1)[0] if not line.rstrip().endswith("/") else line.rstrip()
            if len(body) > 2 and body.startswith("/") and body.endswith("/"):
                seen += 1
                try:
                    compile_regex_filter(body[1:-1], False)
                except RegexRejected as exc:
                    if "above" in str(exc) or "longer" in str(exc):
                        refused.append((line, str(exc)))
    assert seen > 10 and refused == []
