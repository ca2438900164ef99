"""The attacks of the security checklist, tried against the app through Flask's test client."""

import logging

import time

import pytest

EXT_ORIGIN = "chrome-extension://{}"
EVIL = "https://evil.example"


@pytest.fixture
def ext_origin(app):
    return EXT_ORIGIN.format(app.config["EXTENSION_IDS"][0])


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", "news.example").replace(f"<path:{arg}>", "news.example")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


@pytest.mark.parametrize("host", [
    "attacker.example:8737", "localhost.attacker.example:8737", "127.0.0.1.nip.io:8737", "", "127.0.0.1:9999",
    "127.0.0.1", "localhost",
])
def test_dns_rebinding_foreign_host_is_refused_on_every_route(app, client, auth, host):
    for method, path in list(api_routes(app)) + [("GET", "/no/such/page"), ("GET", "/static/x.css")]:
        r = client.open(path, method=method, headers={**auth, "Host": host}, json={})
        assert r.status_code == 403, (method, path)
        assert b"google" not in r.data and b"news.example" not in r.data


@pytest.mark.parametrize("host", ["127.0.0.1:8737", "localhost:8737", "[::1]:8737"])
def test_own_loopback_names_are_accepted(client, host):
    assert client.get("/api/v1/health", headers={"Host": host}).status_code == 200


def test_every_api_route_but_health_and_pair_needs_the_token(app, client):
    for method, path in api_routes(app):
        if path in ("/api/v1/health", "/api/v1/pair") or not path.startswith("/api/"):
            continue
        r = client.open(path, method=method, json={})
        assert r.status_code == 401, (method, path)
        assert r.get_json()["error"]
        r = client.open(path, method=method, json={}, headers={"Authorization": "Bearer wrong-token-" + "x" * 40})
        assert r.status_code == 401, (method, path)


def test_token_in_a_url_is_refused(client, companion):
    r = client.get(f"/api/v1/choices?token={companion.token}")
    assert r.status_code == 400


def test_token_file_is_private(companion):
    assert (companion.paths.token.stat().st_mode & 0o777) == 0o600
    assert len(companion.token) >= 43  # 256 bits, url-safe base64


def test_web_origin_gets_no_cors_and_is_refused(client, auth):
    r = client.get("/api/v1/choices", headers={**auth, "Origin": EVIL})
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers
    pre = client.options("/api/v1/events", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "authorization,content-type"})
    assert pre.status_code == 403
    assert not [h for h in pre.headers.keys() if h.startswith("Access-Control-Allow")]
    assert client.get("/api/v1/choices", headers={**auth, "Origin": "null"}).status_code == 403


