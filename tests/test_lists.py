"""List subscriptions over a local HTTP test server: first download, 304, a changed list, and every
hostile answer the issue names (stall, 500, HTML, truncated, 200 MB, redirect loop, file:// redirect).

After each, the test checks which version is in force and that a sample of real requests is
classified exactly as before, unless the new list says otherwise. Nothing here touches the internet:
the server listens on 127.0.0.1, port 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from companion.config import DataPaths
from companion.engine import Engine
from companion.lists import (
    Conflict,
    Limits,
    ListError,
    Lists,
    check_text,
    list_checksum,
    lists_naming,
    lists_naming_many,
    parse_expires,
    suggest_name,
)
import shared_data
from companion.storage import Store

ROOT = Path(__file__).resolve().parents[1]
# Fast limits for the hostile cases; the size bound stays the real default (30 MB).
TEST_LIMITS = Limits(total_timeout=5.0, stall_timeout=0.5)


@pytest.fixture
def server(list_server):
    return list_server


# -- a registry on a temp data folder -------------------------------------------------------


SHIPPED = "[Adblock Plus 2.0]\n! Title: test shipped rules\n||shipped-tracker.example^\n"


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory) -> Path:
    """One engine cache for the session: builds of the same lists' content are then loaded, not re-parsed."""
    path = tmp_path_factory.mktemp("engine-cache")
    os.chmod(path, 0o700)
    return path


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "shipped.txt").write_text(SHIPPED)
    return d


class Applied:
    """Stands in for Companion.use_engine: remembers each engine put in force."""

    def __init__(self) -> None:
        self.engines: list[Engine] = []

    def __call__(self, engine: Engine) -> None:
        self.engines.append(engine)


@pytest.fixture
def make_registry(tmp_path: Path, rules_dir: Path, engine_cache: Path, server):
    made = []

    def make(limits: Limits = TEST_LIMITS, data: Path | None = None) -> tuple[Lists, Applied]:
        data = data or tmp_path / "data"
        paths = DataPaths.at(data)
        if not paths.cache.exists():
            paths.cache.symlink_to(engine_cache, target_is_directory=True)
        store = Store(paths.database)
        applied = Applied()
        known = {"easyprivacy": server.url("/easyprivacy.txt"), "easylist": server.url("/easylist.txt")}
        registry = Lists(paths, store, on_engine=applied, known=known, limits=limits, rules_dir=rules_dir)
        made.append(store)
        return registry, applied

    yield make
    for store in made:
        store.close()


@pytest.fixture(scope="session")
def decisions(corpus_path):
    """``decisions(engine)``: the engine's answers for 3,000 requests of the shared corpus."""
    sample = []
    with corpus_path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["type"] != "main_frame":
                sample.append((row["url"], row["source_url"], row["type"]))
            if len(sample) >= 3000:
                break

    def decide(engine: Engine) -> list[tuple[bool, str, str] | None]:
        out = []
        for url, source, rtype in sample:
            m = engine.match(url, source, rtype)
            out.append(None if m is None else (m.blocked, m.filter, m.list))
        return out

    return decide


@pytest.fixture
def subscribed(decisions, easyprivacy, make_registry, server):
    """EasyPrivacy (the real July 2026 file) subscribed and in force, with the sample's decisions under it."""
    server.serve_list("/easyprivacy.txt", easyprivacy)
    registry, applied = make_registry()
    info, outcome = registry.add("easyprivacy")
    assert outcome.status == "updated", outcome
    assert applied.engines, "the engine must be swapped after the first download"
    before = decisions(applied.engines[-1])
    assert sum(1 for d in before if d and d[0]) > 50, "the sample must contain requests EasyPrivacy blocks"
    return registry, applied, before


def in_force(registry: Lists, name: str = "easyprivacy") -> bytes:
    return (registry.dir / f"{name}.txt").read_bytes()


