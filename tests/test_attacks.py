"""Attacks a web page (or a hostile list server) can try on the companion, one section per row of the
security checklist (shared/notes/security-and-dnr.md). They complement test_security.py,
test_history_pages.py and test_lists*.py, which already cover the first try of most rows; each test
here was written to fail if its defence were removed or loosened.

Nothing leaves the machine: list servers are local (127.0.0.1, port 0), the app is driven through
Flask's test client with the companion's own Host unless a test says otherwise.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
import time

import pytest

from companion import auth as auth_mod
from companion import history as core
from companion.config import HOST
from companion.web import create_app

PORT = 8737
ORIGIN = f"http://127.0.0.1:{PORT}"
EVIL = "https://evil.example"
NEWS = "https://news.example/story"
GA = "https://www.google-analytics.com/analytics.js"

# Everything a person can open once signed in, and what a page may POST to.
PAGES = ["/", "/?p=all", "/map?p=all", "/search?p=all", "/choices", "/learn?p=all", "/data",
         "/site/news.example?p=all", "/tracker/google-analytics.com?p=all"]
EXPORTS = ["/data/export.json", "/data/export.csv", "/data/export.csv?table=daily", "/choices/export.json"]
PAGE_POSTS = ["/choice", "/choices/import", "/data/forget", "/data/retention", "/signout"]


def all_routes(app):
    """(method, path) of every route, path arguments filled with a plausible domain."""
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(r"<(?:\w+:)?%s>" % arg, "news.example" if rule.endpoint != "static" else "history.css", path)
        for method in sorted(rule.methods - {"OPTIONS"}) + ["OPTIONS"]:
            yield method, path


def report(client, auth, events):
    r = client.post("/api/v1/events", json={"events": events}, headers=auth)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["results"]


@pytest.fixture
def history(client, auth):
    """Some history recorded the way the extension records it: through the API."""
    report(client, auth, [{"url": GA, "page_url": NEWS, "type": "script"},
                          {"url": "https://stats.g.doubleclick.net/p.gif", "page_url": NEWS, "type": "image"},
                          {"url": "https://cdn.shop.example/a.js", "page_url": "https://shop.example/", "type": "script"}])
    return client


@pytest.fixture
def signed_in(sign_in, history, companion):
    return sign_in(history, companion)


@pytest.fixture
def ext_origin(app):
    return "chrome-extension://" + app.config["EXTENSION_IDS"][0]


def nothing_changed(companion, requests_before: int) -> None:
    assert not any(companion.store.list_choices().values())
    assert companion.store.count_requests() == requests_before


# == 1. DNS rebinding ==========================================================================


REBOUND_HOSTS = [
    "attacker.example:8737", "localhost.:8737", "127.0.0.1:8737.attacker.example", "127.0.0.2:8737",
    "0.0.0.0:8737", "[::ffff:127.0.0.1]:8737", "127.0.0.1:08737", "localhost:8737.nip.io",
]


@pytest.mark.parametrize("host", REBOUND_HOSTS)
def test_rebinding_is_refused_for_every_method_even_with_token_and_session(app, signed_in, auth, companion, host):
    """A rebound page has the person's SameSite cookie? No, but refuse before routing regardless."""
    for method, path in all_routes(app):
        r = signed_in.open(path, method=method, headers={**auth, "Host": host}, json={})
        assert r.status_code == 403, (method, path, host)
        body = r.get_data(as_text=True)
        assert "news.example" not in body and "google" not in body and companion.token not in body
        assert "Access-Control-Allow-Origin" not in r.headers
    for path in PAGES + EXPORTS:  # the signed-in pages too: no history leaks to a rebound origin
        r = signed_in.get(path, headers={"Host": host})
        assert r.status_code == 403 and b"news.example" not in r.data


def test_the_server_binds_loopback_only():
    # The socket itself is checked in test_server.py::test_listens_on_loopback_only.
    assert HOST == "127.0.0.1"


# == 2. Cross-origin reads =====================================================================


@pytest.mark.parametrize("origin", [EVIL, "http://127.0.0.1:9999", "http://localhost:9999", "null",
                                    "http://127.0.0.1:8737.evil.example", "file://"])
def test_no_cors_and_no_data_for_any_web_origin(app, history, auth, origin):
    """Another program's page on another loopback port is a different origin and gets nothing either."""
    for method, path in all_routes(app):
        if not path.startswith("/api/"):
            continue
        r = history.open(path, method=method, headers={**auth, "Origin": origin}, json={})
        assert not [h for h in r.headers.keys() if h.lower().startswith("access-control-")], (method, path)
        assert r.status_code == 403, (method, path)
        pre = history.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "PUT",
                                             "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.status_code == 403 and "Access-Control-Allow-Origin" not in pre.headers


