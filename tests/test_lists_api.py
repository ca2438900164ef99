"""Lists through the companion: the API under /api/v1/lists, `crumbs lists`, and the updater thread.

Verdicts and the browser's rules must follow a list change without a restart. Known list names
point at a local test server through CRUMBS_LIST_URL_<NAME>, so nothing reaches the internet.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner

from companion.cli import main
from companion.lists import lists_naming
from companion.service import Companion
from companion.lists.updater import Updater
from companion.web import create_app

TRACKER = {"url": "https://api-tracker.example/t.js", "page_url": "https://news.example/story", "type": "script"}
PORT = 8737


@pytest.fixture
def server(small_list_server):
    return small_list_server


def check(client, auth) -> dict:
    response = client.post("/api/v1/check", json=TRACKER, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def dnr_version(client, auth) -> str:
    return client.get("/api/v1/dnr", headers=auth).get_json()["version"]


# -- the API ------------------------------------------------------------------------------------


def test_the_lists_api_needs_the_token(client, server):
    assert client.get("/api/v1/lists").status_code == 401
    response = client.post("/api/v1/lists", json={"source": "easyprivacy"})
    assert response.status_code == 401
    response = client.post("/api/v1/lists", json={"source": "easyprivacy"}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert client.post("/api/v1/lists/update").status_code == 401
    assert server.hits == {}, "a request without the token must not make the companion fetch anything"


def test_a_web_page_cannot_add_a_list(client, auth, server):
    evil = {**auth, "Origin": "https://evil.example"}
    assert client.post("/api/v1/lists", json={"source": "easyprivacy"}, headers=evil).status_code == 403
    form = client.post("/api/v1/lists", data="source=easyprivacy", headers=auth,
                       content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert server.hits == {}


def test_add_follow_disable_update_remove_through_the_api(client, auth, server, companion):
    before = check(client, auth)
    assert before["filter"] is None and not before["blocked"]
    version = dnr_version(client, auth)

    response = client.post("/api/v1/lists", json={"source": "easyprivacy"}, headers=auth)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["list"]["name"] == "easyprivacy" and body["list"]["used"] == 2 and body["outcome"]["status"] == "updated"
    assert "etag" not in body["list"]

    # Classification and the browser's rules follow without a restart.
    verdict = check(client, auth)
    assert (verdict["list"], verdict["filter"], verdict["blocked"]) == ("easyprivacy", "||api-tracker.example^", True)
    assert dnr_version(client, auth) != version
    assert lists_naming(companion, "api-tracker.example") == ["easyprivacy"]

    listed = {i["name"]: i for i in client.get("/api/v1/lists", headers=auth).get_json()["lists"]}
    info = listed["easyprivacy"]
    assert info["kind"] == "url" and info["enabled"] and info["in_force"] and info["expires_ms"] == 86_400_000
    assert info["last_error"] is None and info["next_update"] == info["last_checked"] + 86_400_000
    assert all(listed[n]["kind"] == "shipped" for n in listed if n != "easyprivacy")

    response = client.put("/api/v1/lists/easyprivacy", json={"enabled": False}, headers=auth)
    assert response.status_code == 200 and response.get_json()["list"]["enabled"] is False
    assert check(client, auth)["filter"] is None
    client.put("/api/v1/lists/easyprivacy", json={"enabled": True}, headers=auth)
    assert check(client, auth)["list"] == "easyprivacy"

    response = client.post("/api/v1/lists/easyprivacy/update", headers=auth)
    assert response.get_json()["results"] == [
        {"name": "easyprivacy", "status": "not-modified", "error": None, "used": None}
    ]

    server.routes["/easyprivacy.txt"] = server.route_status(500, b"down")
    response = client.post("/api/v1/lists/update", json={"force": True}, headers=auth)
    [result] = response.get_json()["results"]
    assert result["status"] == "failed" and "500" in result["error"]
    listed = {i["name"]: i for i in client.get("/api/v1/lists", headers=auth).get_json()["lists"]}
    assert "500" in listed["easyprivacy"]["last_error"]
    assert check(client, auth)["list"] == "easyprivacy", "the last good version stays in force"

    # A restarted companion starts with the same lists in force.
    again = Companion(companion.paths.root)
    try:
        assert again.check(TRACKER["url"], TRACKER["page_url"], "script").list == "easyprivacy"
    finally:
        again.close()

    assert client.delete("/api/v1/lists/easyprivacy", headers=auth).get_json() == {"removed": "easyprivacy"}
    assert check(client, auth)["filter"] is None
    assert client.delete("/api/v1/lists/easyprivacy", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"source": "/etc/passwd"}, 400),  # paths only from the command line
        ({"source": "../../.bashrc"}, 400),
        ({"source": "file:///etc/passwd"}, 400),
        ({"source": "ftp://127.0.0.1/x.txt"}, 400),
        ({"source": 7}, 400),
        ({"source": "easyprivacy", "name": "../../evil"}, 400),
        ({"source": "easyprivacy", "name": 3}, 400),
        ([], 400),
    ],
)
def test_the_api_refuses_bad_additions(client, auth, server, body, status):
    response = client.post("/api/v1/lists", json=body, headers=auth)
    assert response.status_code == status, response.get_json()
    assert "error" in response.get_json()
    assert server.hits == {}
    names = [i["name"] for i in client.get("/api/v1/lists", headers=auth).get_json()["lists"]]
    assert "easyprivacy" not in names and "evil" not in names


def test_api_errors(client, auth, server):
    assert client.put("/api/v1/lists/nope", json={"enabled": True}, headers=auth).status_code == 404
    assert client.post("/api/v1/lists/nope/update", headers=auth).status_code == 404
    assert client.post("/api/v1/lists", json={"source": "easyprivacy"}, headers=auth).status_code == 201
    assert client.post("/api/v1/lists", json={"source": "easyprivacy"}, headers=auth).status_code == 409
    assert client.put("/api/v1/lists/easyprivacy", json={"enabled": "yes"}, headers=auth).status_code == 400
    assert client.get("/api/v1/lists/easyprivacy", headers=auth).get_json()["list"]["name"] == "easyprivacy"


def test_a_failed_first_download_answers_422_and_keeps_the_subscription(client, auth, server):
    server.routes["/easylist.txt"] = server.route_status(404)
    response = client.post("/api/v1/lists", json={"source": "easylist"}, headers=auth)
    assert response.status_code == 422
    body = response.get_json()
    assert "404" in body["error"] and body["list"]["in_force"] is False and body["outcome"]["status"] == "failed"


def test_fixed_lists_turn_subscriptions_off(tmp_path):
    fixed = tmp_path / "fixed.txt"
    fixed.write_text("||fixed.example^\n")
    companion = Companion(tmp_path / "data", lists=[fixed])
    try:
        assert companion.lists is None
        assert lists_naming(companion, "www.fixed.example") == ["fixed"]
        client = create_app({"COMPANION": companion, "PORT": PORT}).test_client()
        response = client.get(
            "/api/v1/lists", headers={"Authorization": f"Bearer {companion.token}"}, base_url=f"http://127.0.0.1:{PORT}"
        )
        assert response.status_code == 409
    finally:
        companion.close()


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()
    (tmp_path / "data").mkdir()  # a folder the person made: a named one that does not exist is refused
    data = str(tmp_path / "data")

    def invoke(*args: str):
        return runner.invoke(main, ["lists", *args, "--data-dir", data] if args else ["lists", "--data-dir", data])

    return invoke


def test_cli_add_list_update_disable_remove(run, server):
    result = run("add", "easyprivacy")
    assert result.exit_code == 0, result.output
    assert "added easyprivacy: 2 filters in use" in result.output
    assert "easyprivacy: downloading" in result.stderr  # the progress display (not a terminal here)

    listing = run().output
    assert "easyprivacy  (enabled)" in listing and server.url("/easyprivacy.txt") in listing
    assert "2 used, 3 skipped, 0 rejected" in listing and "every 1 d" in listing

    as_json = json.loads(run("--json").output)
    assert [i["name"] for i in as_json if i["kind"] == "url"] == ["easyprivacy"]

    assert "not modified" in run("update").output
    server.routes["/easyprivacy.txt"] = server.route_status(500)
    result = run("update", "easyprivacy", "--force")
    assert result.exit_code == 1 and "FAILED" in result.stderr and "last good version stays" in result.stderr
    assert "ERROR" in run().output

    assert "disabled" in run("disable", "easyprivacy").output
    assert "easyprivacy  (disabled)" in run().output
    assert run("enable", "easyprivacy").exit_code == 0
    assert run("remove", "easyprivacy").exit_code == 0
    assert "easyprivacy" not in run().output
    result = run("remove", "easyprivacy")
    assert result.exit_code != 0 and "no list named" in result.output


def test_cli_refuses_file_urls_and_reports_failed_downloads(run, server):
    result = run("add", "file:///etc/passwd")
    assert result.exit_code != 0 and "only http:// and https://" in result.output
    server.routes["/easylist.txt"] = server.route_status(404)
    result = run("add", "easylist")
    assert result.exit_code != 0 and "404" in result.output and "crumbs lists update easylist" in result.output
    assert "enabled, no version yet" in run().output


def test_cli_adds_a_local_file(run, tmp_path):
    local = tmp_path / "mine.txt"
    local.write_text("! mine\n||cli-local.example^\n")
    result = run("add", str(local), "--name", "mine")
    assert result.exit_code == 0, result.output
    assert f"file {local.resolve()}" in run().output


# -- without a restart: the updater ----------------------------------------------------------------


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_server_follows_changes_made_from_the_command_line(companion, server, tmp_path):
    app = create_app({"COMPANION": companion, "PORT": PORT, "UPDATER": True, "UPDATER_INTERVAL_S": 0.1})
    updater: Updater = app.extensions["crumbs_updater"]
    try:
        assert updater.running
        result = CliRunner().invoke(main, ["lists", "add", "easyprivacy", "--data-dir", str(companion.paths.root)])
        assert result.exit_code == 0, result.output
        verdict = lambda: companion.check(TRACKER["url"], TRACKER["page_url"], "script")  # noqa: E731
        assert wait_for(lambda: verdict().list == "easyprivacy")

        local = tmp_path / "local.txt"
        local.write_text("||first.local.example^\n")
        result = CliRunner().invoke(main, ["lists", "add", str(local), "--data-dir", str(companion.paths.root)])
        assert result.exit_code == 0, result.output
        probe = lambda host: companion.check(f"https://{host}/x", "https://news.example/", "image")  # noqa: E731
        assert wait_for(lambda: probe("first.local.example").list == "local")
        # The person edits the file while the server runs: it is re-read.
        local.write_text("||second.local.example^\n")
        os.utime(local, ns=(time.time_ns(), time.time_ns() + 5_000_000))
        assert wait_for(lambda: probe("second.local.example").list == "local")
        assert probe("first.local.example").filter is None
    finally:
        updater.stop()
    assert not updater.running


def test_the_updater_refreshes_expired_lists_and_survives_failures(companion, server, small_list):
    registry = companion.lists
    registry.add("easyprivacy")
    updater = Updater(registry)
    updater.tick()
    assert server.hits["/easyprivacy.txt"] == 1, "not due yet: no request"
    with registry.store.transaction():
        registry.store.conn.execute("UPDATE lists SET last_checked = last_checked - 2 * 86400000")
    server.serve_list("/easyprivacy.txt", (small_list + "||api-tracker-three.example^\n").encode())
    updater.tick()
    assert registry.get("easyprivacy").used == 3
    assert companion.check("https://api-tracker-three.example/", "https://a.example/", "script").list == "easyprivacy"
    # A failure is recorded and retried later, not at every tick.
    with registry.store.transaction():
        registry.store.conn.execute("UPDATE lists SET last_checked = last_checked - 2 * 86400000")
    server.routes["/easyprivacy.txt"] = server.route_status(503)
    hits = server.hits["/easyprivacy.txt"]
    updater.tick()
    updater.tick()
    assert server.hits["/easyprivacy.txt"] == hits + 1
    assert "503" in registry.get("easyprivacy").last_error
    assert companion.check("https://api-tracker-three.example/", "https://a.example/", "script").list == "easyprivacy"


def test_create_app_starts_no_updater_unless_asked(app):
    assert "crumbs_updater" not in app.extensions


def test_a_local_file_edited_while_stopped_is_read_at_start(tmp_path):
    local = tmp_path / "mine.txt"
    local.write_text("||before-restart.example^\n")
    first = Companion(tmp_path / "data")
    try:
        first.lists.add(str(local))
    finally:
        first.close()
    local.write_text("||after-restart.example^\n")
    os.utime(local, ns=(time.time_ns(), time.time_ns() + 5_000_000))
    second = Companion(tmp_path / "data")
    try:
        probe = lambda host: second.check(f"https://{host}/x", "https://a.example/", "image")  # noqa: E731
        assert probe("after-restart.example").list == "mine"
        assert probe("before-restart.example").filter is None
    finally:
        second.close()
