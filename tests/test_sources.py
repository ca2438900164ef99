"""Knowledge sources (issue 13, item 5): Disconnect's services.json and DuckDuckGo's TDS as sources of owner and
category knowledge, downloaded from a local server on 127.0.0.1 like lists, merged under Crumbs' own knowledge.

The files served here are written for these tests (invented companies on .example domains): Crumbs ships
no data of either database.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from companion.cli import main
from companion.knowledge import Knowledge, SourceFormatError, parse_disconnect, parse_source, parse_tds
from companion.lists import Limits
from companion.lists.updater import Updater
from companion.service import Companion

# -- small files in each format ------------------------------------------------------------------------

DISCONNECT = {
    "license": "written for Crumbs' tests",
    "categories": {
        "Advertising": [
            {"Adnet One Ltd": {"https://adnet-one.example/": ["adnet-one.example", "adnet-one-cdn.example"],
                               "performance": "true"}},
            # A domain Crumbs' knowledge base knows (small_trackers: Google): Crumbs must win.
            {"Bogus Holdings": {"https://bogus.example/": ["doubleclick.net"]}},
        ],
        "Analytics": [{"Countly Metrics": {"https://countly-metrics.example/": ["countly-metrics.example"]}}],
        "Content": [{"Videohost": {"https://videohost.example/": ["videohost.example"]}}],
        # Listed under two categories: the more specific slug (fingerprinting) wins over analytics.
        "FingerprintingInvasive": [
            {"Countly Metrics": {"https://countly-metrics.example/": ["fp.countly-metrics.example"]}}
        ],
    },
}
DISCONNECT_CHANGED = {
    "license": "written for Crumbs' tests",
    "categories": {"Advertising": [{"Adnet One Group": {"https://adnet-one.example/": ["adnet-one.example"]}}]},
}
TDS = {
    "trackers": {
        "pixelworks.example": {
            "domain": "pixelworks.example",
            "owner": {"name": "Pixelworks Incorporated", "displayName": "Pixelworks",
                      "privacyPolicy": "https://pixelworks.example/privacy", "url": "https://pixelworks.example"},
            "prevalence": 0.01, "fingerprinting": 1, "cookies": 0.005,
            "categories": ["Analytics", "Session Replay"], "default": "block", "rules": [],
        },
        "adnet-one.example": {
            "domain": "adnet-one.example", "owner": {"name": "Adnet One Limited", "displayName": "Adnet One"},
            "categories": ["Advertising"], "default": "ignore",
        },
    },
    "entities": {"Pixelworks Incorporated": {"domains": ["pixelworks.example", "pxw-static.example"],
                                             "displayName": "Pixelworks", "prevalence": 1.2}},
    "domains": {"pixelworks.example": "Pixelworks Incorporated", "pxw-static.example": "Pixelworks Incorporated"},
    "cnames": {"metrics.news.example": "pixelworks.example"},
}


def body(data) -> bytes:
    return json.dumps(data).encode()


@pytest.fixture
def sources_server(list_server, monkeypatch):
    """The local server with the two test files, and the known names pointed at them."""
    list_server.serve_list("/services.json", body(DISCONNECT), "application/json")
    list_server.serve_list("/tds.json", body(TDS), "application/json")
    monkeypatch.setenv("CRUMBS_SOURCE_URL_DISCONNECT", list_server.url("/services.json"))
    monkeypatch.setenv("CRUMBS_SOURCE_URL_DUCKDUCKGO", list_server.url("/tds.json"))
    return list_server


@pytest.fixture
def small(data_dir, small_trackers):
    """A companion with the small knowledge base (its figures do not move with rules/trackers.json)."""
    c = Companion(data_dir, trackers=small_trackers)
    yield c
    c.close()


# -- the formats ---------------------------------------------------------------------------------------


def test_disconnect_names_owners_and_maps_categories():
    facts = parse_disconnect(DISCONNECT)
    assert facts.format == "disconnect"
    assert facts.trackers["adnet-one.example"].owner == "Adnet One Ltd"
    assert facts.trackers["adnet-one-cdn.example"].category == "advertising"
    assert facts.trackers["countly-metrics.example"].category == "analytics"
    assert facts.trackers["fp.countly-metrics.example"].category == "fingerprinting"
    assert facts.trackers["videohost.example"].category is None  # Content: owner only
    assert "performance" not in facts.trackers and "adnet-one.example/" not in facts.trackers


def test_tds_names_owners_by_display_name_and_entity_domains():
    facts = parse_tds(TDS)
    assert facts.format == "tds"
    assert facts.trackers["pixelworks.example"].owner == "Pixelworks"
    assert facts.trackers["pixelworks.example"].category == "session-replay"  # more specific than analytics
    assert facts.trackers["adnet-one.example"].category == "advertising"
    assert facts.owner_of("cdn.pxw-static.example") == "Pixelworks"  # from "domains" + "entities"


@pytest.mark.parametrize("raw, reason", [
    (b"<html>Not found</html>", "not JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "neither"),
    (b'{"license": "x"}', "neither"),
    (b'{"categories": {"Advertising": {"not": "a list"}}}', "not a list"),
    (b'{"categories": {"Advertising": []}}', "names no domain"),
    (b'{"trackers": []}', "no 'trackers' object"),
    (b'{"trackers": {"x.example": {"domain": "x.example"}}}', "names no tracker"),
])
def test_broken_sources_are_refused_with_a_reason(raw, reason):
    with pytest.raises(SourceFormatError, match=reason):
        parse_source(raw, "Test")


# -- the merge: the same tracker's facts with and without a source -------------------------------------


def test_a_source_fills_in_only_where_crumbs_knows_nothing(small_trackers):
    plain = Knowledge(small_trackers)
    assert plain.lookup("adnet-one.example") is None and plain.owner_of("adnet-one.example") is None

    merged = Knowledge(small_trackers, [parse_disconnect(DISCONNECT)])
    info = merged.lookup("ads.adnet-one.example")
    assert (info.owner, info.owner_source, info.category, info.category_source) == (
        "Adnet One Ltd", "Disconnect", "advertising", "Disconnect")
    assert info.category_label == "Advertising" and info.learns == small_trackers.categories["advertising"]["learns"]
    # Crumbs' own entry wins, even where a source says otherwise.
    ours = merged.lookup("doubleclick.net")
    assert (ours.owner, ours.owner_source, ours.category_source) == ("Google", "Crumbs", "Crumbs")
    assert merged.owner_with_source("doubleclick.net") == ("Google", "Crumbs")
    # Owner only (a category Crumbs does not name): no entry, but the owner is known, from Disconnect.
    assert merged.lookup("videohost.example") is None
    assert merged.owner_with_source("videohost.example") == ("Videohost", "Disconnect")
    # What is counted does not change: same-owner stays Crumbs' judgement.
    assert not merged.same_owner("adnet-one.example", "adnet-one-cdn.example")


def test_sources_in_the_order_they_were_added(small_trackers):
    first_ddg = Knowledge(small_trackers, [parse_tds(TDS), parse_disconnect(DISCONNECT)])
    assert first_ddg.lookup("adnet-one.example").owner == "Adnet One"
    first_disconnect = Knowledge(small_trackers, [parse_disconnect(DISCONNECT), parse_tds(TDS)])
    assert first_disconnect.lookup("adnet-one.example").owner_source == "Disconnect"


def test_verdicts_with_and_without_a_source(small, sources_server):
    url, page = "https://ads.adnet-one.example/p.gif", "https://news.example/story"
    before = small.check(url, page, "image")
    assert (before.owner, before.owner_source, before.category, before.category_source) == (None, None, None, None)

    info, outcome = small.sources.add("disconnect")
    assert outcome.status == "updated" and info.format == "disconnect" and info.entries == 6
    after = small.check(url, page, "image")
    assert (after.owner, after.owner_source, after.category, after.category_source) == (
        "Adnet One Ltd", "Disconnect", "advertising", "Disconnect")
    assert after.to_dict()["owner_source"] == "Disconnect"
    ours = small.check("https://stats.g.doubleclick.net/x", page, "image")
    assert (ours.owner, ours.owner_source) == ("Google", "Crumbs")

    small.sources.remove("disconnect")
    gone = small.check(url, page, "image")
    assert gone.owner is None and not (small.paths.sources / "disconnect.json").exists()


# -- downloads: good, 304, changed, broken, huge -------------------------------------------------------


def test_good_then_not_modified_then_changed(small, sources_server):
    sources = small.sources
    sources.add("disconnect")
    assert (small.paths.sources / "disconnect.json").read_bytes() == body(DISCONNECT)

    again = sources.update("disconnect")
    assert [o.status for o in again] == ["not-modified"]
    assert sources_server.conditional[-1][1] is not None  # If-None-Match was sent

    sources_server.serve_list("/services.json", body(DISCONNECT_CHANGED), "application/json")
    changed = sources.update("disconnect")
    assert [o.status for o in changed] == ["updated"]
    assert small.check("https://adnet-one.example/x", None, "image").owner == "Adnet One Group"
    assert sources.get("disconnect").entries == 1

    forced = sources.update("disconnect", force=True)  # no conditional request; same bytes
    assert [o.status for o in forced] == ["unchanged"]
    assert sources_server.conditional[-1][1] is None


@pytest.mark.parametrize("bad, reason", [
    (b"this is not json", "not a knowledge source: not JSON"),
    (b'{"hello": "world"}', "neither a Disconnect"),
    (b'<!doctype html><title>Login</title>', "not JSON"),
])
def test_a_broken_download_keeps_the_last_good_version(small, sources_server, bad, reason):
    small.sources.add("disconnect")
    sources_server.serve_list("/services.json", bad, "application/json")
    [outcome] = small.sources.update("disconnect")
    assert outcome.status == "failed" and reason in outcome.error
    info = small.sources.get("disconnect")
    assert info.in_force and reason in info.last_error
    assert small.check("https://adnet-one.example/x", None, "image").owner == "Adnet One Ltd"

    sources_server.serve_list("/services.json", body(DISCONNECT), "application/json")
    [outcome] = small.sources.update("disconnect")
    # The server has the version in force again: its validators still match, so 304, and the error clears.
    assert outcome.status == "not-modified" and small.sources.get("disconnect").last_error is None


def test_a_server_error_or_missing_file_is_an_error_not_a_version(small, sources_server):
    sources_server.routes["/tds.json"] = sources_server.route_status(500)
    info, outcome = small.sources.add("duckduckgo")
    assert outcome.status == "failed" and "500" in outcome.error
    assert not info.in_force and info.last_error
    assert small.check("https://pixelworks.example/r.js", None, "script").owner is None


@pytest.mark.parametrize("declare", [True, False])
def test_a_huge_download_is_refused(small, sources_server, declare):
    small.sources.limits = Limits(max_bytes=4096, total_timeout=10, stall_timeout=5)
    small.sources.add("duckduckgo")
    sources_server.routes["/tds.json"] = sources_server.route_stream(200_000, declare=declare)
    [outcome] = small.sources.update("duckduckgo")
    assert outcome.status == "failed" and "limit" in outcome.error
    assert small.check("https://pixelworks.example/r.js", None, "script").owner == "Pixelworks"


def test_add_refuses_bad_sources_and_duplicates(small, sources_server):
    from companion.lists import Conflict, ListError

    with pytest.raises(ListError, match="neither a known source"):
        small.sources.add("/etc/passwd")
    with pytest.raises(ListError, match="only http"):
        small.sources.add("file:///etc/passwd")
    small.sources.add("duckduckgo")
    with pytest.raises(Conflict):
        small.sources.add(sources_server.url("/tds.json"))
    info, _ = small.sources.add(sources_server.url("/services.json"), name="mine")
    assert info.name == "mine" and info.label == "mine" and info.format == "disconnect"
    assert [i.name for i in small.sources.all()] == ["duckduckgo", "mine"]


def test_the_server_follows_a_change_made_by_another_process(data_dir, small_trackers, sources_server):
    server = Companion(data_dir, trackers=small_trackers)
    cli = Companion(data_dir, with_engine=False)
    try:
        cli.sources.add("duckduckgo")
        assert server.check("https://adnet-one.example/r.js", None, "script").owner is None
        Updater(server.lists, sources=server.sources).tick()
        verdict = server.check("https://adnet-one.example/r.js", None, "script")
        assert (verdict.owner, verdict.owner_source, verdict.category) == ("Adnet One", "DuckDuckGo", "advertising")
        # A slug the knowledge base in force does not define (the small one has no session replay): owner only.
        other = server.check("https://pixelworks.example/r.js", None, "script")
        assert (other.owner, other.owner_source, other.category) == ("Pixelworks", "DuckDuckGo", None)
    finally:
        cli.close()
        server.close()


# -- where the attribution shows: crumbs check, the tracker and site pages, the API ---------------------


def test_crumbs_check_says_where_the_owner_came_from(tmp_path, sources_server):
    runner = CliRunner()
    (tmp_path / "d").mkdir()  # a folder the person made: a named one that does not exist is refused
    data = ["--data-dir", str(tmp_path / "d")]
    args = ["check", "https://pixelworks.example/r.js", "--page", "https://news.example/", "--type", "script", *data]
    before = runner.invoke(main, args)
    assert before.exit_code == 0 and "Pixelworks" not in before.output

    added = runner.invoke(main, ["sources", "add", "duckduckgo", *data])
    assert added.exit_code == 0, added.output
    assert "added duckduckgo: 2 tracker entries" in added.output
    listed = runner.invoke(main, ["sources", *data])
    assert "duckduckgo  (DuckDuckGo; in force)" in listed.output

    text = runner.invoke(main, args)
    assert "owner: Pixelworks - from DuckDuckGo; category: Session replay - from DuckDuckGo" in text.output
    verdict = json.loads(runner.invoke(main, [*args, "--json"]).output)
    assert (verdict["owner"], verdict["owner_source"], verdict["category_source"]) == (
        "Pixelworks", "DuckDuckGo", "DuckDuckGo")
    crumbs_own = json.loads(runner.invoke(main, ["check", "https://www.google-analytics.com/analytics.js", "--page",
                                                 "https://news.example/", "--json", *data]).output)
    assert crumbs_own["owner_source"] == "Crumbs" and crumbs_own["owner"]

    assert runner.invoke(main, ["sources", "update", "duckduckgo", *data]).output.strip() == \
        "duckduckgo: not modified since the last download"
    bad = runner.invoke(main, ["sources", "add", "nonsense", *data])
    assert bad.exit_code != 0 and "Traceback" not in bad.output and "neither a known source" in bad.output
    assert runner.invoke(main, ["sources", "remove", "duckduckgo", *data]).exit_code == 0
    assert "Pixelworks" not in runner.invoke(main, args).output


def test_tracker_and_site_pages_and_the_api_show_the_source(make_app, companion, sign_in, sources_server):
    small = companion  # the shipped knowledge base: it names session replay
    small.report([{"url": "https://cdn.pixelworks.example/r.js", "page_url": "https://news.example/a",
                   "type": "script"},
                  {"url": "https://stats.g.doubleclick.net/x", "page_url": "https://news.example/a", "type": "image"}])
    app = make_app(small)
    client = sign_in(app.test_client(), small)
    auth = {"Authorization": f"Bearer {small.token}"}

    page = client.get("/tracker/pixelworks.example").get_data(as_text=True)
    assert "Its owner is not known to Crumbs." in page and "from <a" not in page

    added = client.post("/api/v1/sources", json={"source": "duckduckgo"}, headers=auth)
    assert added.status_code == 201 and added.get_json()["source"]["format"] == "tds"

    page = client.get("/tracker/pixelworks.example").get_data(as_text=True)
    assert "Pixelworks</a> <span class=\"fact-source small muted\">— from <a" in page
    assert ">DuckDuckGo</a>" in page and "Session replay" in page
    site = client.get("/site/news.example").get_data(as_text=True)
    assert site.count("— from <a") == 2  # owner and category of pixelworks.example; doubleclick.net is Crumbs'
    company = client.get("/company/Pixelworks")
    assert company.status_code == 200 and "pixelworks.example" in company.get_data(as_text=True)
    assert client.get("/").status_code == 200 and client.get("/search?q=pixelworks").status_code == 200

    rows = {r["domain"]: r for r in client.get("/api/v1/sites/news.example", headers=auth).get_json()["third_parties"]}
    assert (rows["pixelworks.example"]["owner"], rows["pixelworks.example"]["owner_source"]) == (
        "Pixelworks", "DuckDuckGo")
    assert rows["pixelworks.example"]["category_source"] == "DuckDuckGo"
    assert (rows["doubleclick.net"]["owner"], rows["doubleclick.net"]["owner_source"]) == ("Google", "Crumbs")


def test_the_sources_api(client, auth, companion, sources_server):
    assert client.get("/api/v1/sources").status_code == 401
    assert client.get("/api/v1/sources", headers=auth).get_json() == {"sources": []}
    assert client.post("/api/v1/sources", json={"source": 3}, headers=auth).status_code == 400
    assert client.post("/api/v1/sources", json={"source": "/etc/passwd"}, headers=auth).status_code == 400
    assert client.post("/api/v1/sources", data="nope", headers={**auth, "Content-Type": "application/json"}
                       ).status_code == 400
    assert client.post("/api/v1/sources", json={"source": "disconnect"}, headers=auth).status_code == 201
    assert client.post("/api/v1/sources", json={"source": "disconnect"}, headers=auth).status_code == 409
    [one] = client.get("/api/v1/sources", headers=auth).get_json()["sources"]
    assert (one["name"], one["label"], one["entries"], one["last_error"]) == ("disconnect", "Disconnect", 6, None)
    update = client.post("/api/v1/sources/disconnect/update", headers=auth).get_json()
    assert update["results"][0]["status"] == "not-modified"
    assert client.post("/api/v1/sources/update", json={"force": True}, headers=auth).status_code == 200
    assert client.get("/api/v1/sources/nope", headers=auth).status_code == 404
    assert client.delete("/api/v1/sources/nope", headers=auth).status_code == 404
    sources_server.routes["/tds.json"] = sources_server.route_status(200, b"not json")
    failed = client.post("/api/v1/sources", json={"source": "duckduckgo"}, headers=auth)
    assert failed.status_code == 422 and "not JSON" in failed.get_json()["error"]
    assert client.delete("/api/v1/sources/disconnect", headers=auth).get_json() == {"removed": "disconnect"}
    paths = client.get("/api/v1/openapi.json", headers=auth).get_json()["paths"]
    assert {"/sources", "/sources/update", "/sources/{name}", "/sources/{name}/update"} <= set(paths)


def test_the_sources_settings_page(signed_in, csrf_of, companion, sources_server):
    page = signed_in.get("/settings/sources").get_data(as_text=True)
    assert "No source added" in page and "Add Disconnect" in page and "Add DuckDuckGo" in page
    csrf = csrf_of(signed_in, "/settings/sources")
    assert signed_in.post("/settings/sources/add", data={"source": "disconnect"}).status_code in (400, 403)
    added = signed_in.post("/settings/sources/add", data={"source": "disconnect", "csrf": csrf})
    assert added.status_code == 303
    page = signed_in.get(added.headers["Location"]).get_data(as_text=True)
    assert "Disconnect was added" in page and 'id="source-disconnect"' in page and "Add Disconnect" not in page
    sources_server.serve_list("/services.json", b"{]", "application/json")
    failed = signed_in.post("/settings/sources/disconnect/update", data={"csrf": csrf})
    page = signed_in.get(failed.headers["Location"]).get_data(as_text=True)
    assert "Updating Disconnect failed" in page and "not JSON" in page and "last good version stays" in page
    missing = signed_in.post("/settings/sources/nope/remove", data={"csrf": csrf})
    assert missing.status_code == 404
    removed = signed_in.post("/settings/sources/disconnect/remove", data={"csrf": csrf})
    assert "Disconnect was removed" in signed_in.get(removed.headers["Location"]).get_data(as_text=True)


def test_sources_are_fetched_from_public_addresses_only_like_lists(small, sources_server, monkeypatch):
    from companion.lists import ListError
    from companion.lists.addresses import ALLOW_LOOPBACK_ENV

    monkeypatch.delenv(ALLOW_LOOPBACK_ENV)  # the tests' switch off: 127.0.0.1 is this machine, refused
    with pytest.raises(ListError):
        small.sources.add(sources_server.url("/tds.json"), allow_http=True)
    with pytest.raises(ListError, match="plain http"):
        small.sources.add("http://198.51.100.7/tds.json")
    assert small.sources.all() == [] and sources_server.hits.get("/tds.json") is None
