"""The history pages through Flask's test client: sign-in, 401 without it, CSRF, escaping of
hostile names, controls, export, forget and retention as a person uses them."""

from __future__ import annotations

import csv
import io
import json
import re
import time

import pytest
from click.testing import CliRunner

from companion import auth
from companion import history as core
from companion.history import History
from companion.storage import DAY_MS, RecordedEvent, now_ms
from companion.trackerdb import TrackerDB


PORT = 8737
ORIGIN = f"http://127.0.0.1:{PORT}"
PAGES = ["/", "/?p=all", "/map?p=all", "/search?p=all", "/choices", "/learn?p=all", "/data",
         "/site/news.example?p=all", "/tracker/doubleclick.net?p=all", "/company/Google?p=all"]

HOSTILE_SITE = '<script>alert("s")</script>.example'
HOSTILE_HOST = '"><img src=x onerror=alert(1)>.evil.test'
HOSTILE_DOMAIN = "javascript:alert(2)//x.test"
LONG_SITE = "a" * 250 + ".example"
UNICODE_SITE = "bücher-ünïcødé-例え.example"


@pytest.fixture
def web(make_verdict, small_trackers, app, companion):
    """The app with a history of today, owners from a small fake tracker base."""
    now = now_ms()
    events = []
    plan = [
        ("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 4),
        ("news.example", "www.google-analytics.com", "google-analytics.com", True, False, 2),
        ("shop.example", "www.google-analytics.com", "google-analytics.com", True, True, 3),
        ("shop.example", "connect.facebook.net", "facebook.net", True, False, 1),
        ("news.example", "cdn.static.example", "static.example", False, False, 2),
        (HOSTILE_SITE, HOSTILE_HOST, HOSTILE_DOMAIN, True, False, 2),
        (LONG_SITE, "stats.g.doubleclick.net", "doubleclick.net", True, True, 1),
        (UNICODE_SITE, "=cmd|' /C calc'!A0", "=cmd.example", True, True, 1),
    ]
    for site, host, domain, tracker, blocked, n in plan:
        events += [RecordedEvent(make_verdict(site, host, domain, tracker, blocked, "||x^" if tracker else None), now - i * 1000, blocked) for i in range(n)]
    companion.store.record(events)
    app.extensions["crumbs_history"] = History(companion.store, small_trackers)
    return app


@pytest.fixture
def anon(web):
    return web.test_client()


@pytest.fixture
def signed_in(web, companion):
    client = web.test_client()
    code = auth.new_signin_code(companion.store)
    assert client.get(f"/signin/{code}").status_code == 200
    return client


# -- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES + ["/data/export.json", "/data/export.csv"])
def test_every_page_needs_the_session(anon, path):
    response = anon.get(path)
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "crumbs open" in text and "popup" in text
    assert "news.example" not in text


def test_posts_without_session_change_nothing(anon, companion):
    response = anon.post("/choice", data={"kind": "everywhere", "tracker": "doubleclick.net", "action": "allow"})
    assert response.status_code == 401
    assert companion.store.list_choices()["everywhere"] == []
    assert anon.post("/data/forget", data={"what": "everything", "confirm": "yes"}).status_code == 401
    assert companion.store.count_requests() > 0


def test_popup_link_signs_in_once_with_a_strict_httponly_cookie(web, companion, auth):
    client = web.test_client()
    assert client.post("/api/v1/history-link").status_code == 401  # behind the API token
    link = client.post("/api/v1/history-link", headers=auth).get_json()["url"]
    assert link.startswith(f"http://127.0.0.1:{PORT}/signin/")
    path = link[len(ORIGIN):]
    response = client.get(path)
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert 'http-equiv="refresh"' in response.get_data(as_text=True)
    assert client.get("/").status_code == 200
    # The code is single use: a second browser with the same link gets nothing.
    other = web.test_client()
    again = other.get(path)
    assert again.status_code == 401 and "already been used" in again.get_data(as_text=True)
    assert other.get("/").status_code == 401


def test_session_and_code_are_stored_hashed(signed_in, companion):
    cookie = signed_in.get_cookie("crumbs_session", domain="127.0.0.1")
    rows = companion.store.conn.execute("SELECT id_hash FROM web_sessions").fetchall()
    assert rows and all(cookie.value not in r[0] for r in rows)


def test_forged_cookie_is_refused(web):
    client = web.test_client()
    client.set_cookie("crumbs_session", "not-a-session", domain="127.0.0.1")
    assert client.get("/").status_code == 401


def test_foreign_host_is_refused(signed_in):
    assert signed_in.get("/", base_url="http://evil.example:8737").status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_with_security_headers(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 200, path
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in headers
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html  # no inline script or style: the CSP would block them
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None


def test_signout_ends_the_session(csrf_of, signed_in):
    token = csrf_of(signed_in)
    assert signed_in.post("/signout", data={"csrf": token}).status_code == 303
    assert signed_in.get("/").status_code == 401


# -- what a person sees -------------------------------------------------------------------


def test_overview_shows_the_reach_line_and_chart(signed_in):
    html = signed_in.get("/?p=today").get_data(as_text=True)
    line = re.search(r'id="reach-line">(.*?)</p>', html, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", line)
    # news.example: Google Analytics got through; shop.example and the long site: every Google request blocked.
    assert re.sub(r"\s+", " ", text).strip() == "Google reached you on 1 of your 5 sites; Crumbs stopped it on 2 more today."
    assert len(re.findall(r'class="bar blocked"', html)) == 1  # today: one day, one bar pair
    assert 'id="sites-visited">5<' in html


def test_site_page_lists_third_parties_and_controls(signed_in):
    html = signed_in.get("/site/news.example?p=today").get_data(as_text=True)
    assert "doubleclick.net" in html and "google-analytics.com" in html and "static.example" in html
    assert "Google" in html and "Block here" in html and "Allow everywhere" in html and "Trust this site" in html


def test_tracker_and_company_pages(signed_in):
    html = signed_in.get("/tracker/google-analytics.com?p=today").get_data(as_text=True)
    assert "news.example" in html and "shop.example" in html and "How you use sites." in html
    html = signed_in.get("/company/Google?p=today").get_data(as_text=True)
    assert "doubleclick.net" in html and "google-analytics.com" in html
    assert signed_in.get("/tracker/never-seen.example").status_code == 404


def test_search_filters(signed_in):
    html = signed_in.get("/search?p=today&q=shop").get_data(as_text=True)
    assert "2 results" in html and "facebook.net" in html and "doubleclick.net" not in html
    html = signed_in.get("/search?p=today&category=analytics").get_data(as_text=True)
    assert "google-analytics.com" in html and "facebook.net" not in html


def _google_history(app, companion, make_verdict, tmp_path, plan) -> None:
    """The history of ``plan`` ((site, host, domain, tracker, blocked, requests) today), read with a knowledge
    base in which Google owns doubleclick.net (a tracker), gstatic.com, googlevideo.com and youtube.com."""
    kb = {
        "categories": {"advertising": {"label": "Advertising", "learns": "What you read."}},
        "companies": {"Google": {"url": "https://about.google",
                                 "domains": ["doubleclick.net", "gstatic.com", "googlevideo.com", "youtube.com"]}},
        "trackers": {"doubleclick.net": {"owner": "Google", "category": "advertising", "description": "ads"}},
    }
    path = tmp_path / "trackers.json"
    path.write_text(json.dumps(kb), encoding="utf-8")
    now = now_ms()
    companion.store.record([RecordedEvent(make_verdict(site, host, domain, tracker, blocked, "||x^" if tracker else None),
                                          now - i * 1000, blocked) for site, host, domain, tracker, blocked, n in plan
                            for i in range(n)])
    app.extensions["crumbs_history"] = History(companion.store, TrackerDB.from_file(path))


def test_the_company_page_says_which_of_its_requests_were_tracking(make_verdict, app, companion, client, sign_in,
                                                                   tmp_path):
    """'Google reached you on 3 sites' counted a font host no filter matched, and Google's own site, where a
    request to its ad domain is not counted as tracking: the page says how many requests were tracking, what
    the others were, which domains were not trackers, and which sites are its own."""
    plan = [  # site, host, domain, tracker, blocked, requests
        ("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 2),
        ("news.example", "fonts.gstatic.com", "gstatic.com", False, False, 3),
        ("blog.example", "fonts.gstatic.com", "gstatic.com", False, False, 1),
        ("youtube.com", "stats.g.doubleclick.net", "doubleclick.net", False, False, 4),  # its own site
        ("youtube.com", "r1.googlevideo.com", "googlevideo.com", False, False, 1),  # seen on its own site only
    ]
    _google_history(app, companion, make_verdict, tmp_path, plan)
    sign_in(client, companion)
    html = client.get("/company/Google?p=today").get_data(as_text=True)
    line = _words(html, r'id="reach-line">(.*?)</p>')
    assert "through 3 domains: 11 requests, 9 got through, 2 blocked." in line, line
    assert line.endswith("2 of them were tracker requests (a filter list named them); of the other 9, 4 matched no "
                         "filter, and 5 were made on its own sites, where Crumbs does not count its requests as "
                         "tracking."), line
    domain_row = lambda d: _words(html, rf'<tr data-domain="{re.escape(d)}">(.*?)</tr>')  # noqa: E731
    assert "not a tracker: no filter matched its requests today" in domain_row("gstatic.com")
    assert "seen only on its own sites today, where its requests are not counted as tracking" in domain_row(
        "googlevideo.com")
    assert "not a tracker" not in domain_row("doubleclick.net") and "own sites" not in domain_row("doubleclick.net")
    site_row = lambda s: _words(html, rf'<tr data-site="{re.escape(s)}">(.*?)</tr>')  # noqa: E731
    assert site_row("youtube.com").startswith("youtube.com its own site")
    assert "its own site" not in site_row("news.example")
    # Its tracker requests per site: news.example 2 of 5, youtube.com 0 of 5.
    numbers = lambda s: re.findall(r'<td class="num">([^<]*)</td>',  # noqa: E731
                                   re.search(rf'<tr data-site="{re.escape(s)}">(.*?)</tr>', html, re.S).group(1))
    assert numbers("news.example") == ["5", "2", "3", "2"] and numbers("youtube.com") == ["5", "0", "5", "0"]
    # On its own site's page, doubleclick.net is said to be of the same owner, not a request no filter matched.
    youtube = client.get("/site/youtube.com?p=today").get_data(as_text=True)
    row = _words(youtube, r'<tr class="not-tracker" data-domain="doubleclick\.net"[^>]*>(.*?)</tr>')
    assert "same owner as this site: not counted as a tracker" in row and "none matched" not in row, row


@pytest.mark.parametrize("plan, words", [
    ([("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 1)],
     "It was a tracker request (a filter list named it)."),
    ([("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 2)],
     "All of them were tracker requests (a filter list named them)."),
    ([("news.example", "fonts.gstatic.com", "gstatic.com", False, False, 1)],
     "It was not a tracker request: it matched no filter."),
    ([("youtube.com", "stats.g.doubleclick.net", "doubleclick.net", False, False, 1)],
     "It was not a tracker request: it was made on its own sites, where Crumbs does not count its requests as "
     "tracking."),
    ([("news.example", "fonts.gstatic.com", "gstatic.com", False, False, 2)],
     "None of them was a tracker request: they matched no filter."),
    ([("news.example", "fonts.gstatic.com", "gstatic.com", False, False, 2),
      ("youtube.com", "stats.g.doubleclick.net", "doubleclick.net", False, False, 1)],
     "None of them was a tracker request: 2 matched no filter, and 1 was made on its own sites, where Crumbs does "
     "not count its requests as tracking."),
    ([("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 1),
      ("youtube.com", "stats.g.doubleclick.net", "doubleclick.net", False, False, 1)],
     "1 of them was a tracker request (a filter list named it); the other 1 was made on its own sites, where "
     "Crumbs does not count its requests as tracking."),
    ([("news.example", "stats.g.doubleclick.net", "doubleclick.net", True, True, 3),
      ("news.example", "fonts.gstatic.com", "gstatic.com", False, False, 2)],
     "3 of them were tracker requests (a filter list named them); the other 2 matched no filter."),
])
def test_the_company_pages_words_on_tracking_in_every_case(plan, words, make_verdict, app, companion, client, sign_in,
                                                           tmp_path):
    _google_history(app, companion, make_verdict, tmp_path, plan)
    sign_in(client, companion)
    line = _words(client.get("/company/Google?p=today").get_data(as_text=True), r'id="reach-line">(.*?)</p>')
    assert line.endswith(words), line


def test_search_pages_through_every_result(signed_in, companion, make_verdict):
    """More results than a page holds: each page says which it shows, and the pages hold every result once."""
    now = now_ms()
    companion.store.record([RecordedEvent(make_verdict(f"many{i:03d}.example", "stats.g.doubleclick.net", "doubleclick.net",
                                                       True, True, "||x^"), now - i, True) for i in range(450)])
    seen = []
    for number in (1, 2, 3):
        html = signed_in.get(f"/search?p=today&q=many&page={number}").get_data(as_text=True)
        first, last = (1, 200) if number == 1 else (201, 400) if number == 2 else (401, 450)
        assert f"450 results today: {first} to {last} shown, the busiest first." in html
        assert f"Page {number} of 3" in html
        assert ('rel="next"' in html) == (number < 3) and ('rel="prev"' in html) == (number > 1)
        seen += re.findall(r'href="/site/(many\d+\.example)', html)
    assert sorted(seen) == [f"many{i:03d}.example" for i in range(450)]
    # The next link keeps the query; a page past the last is the last; a page that is not a number is the first.
    html = signed_in.get("/search?p=today&q=many&page=1").get_data(as_text=True)
    assert re.search(r'rel="next" href="/search\?[^"]*q=many[^"]*page=2"', html)
    assert "401 to 450 shown" in signed_in.get("/search?p=today&q=many&page=99").get_data(as_text=True)
    for bad in ("abc", "-1", "0", "9" * 30, "²", "١", " 2"):  # a superscript passes str.isdigit(), not int()
        response = signed_in.get(f"/search?p=today&q=many&page={bad}")
        assert response.status_code == 200 and "1 to 200 shown" in response.get_data(as_text=True)


def test_map_draws_sites_and_trackers(signed_in):
    html = signed_in.get("/map?p=today").get_data(as_text=True)
    assert html.count('class="node site"') == 5
    assert 'data-name="doubleclick.net"' in html
    assert html.count('class="edge"') >= 6
    assert 'src="/static/map.js"' in html


@pytest.mark.parametrize("key", ["today", "30d", "all"])
def test_the_maps_links_keep_its_period(signed_in, key):
    # A click from the 30-day map opened the site's 7-day page: the nodes' links carried no period.
    html = signed_in.get(f"/map?p={key}").get_data(as_text=True)
    links = re.findall(r'<a class="node [^"]*" href="([^"]*)"', html)
    assert len(links) == html.count('class="node site"') + html.count('class="node tracker')
    assert {re.sub(r"^/(site|tracker)/[^?/]+", "", link) for link in links} == {f"?p={key}"}
    assert f'href="/site/news.example?p={key}"' in html and f'href="/tracker/doubleclick.net?p={key}"' in html


def test_learn_page_uses_the_persons_numbers(signed_in):
    html = signed_in.get("/learn?p=today").get_data(as_text=True)
    assert "Behavioural targeting" in html and "cannot" in html
    assert "on your sites: 1 tracker" in html  # analytics: google-analytics.com


def _words(html: str, pattern: str) -> str:
    """The text of the first match of ``pattern`` (one group), tags removed and spaces collapsed."""
    found = re.search(pattern, html, re.S)
    assert found, pattern
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()


@pytest.mark.parametrize("n", [1, 2])
def test_a_count_of_one_reads_in_the_singular(n, make_verdict, small_trackers, app, companion, client, sign_in,
                                               csrf_of):
    # A reviewer read "made 1 requests", "1 were blocked", "on 1 of your site", "1 tracker, 1 requests",
    # "1 tracker requests" (the map) and "1 filters" (forgetting). One site, one tracker, n blocked requests,
    # each named by a filter of its own.
    now = now_ms()
    companion.store.record([
        RecordedEvent(make_verdict("one.example", "stats.g.doubleclick.net", "doubleclick.net", True, True,
                                   f"||doubleclick.net/{i}^"), now - i * 1000, True)
        for i in range(n)])
    app.extensions["crumbs_history"] = History(companion.store, small_trackers)
    sign_in(client, companion)
    get = lambda path: client.get(path).get_data(as_text=True)  # noqa: E731
    requests, were = ("1 request", "was") if n == 1 else (f"{n} requests", "were")

    site = get("/site/one.example?p=today")
    assert _words(site, r'id="summary">(.*?)</p>') == (
        f"1 third party (1 tracker) made {requests} on this site today: 0 got through, {n} {were} blocked "
        "by your browser. 0 trackers reached you here; Crumbs stopped 1.")
    tracker = get("/tracker/doubleclick.net?p=today")
    assert _words(tracker, r'id="reach-line">(.*?)</p>').endswith(f": {requests}, 0 got through, {n} blocked.")
    company = get("/company/Google?p=today")
    assert f"through 1 domain: {requests}, 0 got through, {n} blocked." in _words(company, r'id="reach-line">(.*?)</p>')
    learn = get("/learn?p=today")
    assert f"on your sites: 1 tracker, {requests}, 1 site" in _words(learn, r'<dl class="categories">(.*?)</dl>')
    mine = _words(learn, r'<p class="mine">(.*?)</p>')
    assert "you visited 1 site;" in mine and f"Your browser made {requests} to trackers." in mine
    overview = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", get("/?p=today")))
    assert re.search(r"\b1 site visited\b", overview) and re.search(r"\b1 tracker seen\b", overview)
    assert re.search(rf"\b{n} third-party {requests.split()[1]}\b", overview)
    graph = get("/map?p=today")
    assert f"<title>one.example: {n} tracker {requests.split()[1]}</title>" in graph
    assert "the 1 site where" in graph and "the\n1 tracker that reached" in graph
    data = _words(get("/data"), r"(Crumbs keeps .*?)</p>")
    assert data.startswith(f"Crumbs keeps {requests} in detail") and "and 1 daily total (" in data

    token = csrf_of(client)
    done = client.post("/data/forget", data={"csrf": token, "what": "site", "site": "one.example", "confirm": "yes"})
    forgotten = _words(done.get_data(as_text=True), r'id="forgotten">(.*?)</p>')
    filters = "1 filter" if n == 1 else f"{n} filters"
    assert f"— {requests}, 1 daily total, and the 1 host name," in forgotten
    assert f"domain names and {filters} nothing else referred to." in forgotten


# -- hostile names ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/?p=today", "/map?p=today", "/search?p=today", "/learn?p=today",
                                  "/search?p=today&q=%3Cscript%3E"])
def test_hostile_names_are_escaped(signed_in, path):
    html = signed_in.get(path).get_data(as_text=True)
    assert '<script>alert("s")' not in html
    assert "<img src=x" not in html
    assert 'href="javascript:' not in html
    if path.startswith("/search") or path.startswith("/map"):
        assert "&lt;script&gt;" in html or "%3Cscript%3E" in html


def test_hostile_site_and_tracker_pages_render(signed_in):
    from urllib.parse import quote

    site = signed_in.get("/site/" + quote(HOSTILE_SITE, safe="") + "?p=today")
    assert site.status_code == 200
    html = site.get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt;.example" in html
    assert "<img src=x" not in html
    tracker = signed_in.get("/tracker/" + quote(HOSTILE_DOMAIN, safe="") + "?p=today")
    assert tracker.status_code == 200
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.evil.test" in tracker.get_data(as_text=True)
    assert signed_in.get("/site/" + quote(UNICODE_SITE) + "?p=today").status_code == 200
    assert signed_in.get("/site/" + LONG_SITE + "?p=today").status_code == 200


# -- controls and CSRF --------------------------------------------------------------------


def test_choice_needs_csrf_and_same_origin(csrf_of, signed_in, companion):
    form = {"kind": "everywhere", "tracker": "doubleclick.net", "action": "block"}
    assert signed_in.post("/choice", data=form).status_code == 403
    assert signed_in.post("/choice", data={**form, "csrf": "wrong"}).status_code == 403
    token = csrf_of(signed_in)
    assert signed_in.post("/choice", data={**form, "csrf": token},
                          headers={"Origin": "https://evil.example"}).status_code == 403
    assert signed_in.post("/choice", data={**form, "csrf": token},
                          headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert companion.store.list_choices()["everywhere"] == []
    response = signed_in.post("/choice", data={**form, "csrf": token, "next": "/tracker/doubleclick.net"},
                              headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/tracker/doubleclick.net")
    assert companion.store.list_choices()["everywhere"][0]["action"] == "block"
    assert companion.choices().everywhere["doubleclick.net"] == "block"


def test_controls_set_and_undo_every_kind_of_choice(csrf_of, signed_in, companion):
    token = csrf_of(signed_in)
    post = lambda **f: signed_in.post("/choice", data={"csrf": token, **f})
    post(kind="site_tracker", site="news.example", tracker="doubleclick.net", action="allow")
    post(kind="trust", site="shop.example", action="day")
    listed = companion.store.list_choices()
    assert listed["site_tracker"][0]["action"] == "allow" and listed["trusted"][0]["until"] is not None
    html = signed_in.get("/choices").get_data(as_text=True)
    assert "news.example" in html and "shop.example" in html and html.count(">Undo<") == 2
    post(kind="site_tracker", site="news.example", tracker="doubleclick.net", action="reset")
    post(kind="trust", site="shop.example", action="revoke")
    assert not any(companion.store.list_choices().values())
    assert post(kind="everywhere", tracker="javascript:alert(1)", action="block").status_code == 400
    assert post(kind="nonsense", action="block").status_code == 400


def test_controls_refuse_a_public_suffix(csrf_of, signed_in, companion):
    token = csrf_of(signed_in)
    post = lambda **f: signed_in.post("/choice", data={"csrf": token, **f})
    for form in ({"kind": "everywhere", "tracker": "com", "action": "block"},
                 {"kind": "trust", "site": "co.uk", "action": "always"},
                 {"kind": "site_tracker", "site": "news.example", "tracker": "github.io", "action": "block"}):
        refused = post(**form)
        assert refused.status_code == 400, form
        assert "is a public suffix (a top-level domain), not a site or a tracker" in refused.get_data(as_text=True)
    assert not any(companion.store.list_choices().values())


def test_next_cannot_redirect_elsewhere(csrf_of, signed_in):
    token = csrf_of(signed_in)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = signed_in.post("/choice", data={"csrf": token, "kind": "everywhere", "tracker": "x.com",
                                                   "action": "reset", "next": target})
        assert response.headers["Location"] == "/choices"


def test_choices_export_and_import(csrf_of, signed_in, companion):
    companion.store.set_tracker("facebook.net", "block")
    companion.store.set_trust("news.example", "always")
    exported = signed_in.get("/choices/export.json")
    assert "attachment" in exported.headers["Content-Disposition"]
    data = exported.get_json()
    companion.store.set_tracker("facebook.net", None)
    companion.store.set_trust("news.example", None)
    token = csrf_of(signed_in)
    response = signed_in.post("/choices/import", data={"csrf": token, "json": json.dumps(data)})
    assert response.status_code == 303
    assert "2 choices imported" in signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert companion.store.choices().everywhere == {"facebook.net": "block"}
    upload = {"csrf": token, "file": (io.BytesIO(b'{"everywhere": [{"tracker": "x.com", "action": "nope"}]}'), "c.json")}
    refused = signed_in.post("/choices/import", data=upload, content_type="multipart/form-data")
    assert refused.status_code == 400 and "Nothing was imported" in refused.get_data(as_text=True)
    suffix = signed_in.post("/choices/import", data={"csrf": token, "json": json.dumps(
        {"everywhere": [{"tracker": "doubleclick.net", "action": "block"}, {"tracker": "com", "action": "block"}]})})
    text = suffix.get_data(as_text=True)
    assert suffix.status_code == 400 and "Nothing was imported" in text and "public suffix" in text
    assert companion.store.choices().everywhere == {"facebook.net": "block"}


# -- your data ----------------------------------------------------------------------------


def test_export_json_matches_the_database(signed_in, companion):
    response = signed_in.get("/data/export.json")
    assert "attachment" in response.headers["Content-Disposition"]
    doc = json.loads(response.get_data(as_text=True))
    stored = companion.store.conn.execute("SELECT id, time, kind & 255 FROM requests ORDER BY id").fetchall()
    assert sorted((r["id"], r["time"], r["flags"]) for r in doc["requests"]) == stored
    assert {r["site"] for r in doc["requests"]} >= {HOSTILE_SITE, UNICODE_SITE, "news.example"}
    assert sum(d["requests"] for d in doc["daily"]) == len(stored)


def test_export_csv_neutralises_formulas(signed_in, companion):
    rows = list(csv.DictReader(io.StringIO(signed_in.get("/data/export.csv").get_data(as_text=True))))
    assert len(rows) == companion.store.count_requests()
    formula = [r for r in rows if "cmd" in r["host"]]
    assert formula and all(r["host"].startswith("'=") and r["domain"].startswith("'=") for r in formula)
    daily = list(csv.DictReader(io.StringIO(signed_in.get("/data/export.csv?table=daily").get_data(as_text=True))))
    assert sum(int(r["requests"]) for r in daily) == len(rows)


def test_forget_site_asks_then_deletes_everywhere(daily_disagreements, csrf_of, signed_in, companion):
    token = csrf_of(signed_in)
    before = companion.store.count_requests()
    ask = signed_in.post("/data/forget", data={"csrf": token, "what": "site", "site": "https://www.news.example/x"})
    assert ask.status_code == 200 and "Yes, forget it" in ask.get_data(as_text=True)
    assert companion.store.count_requests() == before  # nothing yet
    done = signed_in.post("/data/forget", data={"csrf": token, "what": "site", "site": "news.example", "confirm": "yes"})
    text = done.get_data(as_text=True)
    assert "Deleted from the database" in text and "8 requests" in text
    names = {n for (n,) in companion.store.conn.execute("SELECT name FROM domains UNION SELECT name FROM hosts")}
    assert "news.example" not in names and "cdn.static.example" not in names and "static.example" not in names
    assert companion.store.count_requests() == before - 8
    assert daily_disagreements(companion.store) == []
    assert signed_in.get("/site/news.example").status_code == 404
    assert "news.example" not in signed_in.get("/?p=today").get_data(as_text=True)


def test_forget_tracker_period_and_everything(csrf_of, make_verdict, signed_in, companion):
    token = csrf_of(signed_in)
    forget = lambda **f: signed_in.post("/data/forget", data={"csrf": token, "confirm": "yes", **f})
    assert "Deleted from the database" in forget(what="tracker", tracker="facebook.net").get_data(as_text=True)
    assert "facebook.net" not in signed_in.get("/search?p=all").get_data(as_text=True)
    today = core.day_to_iso(now_ms() // DAY_MS)
    assert forget(what="period", **{"from": "2026-13-01", "to": today}).status_code == 400
    forget(what="period", **{"from": today, "to": today})
    assert companion.store.count_requests() == 0
    companion.store.record([RecordedEvent(make_verdict("a.example", "t.b.example", "b.example", True, True, "||x^"), now_ms(), True)])
    forget(what="everything")
    for table in ("requests", "daily", "hosts", "domains", "filters"):
        assert companion.store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    html = signed_in.get("/?p=all").get_data(as_text=True)
    assert 'id="sites-visited">0<' in html


def test_retention_setting(csrf_of, make_verdict, signed_in, companion):
    old = now_ms() - 40 * DAY_MS
    companion.store.record([RecordedEvent(make_verdict("old.example", "t.b.example", "b.example", True, True, "||x^"), old, True)])
    token = csrf_of(signed_in)
    assert 'value="90" selected' in signed_in.get("/data").get_data(as_text=True)
    response = signed_in.post("/data/retention", data={"csrf": token, "days": "30"})
    assert response.status_code == 200 and "1 request" in response.get_data(as_text=True)
    assert companion.store.conn.execute("SELECT count(*) FROM requests WHERE time = ?", (old,)).fetchone()[0] == 0
    # the totals are kept: old.example still counts over all time
    assert "old.example" in signed_in.get("/search?p=all&q=old").get_data(as_text=True)
    assert signed_in.post("/data/retention", data={"csrf": token, "days": "3"}).status_code == 400


@pytest.mark.parametrize("days", ["abc", "", "30.0", "-7", "1e3", "3"])
def test_a_bad_retention_gets_a_plain_reason(csrf_of, signed_in, companion, days):
    # "abc" answered Python's "invalid literal for int() with base 10: 'abc'".
    refused = signed_in.post("/data/retention", data={"csrf": csrf_of(signed_in), "days": days})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "invalid literal" not in text and "int()" not in text
    assert "days must be a whole number, one of 7, 30, 90 or 365 (0: keep the detail for ever)" in text
    assert 'value="90" selected' in signed_in.get("/data").get_data(as_text=True)


def test_retention_is_applied_automatically(make_verdict, web, companion):
    companion.store.record([RecordedEvent(make_verdict("old.example", "t.b.example", "b.example", True, True, "||x^"),
                                          now_ms() - 100 * DAY_MS, True)])
    client = web.test_client()
    client.get(f"/signin/{auth.new_signin_code(companion.store)}")
    client.get("/")
    assert companion.store.conn.execute("SELECT count(*) FROM requests WHERE time < ?",
                                        (now_ms() - 95 * DAY_MS,)).fetchone()[0] == 0


def _old_detail(companion) -> int:
    return companion.store.conn.execute("SELECT count(*) FROM requests WHERE time < ?",
                                        (now_ms() - 95 * DAY_MS,)).fetchone()[0]


def test_the_server_applies_retention_on_its_own_without_a_page_opened(make_verdict, companion):
    """`crumbs serve`'s app (UPDATER) runs retention hourly by itself: a person who never opens the history
    pages still has the detail older than their retention dropped."""
    from companion.web import create_app

    companion.store.record([RecordedEvent(make_verdict("old.example", "t.b.example", "b.example", True, True, "||x^"),
                                          now_ms() - 100 * DAY_MS, True)])
    companion.store.record([RecordedEvent(make_verdict("new.example", "t.b.example", "b.example", True, True, "||x^"),
                                          now_ms(), True)])
    assert _old_detail(companion) == 1
    app = create_app({"COMPANION": companion, "PORT": PORT, "UPDATER": True, "UPDATER_INTERVAL_S": 60,
                      "RETENTION_KEEPER_TIMES": {"first_s": 0.05, "check_s": 0.05}})
    keeper = app.extensions["crumbs_retention"]
    try:
        deadline = time.monotonic() + 15
        while _old_detail(companion) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _old_detail(companion) == 0
        assert companion.store.conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 1  # today's stays
        # Ran once: the next look finds it not due for an hour.
        assert keeper.tick() is None
    finally:
        for worker in ("crumbs_retention", "crumbs_updater", "crumbs_snapshots"):
            if worker in app.extensions:
                app.extensions[worker].stop()


def test_a_retention_run_under_way_is_not_run_again_alongside(companion, make_verdict):
    """The page and the server's thread both look hourly: the second never walks the sites beside the first."""
    from companion.history import data as data_mod

    h = History(companion.store, None)
    assert h.retention_due()
    with data_mod._RETENTION_RUN:  # a run under way
        assert h.apply_retention_if_due() is None
    # Cut short by the server stopping: not counted as run, so the next start goes on with it.
    assert h.apply_retention_if_due(stop=lambda: True) is not None and h.retention_due()
    assert h.apply_retention_if_due() is not None  # then it runs
    assert h.apply_retention_if_due() is None  # and is not due for an hour


def test_crumbs_open_prints_a_working_link(web, companion):
    from companion.cli import main

    result = CliRunner().invoke(main, ["open", "--print", "--port", str(PORT), "--data-dir", str(companion.paths.root)])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[0]
    assert link.startswith(f"{ORIGIN}/signin/")
    client = web.test_client()
    assert client.get(link[len(ORIGIN):]).status_code == 200
    assert client.get("/").status_code == 200


def test_the_first_overview_is_answered_from_sql_then_the_period_is_summed_in_the_background(
        web, signed_in, companion, make_verdict):
    # Issue 14: the first overview after start groups in SQLite (no pairs made); once it is sent, the
    # period's sums are made in a background thread, so the next pages (and the next overview) find them.
    import time

    companion.store.record([RecordedEvent(make_verdict("old.example", "px.ads.example", "ads.example", True, False,
                                                       "||ads.example^"), now_ms() - 3 * DAY_MS)])
    h = web.extensions["crumbs_history"]
    p = core.period("7d")
    assert not h._past_kept(p) and not h._part_cache
    first = signed_in.get("/?p=7d")
    assert first.status_code == 200 and "Google" in first.get_data(as_text=True)
    first.close()  # what the server does once the page is sent (WSGI close)
    deadline = time.monotonic() + 10
    while not h._past_kept(p) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert h._past_kept(p), "the period was summed after the page was sent"
    again = signed_in.get("/?p=7d")
    strip = lambda r: re.sub(r'name="csrf" value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(again) == strip(first)  # the kept sums say the same as SQL did


def test_after_the_first_overview_the_other_periods_are_summed_in_the_background_too(
        web, signed_in, companion, make_verdict):
    # Issue 14: at ten million requests "30 days" and "all" took 2.7 and 7 s to sum the first time after a
    # start; once the first overview is sent, they are summed in the background, ready when clicked.
    import time

    from companion.history.periods import PERIODS

    now = now_ms()
    companion.store.record([
        RecordedEvent(make_verdict("old.example", "px.ads.example", "ads.example", True, False, "||ads.example^"),
                      now - days * DAY_MS) for days in (3, 20, 45)])
    h = web.extensions["crumbs_history"]
    periods = [core.period(key) for key in PERIODS]
    assert len({tuple(h._spans(p)) for p in periods}) == 4  # four different sets of days to sum
    first = signed_in.get("/?p=7d")
    assert first.status_code == 200
    first.close()
    deadline = time.monotonic() + 10
    while not all(h._past_kept(p) for p in periods) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [p.key for p in periods if not h._past_kept(p)] == []
    page = signed_in.get("/?p=all").get_data(as_text=True)
    assert "ads.example" in page


def test_a_tracker_met_on_many_sites_lists_the_busiest_first_and_all_on_request(web, signed_in, companion,
                                                                                make_verdict):
    # Issue 14: over a year Google's page had 4,399 rows; the busiest SITES_SHOWN come first, none silently cut.
    from companion.web.pages import SITES_SHOWN

    now = now_ms()
    companion.store.record([
        RecordedEvent(make_verdict(f"many{i:03d}.example", "www.google-analytics.com", "google-analytics.com", True,
                                   False, "||google-analytics.com^"), now - 1000 * (i + 1))
        for i in range(SITES_SHOWN + 20) for _ in range(1 + (i == 7) * 5)  # many007 is the busiest of them
    ])
    web.extensions["crumbs_history"].invalidate()
    for path in ("/tracker/google-analytics.com", "/company/Google"):
        page = signed_in.get(path + "?p=7d").get_data(as_text=True)
        rows = re.findall(r'<tr data-site="([^"]+)"', page)
        assert len(rows) == SITES_SHOWN and rows[0] == "many007.example", path
        total = len(re.findall(r'<tr data-site="', signed_in.get(path + "?p=7d&all=1").get_data(as_text=True)))
        assert total > SITES_SHOWN
        assert f"The busiest {SITES_SHOWN} shown, {total - SITES_SHOWN} more" in page and "all=1" in page, path
        assert "sites-count" not in signed_in.get(path + "?p=7d&all=1").get_data(as_text=True)


def test_a_tracker_blocked_everywhere_is_said_not_to_be_blocked_where_a_choice_here_or_trust_comes_first(signed_in, companion):
    # policy.py: the choice for this site first, then trust, then the choice everywhere. "blocked everywhere"
    # alone on a trusted site's page said it was blocked there, where nothing of it is.
    def control(site, domain):
        html = signed_in.get(f"/site/{site}?p=today").get_data(as_text=True)
        row = re.search(rf'data-domain="{re.escape(domain)}"[^>]*>(.*?)</tr>', html, re.S).group(1)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.split('class="controls"', 1)[1])).strip()

    companion.store.set_tracker("doubleclick.net", "block")
    assert "blocked everywhere" in control("news.example", "doubleclick.net")
    assert "not on this site" not in control("news.example", "doubleclick.net")
    companion.store.set_trust("news.example", "always")
    assert "blocked everywhere (not on this site: you trust it)" in control("news.example", "doubleclick.net")
    companion.store.set_site_tracker("news.example", "doubleclick.net", "block")  # this one does come first
    assert "not on this site" not in control("news.example", "doubleclick.net")
    companion.store.set_site_tracker("news.example", "doubleclick.net", "allow")
    assert "blocked everywhere (not on this site: your choice here comes first)" in control("news.example", "doubleclick.net")