@pytest.fixture
def assert_kept(decisions, easyprivacy):
    """``assert_kept(registry, applied, before, error_part, engines_before)``: the failure is recorded,
    the last good version is in force, and no engine change happened."""

    def check(registry: Lists, applied: Applied, before, error_part: str, engines_before: int) -> None:
        info = registry.get("easyprivacy")
        assert info.last_error and error_part in info.last_error, info.last_error
        assert in_force(registry) == easyprivacy
        assert info.sha256 == hashlib.sha256(easyprivacy).hexdigest()
        assert len(applied.engines) == engines_before, "a failed update must not swap the engine"
        # What the server would load after a restart classifies as before.
        assert decisions(registry.build_engine()) == before

    return check


# -- the happy paths ------------------------------------------------------------------------


def test_first_download_puts_the_list_in_force(easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    info = registry.get("easyprivacy")
    assert (info.kind, info.source, info.enabled, info.in_force) == ("url", server.url("/easyprivacy.txt"), True, True)
    assert info.used > 50_000 and info.rejected < 10 and info.last_error is None
    assert info.expires_ms == 4 * 24 * 3_600_000  # the list's own "! Expires: 4 days"
    assert info.next_update == info.last_checked + info.expires_ms
    assert in_force(registry) == easyprivacy
    m = applied.engines[-1].match("https://www.google-analytics.com/g/collect?v=2", "https://news.example/", "ping")
    assert m is not None and m.blocked and m.list == "easyprivacy"
    # The shipped list stays in force beside it.
    shipped = applied.engines[-1].match("https://shipped-tracker.example/x.js", "https://news.example/", "script")
    assert shipped is not None and shipped.list == "shipped"
    assert {i.name for i in registry.all()} == {"shipped", "easyprivacy"}


def test_second_update_sends_the_etag_and_a_304_keeps_everything(easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    engines = len(applied.engines)
    [outcome] = registry.update("easyprivacy")
    assert outcome.status == "not-modified"
    assert server.conditional[-1][1] is not None, "the update must be a conditional request"
    assert len(applied.engines) == engines
    info = registry.get("easyprivacy")
    assert info.last_error is None and in_force(registry) == easyprivacy


def test_a_changed_list_replaces_the_old_one_and_only_the_changed_filters_change(decisions, easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    # The new version drops the filter that decided most sample requests and adds one.
    counts: dict[str, int] = {}
    for d in before:
        if d and d[0]:
            counts[d[1]] = counts.get(d[1], 0) + 1
    dropped = max(counts, key=counts.get)
    lines = easyprivacy.decode().split("\n")
    assert dropped in lines
    v2 = "\n".join(line for line in lines if line != dropped) + "\n||brand-new-tracker.example^\n"
    server.serve_list("/easyprivacy.txt", v2.encode())
    [outcome] = registry.update("easyprivacy")
    assert outcome.status == "updated"
    assert in_force(registry) == v2.encode()
    after = decisions(applied.engines[-1])
    for old, new in zip(before, after):
        if old is None or old[1] != dropped:
            assert new == old
        else:
            assert new is None or new[1] != dropped
    assert applied.engines[-1].match("https://brand-new-tracker.example/p", "https://a.example/", "image").blocked
    assert registry.get("easyprivacy").sha256 == hashlib.sha256(v2.encode()).hexdigest()


# -- hostile servers: the last good version stays in force ---------------------------------------


def test_a_server_that_stalls_is_abandoned(assert_kept, easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_stall(easyprivacy[:1000], seconds=3)
    started = time.monotonic()
    [outcome] = registry.update("easyprivacy", force=True)
    assert time.monotonic() - started < 2.5, "the stall timeout (0.5 s here) must end the download"
    assert outcome.status == "failed"
    assert_kept(registry, applied, before, "stalled", 1)


def test_a_500_is_reported(assert_kept, subscribed, server):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_status(500, b"oops")
    [outcome] = registry.update("easyprivacy")
    assert outcome.status == "failed" and "500" in outcome.error
    assert_kept(registry, applied, before, "500", 1)


def test_an_html_error_page_is_not_a_list(assert_kept, subscribed, server):
    registry, applied, before = subscribed
    page = b"<!DOCTYPE html><html><head><title>Rate limited</title></head><body>Try later</body></html>"
    server.serve_list("/easyprivacy.txt", page, content_type="text/html")
    [outcome] = registry.update("easyprivacy")
    assert outcome.status == "failed"
    assert_kept(registry, applied, before, "HTML", 1)
    # Even when the server lies about the type.
    server.serve_list("/easyprivacy.txt", b"\n  <html><body>Error</body></html>")
    registry.update("easyprivacy")
    assert_kept(registry, applied, before, "HTML", 1)


def test_a_download_cut_short_of_its_content_length(assert_kept, easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_cut(easyprivacy[: len(easyprivacy) // 3], declared=len(easyprivacy))
    [outcome] = registry.update("easyprivacy", force=True)
    assert outcome.status == "failed"
    assert_kept(registry, applied, before, "cut short", 1)


def test_a_truncated_list_without_length_is_caught_by_the_shrink_guard(assert_kept, easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    truncated = easyprivacy[: len(easyprivacy) // 4]
    server.routes["/easyprivacy.txt"] = server.route_cut(truncated, declared=None)
    [outcome] = registry.update("easyprivacy", force=False)
    assert outcome.status == "failed"
    assert_kept(registry, applied, before, "probably truncated", 1)
    # The person can vouch for it: --force accepts a much smaller list.
    [outcome] = registry.update("easyprivacy", force=True)
    assert outcome.status == "updated" and in_force(registry) == truncated


def test_a_truncated_list_with_a_checksum_is_refused(make_registry, server):
    body = "[Adblock Plus 2.0]\n! Title: summed\n" + "".join(f"||t{i}.example^\n" for i in range(50))
    summed = body.replace("! Title: summed\n", f"! Title: summed\n! Checksum: {list_checksum(body)}\n")
    assert check_text(summed.encode(), "url") == summed
    server.serve_list("/summed.txt", summed.encode())
    registry, applied = make_registry()
    info, outcome = registry.add(server.url("/summed.txt"))
    assert outcome.status == "updated" and info.name == "summed"
    server.routes["/summed.txt"] = server.route_cut(summed.encode()[:-40], declared=None)
    [outcome] = registry.update("summed", force=True)
    assert outcome.status == "failed" and "checksum" in outcome.error
    assert in_force(registry, "summed") == summed.encode()


def test_a_200_mb_stream_is_cut_at_the_size_limit(assert_kept, subscribed, server):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_stream(200 * 1024 * 1024, declare=False)
    [outcome] = registry.update("easyprivacy", force=True)
    assert outcome.status == "failed" and "larger than the limit" in outcome.error
    assert_kept(registry, applied, before, "limit", 1)
    # A server that announces 200 MB is refused before a byte of the body is read.
    server.routes["/easyprivacy.txt"] = server.route_stream(200 * 1024 * 1024, declare=True)
    [outcome] = registry.update("easyprivacy", force=True)
    assert "too large" in outcome.error
    assert_kept(registry, applied, before, "too large", 1)


def test_a_redirect_loop_ends(assert_kept, subscribed, server):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_redirect(server.url("/loop"))
    server.routes["/loop"] = server.route_redirect(server.url("/easyprivacy.txt"))
    [outcome] = registry.update("easyprivacy", force=True)
    assert outcome.status == "failed" and "redirect" in outcome.error
    assert server.hits["/loop"] <= 5
    assert_kept(registry, applied, before, "redirect", 1)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/list.txt", "data:text/plain,||a^"])
def test_a_redirect_to_a_non_http_url_is_refused(assert_kept, subscribed, server, target):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_redirect(target)
    [outcome] = registry.update("easyprivacy", force=True)
    assert outcome.status == "failed"
    assert_kept(registry, applied, before, "refused redirect", 1)


def test_a_redirect_to_another_http_address_is_followed(make_registry, server):
    server.serve_list("/moved.txt", b"[Adblock Plus 2.0]\n||moved-tracker.example^\n")
    server.routes["/old.txt"] = server.route_redirect(server.url("/moved.txt"))
    registry, applied = make_registry()
    info, outcome = registry.add(server.url("/old.txt"), name="moved")
    assert outcome.status == "updated"
    assert applied.engines[-1].match("https://moved-tracker.example/", "https://a.example/", "image").list == "moved"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"[Adblock Plus 2.0]\n\x00\x01\x02binary", "binary"),
        (b"[Adblock Plus 2.0]\n||caf\xe9.example^\n", "UTF-8"),
        (b"just some text\nthat is not a list\n", "header"),
        (b"[Adblock Plus 2.0]\n! only comments\n##.ad-banner\n", "no network filter"),
    ],
)
def test_broken_bodies_are_refused(assert_kept, subscribed, server, body, reason):
    registry, applied, before = subscribed
    server.serve_list("/easyprivacy.txt", body)
    [outcome] = registry.update("easyprivacy", force=True)
    assert outcome.status == "failed", outcome
    assert_kept(registry, applied, before, reason, 1)


def test_a_server_without_validators_serving_the_same_list_changes_nothing(easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_status(200, easyprivacy)  # no ETag, no Last-Modified
    [outcome] = registry.update("easyprivacy")
    assert outcome.status == "unchanged"
    assert len(applied.engines) == 1 and registry.get("easyprivacy").last_error is None


def test_staging_leftovers_of_a_killed_update_are_swept(make_registry, tmp_path):
    registry, _ = make_registry()
    old = registry.dir / ".staging-old"
    old.mkdir()
    (old / "easyprivacy.txt").write_text("half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = registry.dir / ".staging-fresh"
    fresh.mkdir()
    make_registry()
    assert not old.exists() and fresh.exists()


def test_after_a_failure_a_good_update_clears_the_error(easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    server.routes["/easyprivacy.txt"] = server.route_status(503)
    registry.update("easyprivacy")
    assert registry.get("easyprivacy").last_error
    server.serve_list("/easyprivacy.txt", easyprivacy + b"||one-more.example^\n")
    [outcome] = registry.update("easyprivacy")
    assert outcome.status == "updated"
    assert registry.get("easyprivacy").last_error is None


# -- adding, naming, enabling, removing ------------------------------------------------------


def test_nothing_is_downloaded_until_asked(easyprivacy, make_registry, server):
    server.serve_list("/easyprivacy.txt", easyprivacy)
    registry, applied = make_registry()
    # Known by name, but not subscribed, and no automatic update fetches what was never fetched.
    assert [i.name for i in registry.all()] == ["shipped"]
    assert registry.update(due_only=True) == []
    assert server.hits == {}


@pytest.mark.parametrize(
    "source", ["file:///etc/passwd", "ftp://example.com/list.txt", "javascript:alert(1)", "data:text/plain,||a^"]
)
def test_only_http_urls_can_be_subscribed(make_registry, source):
    registry, _ = make_registry()
    with pytest.raises(ListError):
        registry.add(source, allow_path=False)
    with pytest.raises(ListError):
        registry.add(source)  # not even from the command line, where paths are allowed
    assert [i.name for i in registry.all()] == ["shipped"]


def test_paths_are_refused_unless_allowed(make_registry, tmp_path):
    (tmp_path / "mine.txt").write_text("||mine.example^\n")
    registry, _ = make_registry()
    with pytest.raises(ListError, match="neither a known list"):
        registry.add(str(tmp_path / "mine.txt"), allow_path=False)


def test_names_never_come_from_outside(make_registry, server):
    server.serve_list("/x/..%2F..%2Fbashrc.txt", b"[Adblock Plus 2.0]\n||evil-name.example^\n")
    registry, applied = make_registry()
    info, outcome = registry.add(server.url("/x/..%2F..%2Fbashrc.txt"))
    assert outcome.status == "updated"
    assert info.name == "2f-2fbashrc"
    assert sorted(p.name for p in registry.dir.iterdir() if not p.name.startswith(".")) == ["2f-2fbashrc.txt"]
    for bad in ("../../.bashrc", "/etc/passwd", "A B", "x" * 41, ".hidden", ""):
        with pytest.raises(ListError):
            registry.add(server.url("/x/..%2F..%2Fbashrc.txt") + "?again", name=bad)


def test_suggested_names():
    assert suggest_name("https://easylist.to/easylist/easyprivacy.txt") == "easyprivacy"
    assert suggest_name("https://example.com/") == "example-com"
    assert suggest_name("/home/me/My Rules.v2.txt") == "my-rules-v2"
    assert suggest_name("https://x.example/%00%00") == "00-00"


def test_duplicates_conflict(easyprivacy, make_registry, server):
    server.serve_list("/easyprivacy.txt", easyprivacy)
    registry, _ = make_registry()
    registry.add("easyprivacy")
    with pytest.raises(Conflict):
        registry.add(server.url("/easyprivacy.txt"))  # same address, under its known name
    with pytest.raises(Conflict):
        registry.add(server.url("/other.txt"), name="easyprivacy")
    with pytest.raises(Conflict):
        registry.add(server.url("/other.txt"), name="shipped")


def test_disable_enable_remove_follow_at_once(decisions, easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    url, page = "https://www.google-analytics.com/g/collect?v=2", "https://news.example/"
    registry.set_enabled("easyprivacy", False)
    assert applied.engines[-1].match(url, page, "ping") is None
    assert registry.paths_in_force() == [registry.rules_dir / "shipped.txt"]
    info, outcome = registry.set_enabled("easyprivacy", True)
    assert outcome is None and info.enabled  # it had a version: nothing is downloaded
    assert applied.engines[-1].match(url, page, "ping").list == "easyprivacy"
    assert decisions(applied.engines[-1]) == before
    registry.remove("easyprivacy")
    assert applied.engines[-1].match(url, page, "ping") is None
    assert not (registry.dir / "easyprivacy.txt").exists()
    with pytest.raises(Conflict):
        registry.remove("shipped")
    registry.set_enabled("shipped", False)
    assert applied.engines[-1].match("https://shipped-tracker.example/", page, "script") is None


def test_a_failed_first_download_keeps_the_list_registered_without_a_version(shared_file, make_registry, server):
    server.routes["/easylist.txt"] = server.route_status(404)
    registry, applied = make_registry()
    info, outcome = registry.add("easylist")
    assert outcome.status == "failed" and "404" in outcome.error
    assert not info.in_force and info.last_error
    assert applied.engines == []
    # Never fetched successfully: the automatic updater leaves it alone; the person retries.
    assert registry.update(due_only=True) == []
    server.serve_list("/easylist.txt", shared_file(shared_data.EASYLIST).read_bytes())
    [outcome] = registry.update("easylist")
    assert outcome.status == "updated" and registry.get("easylist").in_force


def test_expired_lists_are_updated_by_due_only(subscribed, server):
    registry, applied, before = subscribed
    assert registry.update(due_only=True) == []  # fresh: not due
    with registry.store.transaction():
        registry.store.conn.execute("UPDATE lists SET last_checked = last_checked - 5 * 86400000")
    [outcome] = registry.update(due_only=True)
    assert outcome.status == "not-modified"


def test_a_symlink_in_the_lists_dir_is_not_read(easyprivacy, subscribed, tmp_path):
    registry, applied, before = subscribed
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(easyprivacy)
    copy = registry.dir / "easyprivacy.txt"
    copy.unlink()
    copy.symlink_to(target)
    assert not registry.get("easyprivacy").in_force
    assert registry.paths_in_force() == [registry.rules_dir / "shipped.txt"]


# -- local files ------------------------------------------------------------------------------


def test_a_local_file_is_reread_when_it_changes(make_registry, tmp_path):
    local = tmp_path / "my-rules.txt"
    local.write_text("! my own\n||first-local.example^\n")
    registry, applied = make_registry()
    info, outcome = registry.add(str(local), name="mine")
    assert outcome.status == "updated" and info.kind == "file" and info.source == str(local.resolve())
    page = "https://a.example/"
    assert applied.engines[-1].match("https://first-local.example/", page, "image").list == "mine"
    assert registry.refresh_local() == []  # unchanged: not even read
    local.write_text("! my own\n||second-local.example^\n")
    os.utime(local, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    [outcome] = registry.refresh_local()
    assert outcome.status == "updated"
    engine = applied.engines[-1]
    assert engine.match("https://first-local.example/", page, "image") is None
    assert engine.match("https://second-local.example/", page, "image").list == "mine"
    # A broken edit keeps the last good version, and is not re-read until it changes again.
    local.write_bytes(b"\xff\xfe not utf-8")
    [outcome] = registry.refresh_local()
    assert outcome.status == "failed" and "UTF-8" in outcome.error
    assert registry.refresh_local() == []
    assert registry.build_engine().match("https://second-local.example/", page, "image").list == "mine"


def test_a_local_file_replaced_by_a_symlink_is_refused(make_registry, tmp_path):
    local = tmp_path / "mine.txt"
    local.write_text("||local-one.example^\n")
    registry, applied = make_registry()
    registry.add(str(local))
    secret = tmp_path / "secret.txt"
    secret.write_text("||secret.example^\n")
    local.unlink()
    local.symlink_to(secret)
    [outcome] = registry.refresh_local()
    assert outcome.status == "failed" and "symbolic link" in outcome.error
    assert registry.build_engine().match("https://local-one.example/", "https://a.example/", "image").list == "mine"


def test_a_symlink_given_by_the_person_is_resolved_once(make_registry, tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("||via-link.example^\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    registry, applied = make_registry()
    info, outcome = registry.add(str(link))
    assert outcome.status == "updated" and info.source == str(real.resolve())


def test_another_process_change_is_noticed_through_lists_rev(easyprivacy, make_registry, server, tmp_path):
    server.serve_list("/easyprivacy.txt", easyprivacy)
    serving, applied = make_registry()
    assert serving.reload_if_changed_elsewhere() is False
    cli, _ = make_registry()  # a second registry on the same data folder, as `crumbs lists add` is
    cli.add("easyprivacy")
    assert serving.reload_if_changed_elsewhere() is True
    assert applied.engines[-1].match("https://www.google-analytics.com/g/collect", "https://a.example/", "ping")
    assert serving.reload_if_changed_elsewhere() is False


# -- small parsers ----------------------------------------------------------------------------


def test_parse_expires():
    assert parse_expires("[Adblock Plus 2.0]\n! Expires: 4 days (update frequency)\n||a^") == 4 * 86_400_000
    assert parse_expires("! Expires: 12 hours\n") == 12 * 3_600_000
    assert parse_expires("! Expires: 1 h\n") == 3_600_000
    assert parse_expires("! Expires: 0 hours\n") == 3_600_000  # clamped: never hammer the server
    assert parse_expires("! Expires: 365 days\n") == 30 * 86_400_000
    assert parse_expires("! Title: x\n||a.example^\n! Expires: 1 day\n") is None  # only the header counts
    assert parse_expires("! Title: x\n") is None


def test_lists_naming(list_paths, easyprivacy, subscribed, server):
    registry, applied, before = subscribed
    assert lists_naming(registry, "www.google-analytics.com") == ["easyprivacy"]
    assert lists_naming(registry, "shipped-tracker.example") == ["shipped"]
    assert lists_naming(registry, "sub.shipped-tracker.example") == ["shipped"]
    assert lists_naming(registry, "example.org") == []
    assert lists_naming_many(registry, ["x.shipped-tracker.example", "example.org"]) == {
        "x.shipped-tracker.example": ["shipped"], "example.org": []
    }
    # Paths work too, and a host named by two lists gets both, in list order.
    both = list_paths  # easylist, then easyprivacy
    assert lists_naming(both, "x.bidswitch.net") == ["easylist", "easyprivacy"]
    assert lists_naming(both, "www.google-analytics.com") == ["easyprivacy"]
    registry.set_enabled("easyprivacy", False)
    assert lists_naming(registry, "www.google-analytics.com") == []