def test_cors_is_never_a_wildcard_nor_a_near_miss_extension_id(history, auth, ext_origin):
    ok = history.get("/api/v1/choices", headers={**auth, "Origin": ext_origin})
    assert ok.headers["Access-Control-Allow-Origin"] == ext_origin and "Origin" in ok.headers["Vary"]
    for near in (ext_origin + "x", ext_origin[:-1], ext_origin.upper(), ext_origin + "/", "moz-extension://"):
        r = history.get("/api/v1/choices", headers={**auth, "Origin": near})
        assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers, near
    # A Firefox install (any per-install UUID) still reads nothing without the token.
    stranger = "moz-extension://0d9a8b7c-0000-4000-8000-cba987654321"
    assert history.get("/api/v1/choices", headers={"Origin": stranger}).status_code == 401
    # Our own pages need no CORS header (same origin).
    assert "Access-Control-Allow-Origin" not in history.get("/api/v1/choices", headers={**auth, "Origin": ORIGIN}).headers


# == 3. CSRF ===================================================================================


SIMPLE_BODIES = [  # what a cross-site <form> or a no-cors fetch can send: no custom header, simple types
    ("text/plain", '{"action": "allow", "events": [], "source": "easyprivacy", "report_only": true}'),
    ("application/x-www-form-urlencoded", "action=allow&source=easyprivacy"),
    ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="action"\r\n\r\nallow\r\n--x--\r\n'),
]


@pytest.mark.parametrize("origin", [None, EVIL, "null", "http://127.0.0.1:9999"])
@pytest.mark.parametrize("content_type, body", SIMPLE_BODIES)
def test_simple_cross_site_requests_change_nothing_on_any_api_route(app, history, companion, origin, content_type, body):
    before = companion.store.count_requests()
    lists_before = [i.name for i in companion.lists.all()]
    for method, path in all_routes(app):
        if method in ("GET", "HEAD", "OPTIONS") or not path.startswith("/api/"):
            continue
        headers = {"Content-Type": content_type, **({"Origin": origin} if origin else {})}
        r = history.open(path, method=method, data=body, headers=headers)
        assert r.status_code in (401, 403), (method, path)
    nothing_changed(companion, before)
    assert companion.store.get_setting("report_only") in (None, "0")
    assert [i.name for i in companion.lists.all()] == lists_before


def test_with_the_token_a_simple_content_type_is_still_refused(client, auth, companion):
    for path, method in (("/api/v1/lists", "POST"), ("/api/v1/choices/trackers/doubleclick.net", "PUT"),
                         ("/api/v1/settings", "PUT"), ("/api/v1/events", "POST"), ("/api/v1/lists/update", "POST")):
        for content_type, body in SIMPLE_BODIES:
            r = client.open(path, method=method, data=body, headers={**auth, "Content-Type": content_type})
            assert r.status_code == 415, (path, content_type)
    nothing_changed(companion, 0)


def test_state_changing_urls_do_nothing_on_get(app, signed_in, auth, companion):
    """<img src="http://127.0.0.1:8737/data/forget?what=everything&confirm=yes"> and the like."""
    before = companion.store.count_requests()
    for path in PAGE_POSTS:
        r = signed_in.get(path + "?what=everything&confirm=yes&kind=everywhere&tracker=x.com&action=allow&days=1")
        assert r.status_code == 405, path
    for path in ("/api/v1/choices/trackers/x.com?action=allow", "/api/v1/choices/trust/x.com?duration=always",
                 "/api/v1/lists/update", "/api/v1/history-link", "/api/v1/pair?code=12345678"):
        assert signed_in.get(path, headers=auth).status_code in (404, 405), path  # 404: 'update' read as a list name
    nothing_changed(companion, before)
    assert signed_in.get("/").status_code == 200  # and the session survived


