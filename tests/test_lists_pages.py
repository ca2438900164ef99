"""The filter lists on the history pages (/settings/lists) through Flask's test client: the listing,
each control, the refusals (no session, no CSRF token, another origin, local paths), escaping of what
servers and forms send, and the tracker and site pages naming the lists that name a tracker.

Known list names point at a local server on 127.0.0.1:0 (CRUMBS_LIST_URL_<NAME>): never the internet.
"""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler

import pytest

from companion.config import RULES_DIR
from companion.service import Companion
from companion.storage import RecordedEvent, now_ms

HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@pytest.fixture
def server(small_list_server):
    """The same small list the lists API tests use, served locally."""
    return small_list_server


@pytest.fixture
def bigger(small_list) -> str:
    return small_list + "||third-tracker.example^\n"


@pytest.fixture
def web(sign_in, client, companion, server):
    return sign_in(client, companion)


@pytest.fixture
def post(csrf_of):
    """``post(client, path, **form)``: a form post from the lists page, with its CSRF token."""
    def send(client, path: str, **form):
        return client.post(path, data={"csrf": csrf_of(client, "/settings/lists"), **form})
    return send


def page(client) -> str:
    response = client.get("/settings/lists")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def row(html: str, name: str) -> str:
    """The table row of one list."""
    match = re.search(rf'<tr id="list-{re.escape(name)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {name}"
    return match.group(1)


# -- the listing ---------------------------------------------------------------------------------


def test_the_page_lists_every_list_with_its_figures_and_is_in_the_navigation(web, companion):
    assert 'href="/settings/lists"' in web.get("/").get_data(as_text=True)
    response = web.get("/settings/lists")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None and " style=" not in html
    shipped = companion.lists.get("crumbs-trackers")
    cells = row(html, "crumbs-trackers")
    assert "Crumbs trackers" in cells and "Ships with Crumbs" in cells and ">enabled<" in cells
    assert f"{shipped.used:,}" in cells and "Disable" in cells
    assert "Remove" not in cells and "Update now" not in cells  # shipped: neither removed nor downloaded
    assert "Add EasyPrivacy" in html and "Add EasyList" in html  # the known names, one click each


def test_fixed_lists_are_shown_and_cannot_be_changed(make_app, sign_in, post, tmp_path):
    fixed = Companion(tmp_path / "data", [RULES_DIR / "crumbs-trackers.txt"])
    try:
        client = sign_in(make_app(fixed).test_client(), fixed)
        html = page(client)
        assert "started with fixed lists" in html and "Crumbs trackers" in html
        assert "Add and download" not in html
        assert post(client, "/settings/lists/add", source="easyprivacy").status_code == 409
    finally:
        fixed.close()


# -- the controls ------------------------------------------------------------------------------


def test_add_a_known_name_downloads_it_and_puts_it_in_force(post, web, companion, server):
    response = post(web, "/settings/lists/add", source="easyprivacy")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/settings/lists?done=added&list=easyprivacy")
    assert server.hits == {"/easyprivacy.txt": 1}
    info = companion.lists.get("easyprivacy")
    assert info.enabled and info.in_force and info.used == 2
    html = page(web) + web.get(response.headers["Location"]).get_data(as_text=True)
    assert "EasyPrivacy was added and is in force." in html
    cells = row(html, "easyprivacy")
    assert server.url("/easyprivacy.txt") in cells and "every 1 day" in cells and "Update now" in cells
    assert "Add EasyPrivacy" not in html  # already subscribed


def test_add_a_url_under_a_chosen_name(bigger, post, web, companion, server):
    server.serve_list("/mine.txt", bigger.encode())
    assert post(web, "/settings/lists/add", source=server.url("/mine.txt"), name="my-list").status_code == 303
    assert companion.lists.get("my-list").used == 3
    assert server.url("/mine.txt") in row(page(web), "my-list")


@pytest.mark.parametrize("source", ["{path}", "file:///etc/passwd", "ftp://127.0.0.1/x.txt", "not a list"])
def test_local_paths_and_other_schemes_cannot_be_added_here(post, small_list, web, companion, server, tmp_path, source):
    local = tmp_path / "local.txt"
    local.write_text(small_list)
    response = post(web, "/settings/lists/add", source=source.format(path=local))
    assert response.status_code == 400
    assert {i.name for i in companion.lists.all()} == {"crumbs-trackers"}
    assert server.hits == {}


def test_a_failed_first_download_is_reported_in_the_row(post, web, companion, server):
    response = post(web, "/settings/lists/add", source="easylist")  # the server has no /easylist.txt: 404
    assert "done=add-failed&list=easylist" in response.headers["Location"]
    html = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "its first download failed" in html
    cells = row(html, "easylist")
    assert "not downloaded yet" in cells and "the server answered 404" in cells


def test_disable_and_enable_follow_at_once(post, web, companion):
    assert companion.lists.get("crumbs-trackers").enabled
    response = post(web, "/settings/lists/crumbs-trackers/enabled", enabled="no")
    assert response.status_code == 303 and "done=disabled" in response.headers["Location"]
    assert not companion.lists.get("crumbs-trackers").enabled
    assert companion.engine.stats.get("crumbs-trackers") is None  # the engine followed
    cells = row(page(web), "crumbs-trackers")
    assert ">disabled<" in cells and "Enable" in cells
    assert post(web, "/settings/lists/crumbs-trackers/enabled", enabled="yes").status_code == 303
    assert companion.lists.get("crumbs-trackers").enabled
    assert companion.engine.stats.get("crumbs-trackers") is not None
    assert post(web, "/settings/lists/crumbs-trackers/enabled", enabled="maybe").status_code == 400


def test_update_now_fetches_the_new_version(bigger, post, web, companion, server):
    post(web, "/settings/lists/add", source="easyprivacy")
    response = post(web, "/settings/lists/easyprivacy/update")
    assert "done=not-modified" in response.headers["Location"]  # the server answered 304 to our ETag
    server.serve_list("/easyprivacy.txt", bigger.encode())
    response = post(web, "/settings/lists/easyprivacy/update")
    assert "done=updated&list=easyprivacy" in response.headers["Location"]
    assert companion.lists.get("easyprivacy").used == 3
    assert "EasyPrivacy was updated." in web.get(response.headers["Location"]).get_data(as_text=True)
    assert server.hits["/easyprivacy.txt"] == 3


def test_update_every_list(bigger, post, web, companion, server):
    post(web, "/settings/lists/add", source="easyprivacy")
    server.serve_list("/easyprivacy.txt", bigger.encode())
    response = post(web, "/settings/lists/update")
    assert response.status_code == 303 and "done=updated-all" in response.headers["Location"]
    assert companion.lists.get("easyprivacy").used == 3


def test_remove_asks_first_then_removes(post, web, companion, server):
    post(web, "/settings/lists/add", source="easyprivacy")
    copy = companion.lists.dir / "easyprivacy.txt"
    assert copy.exists()
    ask = post(web, "/settings/lists/easyprivacy/remove")
    assert ask.status_code == 200
    html = ask.get_data(as_text=True)
    assert "Remove EasyPrivacy?" in html and 'name="confirm" value="yes"' in html
    assert companion.lists.get("easyprivacy")  # nothing removed yet
    response = post(web, "/settings/lists/easyprivacy/remove", confirm="yes")
    assert response.status_code == 303 and "done=removed" in response.headers["Location"]
    assert "easyprivacy" not in {i.name for i in companion.lists.all()} and not copy.exists()
    assert 'id="list-easyprivacy"' not in page(web)


def test_shipped_and_unknown_lists_cannot_be_removed(post, web, companion):
    assert post(web, "/settings/lists/crumbs-trackers/remove", confirm="yes").status_code == 409
    assert companion.lists.get("crumbs-trackers")
    assert post(web, "/settings/lists/nope/remove", confirm="yes").status_code == 404
    assert post(web, "/settings/lists/nope/update").status_code == 404


# -- refusals ----------------------------------------------------------------------------------


def test_no_session_no_page_and_no_change(post, client, companion, server):
    assert client.get("/settings/lists").status_code == 401
    assert client.post("/settings/lists/add", data={"source": "easyprivacy"}).status_code == 401
    assert client.post("/settings/lists/crumbs-trackers/enabled", data={"enabled": "no"}).status_code == 401
    assert client.post("/settings/lists/update").status_code == 401
    assert server.hits == {} and companion.lists.get("crumbs-trackers").enabled


def test_posts_without_the_csrf_token_or_from_another_site_are_refused(post, csrf_of, web, companion, server):
    response = web.post("/settings/lists/add", data={"source": "easyprivacy"})
    assert response.status_code == 403 and "security token" in response.get_data(as_text=True)
    assert web.post("/settings/lists/add", data={"source": "easyprivacy", "csrf": "forged"}).status_code == 403
    assert web.post("/settings/lists/crumbs-trackers/enabled", data={"enabled": "no"}).status_code == 403
    assert web.post("/settings/lists/crumbs-trackers/remove", data={"confirm": "yes"}).status_code == 403
    token = csrf_of(web, "/settings/lists")
    foreign = web.post("/settings/lists/crumbs-trackers/enabled", data={"enabled": "no", "csrf": token},
                       headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    cross = web.post("/settings/lists/crumbs-trackers/enabled", data={"enabled": "no", "csrf": token},
                     headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert server.hits == {} and companion.lists.get("crumbs-trackers").enabled
    assert {i.name for i in companion.lists.all()} == {"crumbs-trackers"}


def test_every_form_on_the_page_carries_the_token(post, csrf_of, web, companion, server):
    post(web, "/settings/lists/add", source="easyprivacy")
    html = page(web)
    forms = re.findall(r'<form[^>]*method="post".*?</form>', html, re.S)
    assert len(forms) >= 6
    token = csrf_of(web, "/settings/lists")
    assert all(f'name="csrf" value="{token}"' in f for f in forms)


# -- escaping ----------------------------------------------------------------------------------


def test_hostile_errors_sources_and_names_are_escaped(post, web, companion, server):
    def hostile_reason(h: BaseHTTPRequestHandler) -> None:
        h.send_response(500, HOSTILE)  # the server's words: never repeated in last_error
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/bad.txt"] = hostile_reason
    response = post(web, "/settings/lists/add", source=server.url("/bad.txt"), name="bad")
    assert "done=add-failed" in response.headers["Location"]
    assert companion.lists.get("bad").last_error == "the server answered 500"
    with companion.store.transaction():
        companion.store.conn.execute("UPDATE lists SET last_error = ? WHERE name = 'bad'", (HOSTILE,))
    # A source address with markup in it (a 404 on our server) and an error written straight into the registry.
    post(web, "/settings/lists/add", source=server.url("/" + HOSTILE.replace(" ", "%20") + ".txt"), name="odd")
    with companion.store.transaction():
        companion.store.conn.execute("UPDATE lists SET last_error = ? WHERE name = 'crumbs-trackers'", (HOSTILE,))
    html = page(web)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row(html, "bad")
    assert "&lt;script&gt;" in row(html, "odd") and "&lt;script&gt;" in row(html, "crumbs-trackers")
    # A hostile name is refused, and the refusal quotes it escaped.
    refused = post(web, "/settings/lists/add", source="easyprivacy", name=HOSTILE)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "not a valid list name" in text and "<script>alert(1)" not in text and "&lt;script&gt;" in text
    # The notice takes a list name from the query only if it is a valid name.
    crafted = web.get("/settings/lists", query_string={"done": "removed", "list": HOSTILE}).get_data(as_text=True)
    assert "was removed" not in crafted and "<script>alert(1)" not in crafted


# -- the tracker and site pages name the lists ---------------------------------------------------


def record(make_verdict, companion, site, host, domain):
    companion.store.record([RecordedEvent(make_verdict(site, host, domain, True, True, "||x^"), now_ms(), True)])


def test_the_tracker_page_names_the_lists_that_name_it(post, web, companion, server, make_verdict):
    record(make_verdict, companion, "news.example", "stats.g.doubleclick.net", "doubleclick.net")
    record(make_verdict, companion, "news.example", "api-tracker.example", "api-tracker.example")
    record(make_verdict, companion, "news.example", "pixel.api-tracker-two.example", "api-tracker-two.example")

    html = web.get("/tracker/doubleclick.net?p=all").get_data(as_text=True)
    assert re.search(r'Named by: <a href="/settings/lists#list-crumbs-trackers">Crumbs trackers</a>', html)
    assert "No filter list in force names it" in web.get("/tracker/api-tracker.example?p=all").get_data(as_text=True)

    post(web, "/settings/lists/add", source="easyprivacy")
    html = web.get("/tracker/api-tracker.example?p=all").get_data(as_text=True)
    assert 'Named by: <a href="/settings/lists#list-easyprivacy">EasyPrivacy</a>' in html
    # Named through one of its hosts only (the list anchors pixel.api-tracker-two.example).
    assert "EasyPrivacy" in web.get("/tracker/api-tracker-two.example?p=all").get_data(as_text=True)
    # The site page's rows too; a row is named through its hosts only where the page shows them (short periods).
    site = web.get("/site/news.example?p=today").get_data(as_text=True)
    assert site.count('href="/settings/lists#list-easyprivacy"') == 2
    assert 'href="/settings/lists#list-crumbs-trackers"' in site

    post(web, "/settings/lists/easyprivacy/enabled", enabled="no")  # only the lists in force count
    assert "EasyPrivacy" not in web.get("/tracker/api-tracker.example?p=all").get_data(as_text=True)


def test_a_site_row_that_matched_no_filter_says_so_beside_the_lists_naming_its_domain(web, companion, make_verdict):
    # doubleclick.net's requests on this site matched no filter (a list names other addresses of it): its row
    # says "not a tracker", and so must not say a bare "Named by" the person reads as "a list calls it one".
    companion.store.record([RecordedEvent(make_verdict("blog.example", "static.doubleclick.net", "doubleclick.net",
                                                       False, False, None), now_ms(), False)])
    record(make_verdict, companion, "news.example", "stats.g.doubleclick.net", "doubleclick.net")
    blog = web.get("/site/blog.example?p=today").get_data(as_text=True)
    assert "not a tracker" in blog and "Named by" not in blog
    assert re.search(r'Filters for some of its addresses in: <a href="/settings/lists#list-crumbs-trackers">Crumbs '
                     r'trackers</a>; none matched its requests here', blog)
    news = web.get("/site/news.example?p=today").get_data(as_text=True)
    assert "Named by: " in news and "none matched" not in news