def test_extension_origin_gets_cors_for_itself_only(client, auth, ext_origin):
    pre = client.options("/api/v1/events", headers={"Origin": ext_origin, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == ext_origin
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    r = client.get("/api/v1/choices", headers={**auth, "Origin": ext_origin})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == ext_origin
    other = client.get("/api/v1/choices", headers={**auth, "Origin": "chrome-extension://" + "a" * 32})
    assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers


def test_csrf_simple_cross_site_posts_cannot_change_anything(client, auth, companion):
    # A form post can only be text/plain or form-encoded, and carries no Authorization header.
    r = client.post("/api/v1/events", data='{"events": []}', headers={"Content-Type": "text/plain", "Origin": EVIL})
    assert r.status_code in (401, 403, 415)
    r = client.put("/api/v1/choices/trackers/doubleclick.net", data="action=allow",
                   headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    # Even with the token, a web page's Origin is refused.
    r = client.put("/api/v1/choices/trackers/doubleclick.net", json={"action": "allow"}, headers={**auth, "Origin": EVIL})
    assert r.status_code == 403
    assert companion.store.choices().everywhere == {}
    # Reading a state-changing route with GET is not a thing.
    assert client.get("/api/v1/choices/trackers/doubleclick.net?action=allow", headers=auth).status_code == 405


def test_pairing_only_from_the_extension_and_with_the_right_code(client, companion, ext_origin):
    code = companion.new_pairing_code()
    assert client.post("/api/v1/pair", json={"code": code}, headers={"Origin": EVIL}).status_code == 403
    assert client.post("/api/v1/pair", json={"code": code}).status_code == 403  # no Origin: not a browser extension
    assert client.post("/api/v1/pair", json={"code": "00000000"}, headers={"Origin": ext_origin}).status_code == 403
    r = client.post("/api/v1/pair", json={"code": code}, headers={"Origin": ext_origin})
    assert r.status_code == 200 and r.get_json() == {"companion": "http://127.0.0.1:8737", "token": companion.token}
    assert client.post("/api/v1/pair", json={"code": code}, headers={"Origin": ext_origin}).status_code == 403


def test_pairing_codes_cannot_be_brute_forced_nor_killed_by_guessers(make_app, companion, ext_origin):
    """Guessing is throttled (5 checked tries per window, whoever makes them); a guesser's wrong tries never
    kill the code the person is about to type (issue 15: they used to, after 5 wrong tries by anyone)."""
    client = make_app(companion, PAIRING_WINDOW_S=1.0).test_client()
    code = companion.new_pairing_code()
    other = companion.new_pairing_code()  # a second live code, e.g. from 'crumbs pair'
    wrong = [f"{n:08d}" for n in range(100) if f"{n:08d}" not in (code, other)][:50]
    answers = [client.post("/api/v1/pair", json={"code": w}, headers={"Origin": ext_origin}) for w in wrong]
    statuses = [r.status_code for r in answers]
    assert statuses.count(403) == 5 and statuses.count(429) == 45  # only 5 were checked at all
    assert int(answers[-1].headers["Retry-After"]) >= 1 and answers[-1].get_json()["error"]
    throttled = client.post("/api/v1/pair", json={"code": code}, headers={"Origin": ext_origin})
    assert throttled.status_code == 429  # not checked, so not consumed either
    time.sleep(1.1)
    r = client.post("/api/v1/pair", json={"code": code}, headers={"Origin": ext_origin})
    assert r.status_code == 200 and r.get_json()["token"] == companion.token
    assert client.post("/api/v1/pair", json={"code": other}, headers={"Origin": ext_origin}).status_code == 200


def test_security_headers_on_every_answer(client, auth):
    for r in (client.get("/api/v1/health"), client.get("/api/v1/choices", headers=auth), client.get("/nope"),
              client.get("/api/v1/choices")):
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["Referrer-Policy"] == "no-referrer"


def test_no_debugger_and_no_traceback(app, client, auth, monkeypatch, companion):
    assert app.debug is False
    assert client.get("/console").status_code in (403, 404)

    def boom(*a, **k):
        raise RuntimeError("secret detail /home/user")

    monkeypatch.setattr(companion, "report", boom)
    r = client.post("/api/v1/events", json={"events": []}, headers=auth)
    assert r.status_code == 500
    assert r.get_json() == {"error": "internal error"}
    assert b"Traceback" not in r.data and b"secret detail" not in r.data


def test_the_token_never_reaches_the_logs(client, auth, companion, caplog):
    caplog.set_level(logging.DEBUG)
    client.get("/api/v1/choices", headers=auth)
    client.get("/api/v1/choices", headers={"Authorization": "Bearer " + companion.token[:-1] + "x"})
    client.post("/api/v1/events", data=b"{bad", headers={**auth, "Content-Type": "application/json"})
    assert companion.token not in caplog.text


def test_sql_injection_in_names_is_stored_literally(client, auth, companion):
    evil = "https://x.com/'); DROP TABLE requests;--"
    r = client.post("/api/v1/events", json={"events": [{"url": evil, "page_url": "https://news.example/", "type": "image"}]},
                    headers=auth)
    assert r.get_json()["results"][0]["ok"]
    assert companion.store.count_requests() == 1


def test_a_firefox_install_is_an_extension_origin_and_the_token_decides(client, auth, companion):
    # Firefox's per-install UUID can't be known in advance, and writing the two storage keys must pair.
    firefox = "moz-extension://6c1f3b2e-0000-4000-8000-123456789abc"
    ok = client.get("/api/v1/choices", headers={**auth, "Origin": firefox})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == firefox
    assert client.get("/api/v1/choices", headers={"Origin": firefox}).status_code == 401
    r = client.post("/api/v1/pair", json={"code": companion.new_pairing_code()}, headers={"Origin": firefox})
    assert r.status_code == 200 and r.get_json()["token"] == companion.token
    for fake in ("moz-extension://", "moz-extension:/x", "https://moz-extension.evil.example"):
        assert client.get("/api/v1/choices", headers={**auth, "Origin": fake}).status_code == 403