@pytest.mark.parametrize("headers", [
    {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"},  # another local server: same SITE
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed iframe
    {"Origin": "http://localhost:8737.evil.example"},
    {"Origin": EVIL, "Sec-Fetch-Site": "same-origin"},  # a lying header pair: either one refuses
])
def test_page_forms_from_anywhere_else_are_refused_even_with_the_csrf_token(csrf_of, signed_in, companion, headers):
    token = csrf_of(signed_in)
    before = companion.store.count_requests()
    forms = [("/choice", {"kind": "everywhere", "tracker": "x.com", "action": "allow"}),
             ("/data/forget", {"what": "everything", "confirm": "yes"}),
             ("/data/retention", {"days": "1"}),
             ("/choices/import", {"json": '{"everywhere": [{"tracker": "x.com", "action": "allow"}]}'}),
             ("/signout", {})]
    for path, form in forms:
        r = signed_in.post(path, data={**form, "csrf": token}, headers=headers)
        assert r.status_code == 403, (path, headers)
    nothing_changed(companion, before)
    assert signed_in.get("/").status_code == 200


def test_a_csrf_token_works_only_with_its_own_session(csrf_of, sign_in, history, app, companion):
    person = sign_in(history, companion)
    token = csrf_of(person)
    attacker = sign_in(app.test_client(), companion)  # the attacker's own session (same app, other browser)
    for client, given in ((attacker, token), (person, csrf_of(attacker)), (person, ""), (person, token[:-1])):
        r = client.post("/choice", data={"csrf": given, "kind": "everywhere", "tracker": "x.com", "action": "allow"})
        assert r.status_code == 403
    assert not companion.store.list_choices()["everywhere"]


# == 3b. Open redirects through `next` ========================================================


@pytest.mark.parametrize("target", [
    "/\t/evil.example/", "/\n/evil.example/", "/\r\n/evil.example/", "/ /evil.example/", "/\x00/evil.example",
    "//evil.example", "///evil.example", "/\\evil.example", "\\/evil.example", "https://evil.example/",
    "javascript:alert(1)", " //evil.example", "\t//evil.example", "/\x7f/evil.example",
])
def test_next_never_leaves_the_companion(csrf_of, signed_in, target):
    token = csrf_of(signed_in)
    r = signed_in.post("/choice", data={"csrf": token, "kind": "everywhere", "tracker": "x.com", "action": "reset",
                                        "next": target})
    assert r.status_code == 303, target
    location = r.headers["Location"]
    assert location == "/choices", (target, location)


def test_next_keeps_working_for_our_own_pages(csrf_of, signed_in):
    token = csrf_of(signed_in)
    r = signed_in.post("/choice", data={"csrf": token, "kind": "everywhere", "tracker": "x.com", "action": "reset",
                                        "next": "/site/news.example?p=all"})
    assert r.headers["Location"] == "/site/news.example?p=all"


# == 4. Token leakage ==========================================================================


@pytest.mark.parametrize("query", ["token", "TOKEN", "Token", "access_token", "api_token", "crumbs-token"])
def test_a_token_in_the_url_is_refused_whatever_its_name(client, auth, companion, query):
    r = client.get(f"/api/v1/choices?{query}={companion.token}", headers=auth)
    assert r.status_code == 400
    assert companion.token not in r.get_data(as_text=True)


def test_the_token_is_never_echoed_nor_logged(app, history, auth, companion, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    token = companion.token
    seen = []
    near = "Bearer " + token[:-2] + "xx"
    for method, path in all_routes(app):
        for headers in ({"Authorization": near}, {"Authorization": near, "Origin": EVIL}, {"Host": "evil.example:8737"}):
            r = history.open(path, method=method, headers=headers, json={})
            seen.append(r.get_data(as_text=True) + str(r.headers))
    seen.append(history.get("/api/v1/openapi.json", headers=auth).get_data(as_text=True))
    link = history.post("/api/v1/history-link", headers=auth).get_json()["url"]
    assert token not in link
    monkeypatch.setattr(companion, "report", lambda *a, **k: 1 / 0)
    r = history.post("/api/v1/events", json={"events": [], "token": token}, headers=auth)
    assert r.status_code == 500
    seen.append(r.get_data(as_text=True))
    assert not [s for s in seen if token in s or token[:-2] in s]
    assert token not in caplog.text and token[:-2] not in caplog.text


def test_tokens_and_csrf_are_compared_in_constant_time(sign_in, client, auth, monkeypatch, companion):
    calls = []
    real = auth_mod.hmac.compare_digest

    def spy(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(auth_mod.hmac, "compare_digest", spy)  # the module hmac: pages use it too
    assert client.get("/api/v1/choices", headers=auth).status_code == 200
    assert calls, "the API token was not compared with hmac.compare_digest"
    calls.clear()
    page = sign_in(client, companion)
    page.post("/choice", data={"csrf": "x", "kind": "everywhere", "tracker": "x.com", "action": "allow"})
    assert calls, "the CSRF token was not compared with hmac.compare_digest"


def test_a_loosened_token_file_is_made_private_again(tmp_path):
    path = tmp_path / "token"
    token = auth_mod.load_or_create_token(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    assert auth_mod.load_or_create_token(path) == token
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_signin_code_does_not_travel_further(history, companion, auth):
    """The one-time code is in a URL: it must be single use and not sent on as a Referer."""
    link = history.post("/api/v1/history-link", headers=auth).get_json()["url"]
    page = history.get(link[len(ORIGIN):])
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'name="referrer" content="no-referrer"' in page.get_data(as_text=True)
    # Used: the browser that signed in with it is sent to its history (no new session is opened);
    # anyone else holding the link gets nothing.
    again = history.get(link[len(ORIGIN):])
    assert again.status_code == 303 and "Set-Cookie" not in again.headers
    assert history.application.test_client().get(link[len(ORIGIN):]).status_code == 401


# == Sessions: fixation, cookie flags =========================================================


def test_signing_in_never_adopts_a_session_id_the_browser_brings(history, companion):
    """A page on another loopback port can set cookies for 127.0.0.1 (cookies ignore ports)."""
    history.set_cookie("crumbs_session", "attacker-chosen-id-" + "x" * 30, domain="127.0.0.1")
    code = auth_mod.new_signin_code(companion.store)
    r = history.get(f"/signin/{code}")
    cookie = r.headers["Set-Cookie"]
    assert "attacker-chosen" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    fixed = history.application.test_client()
    fixed.set_cookie("crumbs_session", "attacker-chosen-id-" + "x" * 30, domain="127.0.0.1")
    assert fixed.get("/", base_url=ORIGIN).status_code == 401


def test_an_expired_session_is_refused(signed_in, companion, monkeypatch):
    assert signed_in.get("/").status_code == 200
    later = core.now_ms() + auth_mod.SESSION_TTL_MS + 1000
    from companion.storage import sessions  # where a session's expiry is read
    monkeypatch.setattr(sessions, "now_ms", lambda: later)
    assert signed_in.get("/").status_code == 401


# == 5. Stored and reflected XSS ===============================================================


HOSTILE_EVENTS = [
    {"url": 'https://x.tracker.example/"><script>alert(1)</script>', "page_url": 'https://news.example/"><svg onload=alert(2)>', "type": "script"},
    {"url": "javascript:alert(3)", "page_url": NEWS},
    {"url": "https://ok.example/a.js", "page_url": "javascript:alert(4)//https://news.example/"},
    {"url": "data:text/html,<script>alert(5)</script>", "page_url": NEWS},
    {"url": "https://ex\u202eelpmaxe.com/a.js", "page_url": NEWS},  # right-to-left override
    {"url": "https://xn--80ak6aa92e.com/p.gif", "page_url": NEWS, "type": "image"},  # IDN homograph, punycode
    {"url": "https://bücher.example/p.gif", "page_url": "https://аpple.com/", "type": "image"},
]


def assert_inert(html: str) -> None:
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "<svg onload" not in html and "onerror=" not in html.replace("&#34;", "")
    assert 'href="javascript:' not in html.lower() and "href='javascript:" not in html.lower()
    assert 'href="data:' not in html.lower()
    assert "\u202e" not in html


def test_hostile_urls_from_the_extension_are_inert_on_every_page(sign_in, client, auth, companion):
    results = report(client, auth, HOSTILE_EVENTS)
    stored = companion.store.count_requests()
    ok = [r["ok"] for r in results]
    assert ok[0] and not ok[1] and not ok[3] and not ok[4]  # no javascript:, data: or RTL-override host
    sign_in(client, companion)
    for path in PAGES + ["/site/xn--pple-43d.com?p=all", "/tracker/xn--bcher-kva.example?p=all",
                         "/search?p=all&q=%3Cscript%3E", "/search?p=all&q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"]:
        r = client.get(path)
        assert r.status_code in (200, 404), path
        assert_inert(r.get_data(as_text=True))
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert companion.store.count_requests() == stored


@pytest.mark.parametrize("path", [
    "/site/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/tracker/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "/company/%3Cscript%3Ealert(1)%3C%2Fscript%3E", '/search?q="><script>alert(1)</script>&p=all',
    '/?p="><script>alert(1)</script>', "/choices?imported=%3Cscript%3Ealert(1)%3C/script%3E",
    '/map?p=all&x="><script>alert(1)</script>',
])
def test_reflected_values_are_escaped(signed_in, path):
    r = signed_in.get(path)
    assert r.status_code in (200, 400, 404)
    assert_inert(r.get_data(as_text=True))


def test_form_values_echoed_on_confirm_and_error_pages_are_escaped(csrf_of, signed_in):
    token = csrf_of(signed_in)
    evil = '"><script>alert(1)</script>'
    confirm = signed_in.post("/data/forget", data={"csrf": token, "what": "site", "site": "news.example",
                                                   "from": evil, "to": evil})
    assert confirm.status_code == 200
    assert_inert(confirm.get_data(as_text=True))
    refused = signed_in.post("/data/forget", data={"csrf": token, "what": "period", "from": evil, "to": "2026-01-01"})
    assert refused.status_code == 400
    assert_inert(refused.get_data(as_text=True))
    imported = signed_in.post("/choices/import", data={"csrf": token, "json": '{"everywhere": [{"tracker": "' + evil.replace('"', '\\"') + '", "action": "allow"}]}'})
    assert imported.status_code == 400
    assert_inert(imported.get_data(as_text=True))


def test_api_answers_are_json_that_cannot_be_sniffed_as_html(client, auth):
    for r in (client.get("/api/v1/sites/%3Cscript%3Ealert(1)%3C%2Fscript%3E", headers=auth),
              client.post("/api/v1/check", json={"url": "<script>alert(1)</script>"}, headers=auth),
              client.get("/no/<script>", headers=auth)):
        assert r.status_code in (400, 404)
        assert r.mimetype == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff"


# == 6. Clickjacking and 14. cache headers, on every kind of answer ============================


def test_every_html_answer_forbids_framing_and_caching(csrf_of, history, companion, monkeypatch):
    answers = [history.get("/"), history.get("/signin/not-a-code")]  # 401 pages
    code = auth_mod.new_signin_code(companion.store)
    answers.append(history.get(f"/signin/{code}"))  # the sign-in page itself
    token = csrf_of(history)
    answers += [history.get(p) for p in PAGES]
    answers += [history.get("/site/not-in-history.example"),  # 404 page
                history.post("/choice", data={"csrf": "wrong"}),  # 403 page
                history.post("/data/forget", data={"csrf": token, "what": "site", "site": "news.example"}),  # confirm
                history.post("/data/retention", data={"csrf": token, "days": "nope"})]  # 400 page
    for r in answers:
        assert r.mimetype == "text/html", r.request.path
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Cache-Control"] == "no-store"


def test_exports_static_and_errors_are_never_cached(signed_in, auth, app, monkeypatch):
    answers = [signed_in.get(p) for p in EXPORTS]
    answers.append(signed_in.get("/static/history.css"))
    version = signed_in.get("/api/v1/dnr", headers=auth).headers["ETag"]
    answers.append(signed_in.get("/api/v1/dnr", headers={**auth, "If-None-Match": version}))
    answers += [signed_in.get("/api/v1/nope", headers=auth), signed_in.get("/api/v1/events", headers=auth),
                signed_in.post("/api/v1/events", data=b"x" * (5 * 1024 * 1024), headers=auth,
                               content_type="application/json")]
    assert [r.status_code for r in answers[-4:]] == [304, 404, 405, 413]
    for r in answers:
        assert r.headers["Cache-Control"] == "no-store", r.request.path
        assert r.headers["X-Content-Type-Options"] == "nosniff"


# == 7. ReDoS through a subscribed list ========================================================


def test_a_catastrophic_regex_in_a_subscribed_list_cannot_stall_classification(make_list_server, client, auth, monkeypatch):
    server = make_list_server()
    try:
        server.serve_list("/evil.txt", b"[Adblock Plus 2.0]\n! Title: evil\n/(a+)+$/\n||real-tracker.example^\n")
        r = client.post("/api/v1/lists", json={"source": server.url("/evil.txt"), "name": "evil"}, headers=auth)
        assert r.status_code == 201, r.get_json()
        body = {"url": "https://x.example/" + "a" * 5000 + "!", "page_url": NEWS, "type": "script"}
        answer = {}
        worker = threading.Thread(target=lambda: answer.setdefault("r", client.post("/api/v1/check", json=body,
                                                                                      headers=auth)), daemon=True)
        start = time.monotonic()
        worker.start()
        worker.join(5.0)  # Python's backtracking `re` would take minutes on this input
        assert not worker.is_alive(), "classification is stuck on a regex filter"
        assert answer["r"].status_code == 200 and time.monotonic() - start < 5.0
        hit = client.post("/api/v1/check", json={"url": "https://x.example/aaa", "page_url": NEWS}, headers=auth)
        assert hit.get_json()["list"] == "evil"  # the regex really is in force, not silently dropped
    finally:
        server.close()


# == 8. Oversized and malformed input on every endpoint =======================================


HOSTILE_JSON = [
    b'"\\ud800"', b'{"url": "https://\\ud800.com/", "page_url": "\\udfff"}', b"\xff\xfe\x00",
    b'{"events": [{"url": "https://\\ud800.x/", "page_url": "\\ud800"}]}', b"null", b"1e999999", b"[]",
    b'{"source": "http://\\ud800/"}', b'{"source": "http://a\\u0000b/x.txt"}', b'{"source": "http://a\\u007fb/x.txt"}',
    b'{"source": "easyprivacy", "name": "\\ud800"}', b'{"action": "\\ud800", "duration": {"a": []}}',
    b'{"report_only": "\\ud800", "enabled": null, "force": []}', b'{"code": "' + b"1" * 100_000 + b'"}',
    b"[" * 300 + b"]" * 300, b'{"url": "' + b"a" * 3_000_000 + b'"}', b'{"events": [' + b"{}, " * 999 + b"{}]}",
    b'{"a": 1, "a": 2}', b'{"events": [{"url": ["https://x/"], "page_url": {"x": 1}, "type": 5}]}',
]


def test_hostile_bodies_never_cause_a_server_error_on_any_route(app, client, auth, companion):
    """Includes a list URL with a NUL byte: it used to be stored, then broke every later update with a 500."""
    for method, path in all_routes(app):
        if not path.startswith("/api/") or method in ("OPTIONS", "HEAD"):
            continue
        for body in HOSTILE_JSON:
            r = client.open(path, method=method, data=body, headers={**auth, "Content-Type": "application/json"})
            assert r.status_code < 500, (method, path, body[:50], r.get_data()[:200])
            if r.status_code >= 400:
                assert r.is_json and r.get_json()["error"]
    assert all(":" not in i.source or "\x00" not in i.source for i in companion.lists.all())
    assert client.post("/api/v1/lists/update", headers=auth).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/lists", "/api/v1/check", "/api/v1/pair"])
def test_ten_megabytes_are_refused_before_parsing(client, auth, ext_origin, path):
    r = client.post(path, data=b"{" + b" " * (10 * 1024 * 1024) + b"}", headers={**auth, "Origin": ext_origin},
                    content_type="application/json")
    assert r.status_code == 413 and r.get_json()["error"]


def test_malformed_and_oversize_page_forms_are_refused_cleanly(csrf_of, signed_in, companion):
    token = csrf_of(signed_in)
    before = companion.store.count_requests()
    answers = {
        "huge": signed_in.post("/choices/import", data={"csrf": token, "json": "x" * (10 * 1024 * 1024)}),
        "parts": signed_in.post("/choice", data={"csrf": token, **{f"f{i}": "x" for i in range(5000)}}),
        "nested": signed_in.post("/choices/import", data={"csrf": token, "json": "[" * 100_000}),
        "days": signed_in.post("/data/retention", data={"csrf": token, "days": "9" * 5000}),
        "date": signed_in.post("/data/forget", data={"csrf": token, "what": "period", "from": "2026-13-45", "to": "x"}),
        "site": signed_in.post("/data/forget", data={"csrf": token, "what": "site", "site": "a" * 100_000}),
        "bytes": signed_in.post("/choice", data=b"csrf=" + token.encode() + b"&kind=everywhere&action=block&tracker=%ff%fe",
                                content_type="application/x-www-form-urlencoded"),
    }
    for what, r in answers.items():
        assert 400 <= r.status_code < 500, (what, r.status_code)
    assert answers["huge"].status_code == 413
    for path in ("/site/" + "a" * 20_000, "/signin/" + "a" * 20_000, "/search?q=" + "a" * 100_000, "/?p=" + "x" * 5000,
                 "/site/%ED%A0%80", "/tracker/..%2F..%2Fetc%2Fpasswd", "/company/%00"):
        assert signed_in.get(path).status_code < 500, path
    nothing_changed(companion, before)


@pytest.mark.parametrize("url", ["data:text/html,x", "blob:https://news.example/0f1e", "chrome-extension://abc/x.js",
                                 "moz-extension://abc/x.js", "file:///etc/passwd", "javascript:alert(1)", "about:blank",
                                 "ftp://news.example/x"])
def test_non_network_urls_are_ignored(client, auth, companion, url):
    results = report(client, auth, [{"url": url, "page_url": NEWS, "type": "script"}])
    assert results[0]["ok"] is False and results[0]["error"]
    assert companion.store.count_requests() == 0
    assert client.post("/api/v1/check", json={"url": url}, headers=auth).status_code == 400


def test_a_list_server_answering_garbage_fails_that_list_only(make_list_server, client, auth, companion):
    server = make_list_server()

    def garbage(h):
        h.close_connection = True
        h.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")

    try:
        server.routes["/garbage.txt"] = garbage
        server.serve_list("/good.txt", b"[Adblock Plus 2.0]\n! Title: good\n||good-tracker.example^\n")
        bad = client.post("/api/v1/lists", json={"source": server.url("/garbage.txt"), "name": "garbage"}, headers=auth)
        assert bad.status_code == 422 and bad.get_json()["outcome"]["status"] == "failed"
        good = client.post("/api/v1/lists", json={"source": server.url("/good.txt"), "name": "good"}, headers=auth)
        assert good.status_code == 201
        update = client.post("/api/v1/lists/update", json={"force": True}, headers=auth)
        assert update.status_code == 200
        by_name = {o["name"]: o["status"] for o in update.get_json()["results"]}
        assert by_name["garbage"] == "failed" and by_name["good"] in ("updated", "unchanged", "not-modified")
    finally:
        server.close()


# == 9. SQL injection and LIKE tricks ==========================================================


def test_sql_and_like_metacharacters_are_only_text(sign_in, history, auth, companion):
    for path in ("/api/v1/choices/trackers/x.com'--", "/api/v1/choices/trackers/%25", "/api/v1/sites/'%20OR%201=1--"):
        r = history.open(path, method="PUT" if "choices" in path else "GET", json={"action": "block"}, headers=auth)
        assert r.status_code == 400, path
    before = companion.store.count_requests()
    assert before == 3
    page = sign_in(history, companion)
    for q in ("%", "_", "' OR '1'='1", "%' --"):
        html = page.get("/search", query_string={"q": q, "p": "all"}).get_data(as_text=True)
        assert "news.example" not in html.split("</form>", 1)[-1], q  # a wildcard matched everything
    assert companion.store.count_requests() == before


# == 10. Path traversal and dangerous list sources ============================================


@pytest.mark.parametrize("body", [
    {"source": "FILE:///etc/passwd"}, {"source": "file:/etc/passwd"}, {"source": "/etc/passwd"},
    {"source": "~/.bashrc"}, {"source": "../../../etc/passwd"}, {"source": "\\\\server\\share\\list.txt"},
    {"source": " file:///etc/passwd"}, {"source": "http://a\x00b/x.txt"}, {"source": "http://a\tb/x.txt"},
    {"source": "gopher://127.0.0.1:25/x"}, {"source": "http:///etc/passwd"},
    {"source": "easyprivacy", "name": "../../token"}, {"source": "easyprivacy", "name": "/tmp/x"},
    {"source": "easyprivacy", "name": "..\\..\\x"}, {"source": "easyprivacy", "name": "a" * 41},
    {"source": "easyprivacy", "name": "Upper"}, {"source": "easyprivacy", "name": ".hidden"},
])
def test_the_api_never_reads_or_writes_outside_the_lists_folder(client, auth, companion, data_dir, body):
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*") if "cache" not in p.parts)
    r = client.post("/api/v1/lists", json=body, headers=auth)
    assert r.status_code == 400, (body, r.get_json())
    after = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*") if "cache" not in p.parts)
    assert [p for p in after if p not in before and not str(p).endswith(("-wal", "-shm", ".lock"))] == []
    assert all(i.kind != "file" for i in companion.lists.all())


def test_list_names_in_the_path_cannot_climb_out(client, auth, companion):
    for path in ("/api/v1/lists/..%2F..%2Ftoken", "/api/v1/lists/../../token", "/api/v1/lists/%2e%2e",
                 "/api/v1/lists/..", "/api/v1/lists/token"):
        for method in ("GET", "PUT", "DELETE"):
            r = client.open(path, method=method, json={"enabled": False}, headers=auth)
            assert r.status_code in (400, 404, 405), (method, path)
    assert companion.paths.token.exists() and companion.paths.token.read_text().strip() == companion.token


def test_an_uploaded_file_name_is_never_used(csrf_of, signed_in, data_dir, tmp_path):
    token = csrf_of(signed_in)
    before = set(tmp_path.rglob("*"))
    for name in ("../../.bashrc", "/tmp/evil.json", "..\\..\\evil.json"):
        upload = {"csrf": token, "file": (io.BytesIO(b'{"everywhere": []}'), name)}
        r = signed_in.post("/choices/import", data=upload, content_type="multipart/form-data")
        assert r.status_code == 303
    created = {p for p in set(tmp_path.rglob("*")) - before if not str(p).endswith(("-wal", "-shm", "-journal"))}
    assert created == set()


# == 11. No WebSocket or SSE endpoint ==========================================================


def test_there_is_no_websocket_or_event_stream_to_hijack(app, history, auth):
    for method, path in all_routes(app):
        r = history.open(path, method=method, headers={**auth, "Origin": EVIL, "Upgrade": "websocket",
                                                       "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                       "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert r.status_code != 101 and "Sec-WebSocket-Accept" not in r.headers
        assert r.status_code == 403 or not path.startswith("/api/"), (method, path)
        assert r.mimetype != "text/event-stream"


# == 12. Debugger and development server =======================================================


def test_the_debugger_cannot_be_switched_on_by_config(companion):
    app = create_app({"COMPANION": companion, "PORT": PORT, "DEBUG": True})
    assert app.debug is False
    client = app.test_client()
    for path in ("/console", "/console?__debugger__=yes&cmd=resource&f=debugger.js", "/?__debugger__=yes&cmd=printpin"):
        r = client.get(path, base_url=ORIGIN)
        assert r.status_code in (401, 404), path
        assert b"Werkzeug" not in r.data and b"debugger" not in r.data.lower()


def test_a_page_error_shows_no_traceback(signed_in, monkeypatch, app, companion):
    from companion.web import pages

    def boom(*a, **k):
        raise RuntimeError("secret /home/person/.local detail")

    monkeypatch.setattr(pages.History, "snapshot", boom)
    r = signed_in.get("/")
    assert r.status_code == 500
    assert b"Traceback" not in r.data and b"secret" not in r.data and b"/home/" not in r.data


# == 13. Server impersonation (the extension's side is in extension/test/companion.test.mjs) ===


def test_only_the_token_holder_can_answer_the_challenge(client, companion, tmp_path):
    nonce = "0123456789abcdef" * 2
    proof = client.get("/api/v1/health", headers={"X-Crumbs-Challenge": nonce}).headers["X-Crumbs-Proof"]
    other_token = auth_mod.load_or_create_token(tmp_path / "other")  # a squatter with its own secret
    host = f"127.0.0.1:{PORT}"
    assert proof == auth_mod.proof(companion.token, nonce, host) != auth_mod.proof(other_token, nonce, host)
    again = client.get("/api/v1/health", headers={"X-Crumbs-Challenge": "f" * 32}).headers["X-Crumbs-Proof"]
    assert again != proof  # a fresh nonce: a recorded answer cannot be replayed
    # bound to the Host and Origin it was asked through (the relay case is in test_attacks_http.py)
    via_localhost = client.get("/api/v1/health", headers={"X-Crumbs-Challenge": nonce, "Host": f"localhost:{PORT}"})
    assert via_localhost.headers["X-Crumbs-Proof"] == auth_mod.proof(companion.token, nonce, f"localhost:{PORT}") != proof
    ext = "chrome-extension://" + client.application.config["EXTENSION_IDS"][0]
    from_ext = client.get("/api/v1/health", headers={"X-Crumbs-Challenge": nonce, "Origin": ext})
    assert from_ext.headers["X-Crumbs-Proof"] == auth_mod.proof(companion.token, nonce, host, ext) != proof
    for bad in ("zz" * 16, "0" * 15, "0" * 65, companion.token):
        r = client.get("/api/v1/health", headers={"X-Crumbs-Challenge": bad})
        assert r.status_code == 400 and "X-Crumbs-Proof" not in r.headers


# == 15. Export injection ======================================================================


@pytest.mark.parametrize("value", ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
                                   "\t=1+1", "\r=1+1"])
def test_csv_cells_that_a_spreadsheet_would_run_start_with_a_quote(value):
    assert core.csv_cell(value) == "'" + value


def test_csv_export_of_hostile_hostnames_recorded_through_the_api(sign_in, client, auth, companion):
    results = report(client, auth, [{"url": "https://-evil.example/p.gif", "page_url": "https://-site.example/",
                                     "type": "image"}])
    assert results[0]["ok"], results
    sign_in(client, companion)
    for table in ("requests", "daily"):
        r = client.get(f"/data/export.csv?table={table}")
        assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
        cells = [c for row in rows[1:] for c in row]
        assert "'-site.example" in cells and "'-evil.example" in cells
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    j = client.get("/data/export.json")
    assert j.mimetype == "application/json" and j.headers["Content-Disposition"].startswith("attachment")


def test_the_data_folder_and_its_cache_are_private_even_loosened_by_an_older_crumbs(tmp_path):
    """The cache holds the browser's rules, which name the person's sites and choices."""
    from companion.config import DataPaths

    root = tmp_path / "data"
    paths = DataPaths.at(root)
    assert root.stat().st_mode & 0o777 == 0o700 and paths.cache.stat().st_mode & 0o777 == 0o700
    root.chmod(0o755)
    paths.cache.chmod(0o755)  # as an older Crumbs left it
    DataPaths.at(root)
    assert root.stat().st_mode & 0o777 == 0o700 and paths.cache.stat().st_mode & 0o777 == 0o700
