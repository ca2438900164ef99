"""Shared fixtures, the way Flask's tutorial has them: a companion on a temporary data folder,
the app around it, a test client that speaks to it as the extension would, a signed-in client
for the history pages, a verdict factory, a small tracker knowledge base and a local list server.

Helpers are offered as fixtures (never imported from here or from other test modules). Where the
shared data folder is, and what happens when it is missing, is tests/shared_data.py's job."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask.testing import FlaskClient

import shared_data
from companion.classify import Verdict
from companion.service import Companion
from companion.storage import BLOCKED, TRACKER, Store, day_of, day_start
from companion.trackerdb import TrackerDB
from companion.web import create_app

PORT = 8737
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture(autouse=True)
def _loopback_list_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' list servers run on 127.0.0.1, which the companion refuses by default (SSRF): the
    tests-only switch lets loopback through. Tests of that refusal delete it (monkeypatch.delenv)."""
    from companion.lists.addresses import ALLOW_LOOPBACK_ENV

    monkeypatch.setenv(ALLOW_LOOPBACK_ENV, "1")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def companion(data_dir: Path) -> Companion:
    """A companion with the shipped rules only, on a fresh data folder."""
    c = Companion(data_dir)
    yield c
    c.close()


class LoopbackClient(FlaskClient):
    """Speaks to the app as the extension does: Host is the companion's own loopback address and port."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", BASE)
        return super().open(*args, **kwargs)


@pytest.fixture
def make_app():
    """``make_app(companion, **config)``: the web app around a companion, its test clients on the loopback origin."""

    def make(companion: Companion, **config):
        app = create_app({"COMPANION": companion, "PORT": PORT, **config})
        app.test_client_class = LoopbackClient
        return app

    return make


@pytest.fixture
def app(make_app, companion: Companion):
    return make_app(companion, DNR_MIN_INTERVAL_S=0.0)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(companion: Companion) -> dict[str, str]:
    return {"Authorization": f"Bearer {companion.token}"}


@pytest.fixture
def sign_in():
    """``sign_in(client, companion)``: sign a test client in to the history pages the way ``crumbs open``
    does (a one-time link); returns the client."""

    def sign(client, companion: Companion):
        code = companion.new_signin_code()
        assert client.get(f"/signin/{code}").status_code == 200
        return client

    return sign


@pytest.fixture
def signed_in(sign_in, client, companion):
    """A test client signed in to the history pages."""
    return sign_in(client, companion)


@pytest.fixture
def csrf_of():
    """``csrf_of(client, page="/choices")``: the CSRF token the signed-in pages put in their forms."""

    def csrf(client, page: str = "/choices") -> str:
        html = client.get(page).get_data(as_text=True)
        return re.search(r'name="csrf" value="([^"]+)"', html).group(1)

    return csrf


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty database of its own (test files that need one filled define their own ``store``)."""
    s = Store(tmp_path / "crumbs.sqlite3")
    yield s
    s.close()


@pytest.fixture(scope="session")
def make_verdict():
    """Verdict factory: ``make_verdict(site, host, domain, tracker, blocked, filter, **more)`` with defaults for
    everything else, so tests name only what they are about. ``domain`` defaults to the host, ``third_party``
    to site != domain, ``blocked`` to ``tracker``, ``list`` to "test" when there is a filter, ``decided_by``
    to what the list default would say."""

    def make(site: str | None = "news.example", host: str = "www.google-analytics.com", domain: str | None = None,
             tracker: bool = True, blocked: bool | None = None, filter: str | None = None, *, list: str | None = None,
             third_party: bool | None = None, type: str = "script", decided_by: str | None = None) -> Verdict:
        domain = host if domain is None else domain
        blocked = tracker if blocked is None else blocked
        return Verdict(
            url=f"https://{host}/x", type=type, host=host, domain=domain, page_domain=site,
            third_party=(site != domain) if third_party is None else third_party, same_owner=False, tracker=tracker,
            owner=None, category=None, category_label=None, description=None, learns=None, filter=filter,
            list=list or ("test" if filter else None), exception=False, overridden_filter=None, blocked=blocked,
            decided_by=decided_by or ("list-default" if blocked else "not-a-tracker"),
        )

    return make


@pytest.fixture(scope="session")
def small_trackers(tmp_path_factory) -> TrackerDB:
    """A real TrackerDB over a handful of known trackers (a knowledge-base file of its own, so the
    figures tests check do not move when the shipped rules/trackers.json grows)."""
    categories = {
        "advertising": {"label": "Advertising", "learns": "What you read and buy, to target ads."},
        "analytics": {"label": "Analytics", "learns": "How you use sites."},
    }
    known = {
        "doubleclick.net": ("Google", "advertising"),
        "google-analytics.com": ("Google", "analytics"),
        "facebook.net": ("Meta", "advertising"),
    }
    data = {
        "categories": categories,
        "companies": {
            "Google": {"url": "https://about.google", "domains": ["doubleclick.net", "google-analytics.com"]},
            "Meta": {"url": "https://about.meta.com", "domains": ["facebook.net"]},
        },
        "trackers": {d: {"owner": o, "category": c, "description": f"{o} {c}"} for d, (o, c) in known.items()},
    }
    path = tmp_path_factory.mktemp("trackers") / "trackers.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return TrackerDB.from_file(path)


# -- a local list server ----------------------------------------------------------------------


class ListServer:
    """An in-process HTTP server on 127.0.0.1:0 whose answers each test sets per path.

    A route is a function taking the request handler; ``serve_list`` answers with a body, an ETag and a
    Last-Modified, and honours ``If-None-Match`` with 304 like a real list server.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.hits: dict[str, int] = {}
        self.conditional: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                server.conditional.append((path, self.headers.get("If-None-Match")))
                route = server.routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should for oversized or stalled answers

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def serve_list(self, path: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

        def route(h: BaseHTTPRequestHandler) -> None:
            if h.headers.get("If-None-Match") == etag:
                h.send_response(304)
                h.send_header("ETag", etag)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("ETag", etag)
            h.send_header("Last-Modified", "Tue, 14 Jul 2026 09:53:00 GMT")
            h.end_headers()
            h.wfile.write(body)

        self.routes[path] = route

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # Routes a test can set: server.routes[path] = server.route_status(500), ...

    @staticmethod
    def route_status(status: int, body: bytes = b"", content_type: str = "text/plain") -> Callable:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        return route

    @staticmethod
    def route_redirect(location: str) -> Callable:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()

        return route

    @staticmethod
    def route_stall(first: bytes, seconds: float) -> Callable:
        """Headers and a first part, then silence (a server that hangs mid-download)."""

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(first) * 4))
            h.end_headers()
            h.wfile.write(first)
            h.wfile.flush()
            time.sleep(seconds)

        return route

    @staticmethod
    def route_cut(body: bytes, declared: int | None) -> Callable:
        """Send ``body`` then close: with ``declared`` the length promised is larger (a truncated download);
        without, the body is delimited by the connection closing (no way to tell from HTTP alone)."""

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            if declared is not None:
                h.send_header("Content-Length", str(declared))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
            h.close_connection = True

        return route

    @staticmethod
    def route_stream(total: int, declare: bool) -> Callable:
        """A ``total``-byte list-looking stream generated on the fly (the 200 MB case)."""
        line = b"||tracker-in-a-huge-list.example^\n" * 2000

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            if declare:
                h.send_header("Content-Length", str(total))
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            sent = 0
            h.wfile.write(b"[Adblock Plus 2.0]\n")
            while sent < total:
                h.wfile.write(line)
                sent += len(line)

        return route


@pytest.fixture
def make_list_server():
    """``make_list_server()``: a new :class:`ListServer` on 127.0.0.1:0, shut down after the test."""
    made = []

    def make() -> ListServer:
        made.append(ListServer())
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def list_server(make_list_server) -> ListServer:
    """A local list server with no routes yet (tests set them)."""
    return make_list_server()


SMALL_LIST = (
    "[Adblock Plus 2.0]\n! Title: Small privacy list\n! Expires: 1 day\n"
    "||api-tracker.example^\n||pixel.api-tracker-two.example^$image\n"
)


@pytest.fixture(scope="session")
def small_list() -> str:
    """A two-filter list that stands in for EasyPrivacy in the lists API and page tests."""
    return SMALL_LIST


@pytest.fixture
def small_list_server(list_server, small_list, monkeypatch) -> ListServer:
    """The list server with ``small_list`` as /easyprivacy.txt, and the known names easyprivacy and
    easylist pointed at it (easylist is not served: 404)."""
    list_server.serve_list("/easyprivacy.txt", small_list.encode())
    monkeypatch.setenv("CRUMBS_LIST_URL_EASYPRIVACY", list_server.url("/easyprivacy.txt"))
    monkeypatch.setenv("CRUMBS_LIST_URL_EASYLIST", list_server.url("/easylist.txt"))
    return list_server


# -- the shared data folder (../shared: real lists and a request corpus) -------------------------


@pytest.fixture(scope="session")
def shared_file():
    """``shared_file(path)``: a path of :mod:`shared_data`, or the test fails with one line saying the
    shared data folder is missing (not a skip: these tests are part of the suite)."""

    def get(path: Path) -> Path:
        try:
            return shared_data.require(path)
        except shared_data.SharedDataMissing as exc:
            pytest.fail(str(exc), pytrace=False)

    return get


@pytest.fixture(scope="session")
def list_paths(shared_file) -> list[Path]:
    """EasyList and EasyPrivacy, as a person who subscribed to them has them."""
    return [shared_file(shared_data.EASYLIST), shared_file(shared_data.EASYPRIVACY)]


@pytest.fixture(scope="session")
def easyprivacy(shared_file) -> bytes:
    """EasyPrivacy's bytes, as a list server would send them."""
    return shared_file(shared_data.EASYPRIVACY).read_bytes()


@pytest.fixture(scope="session")
def corpus_path(shared_file) -> Path:
    """The corpus of real requests (one JSON object a line)."""
    return shared_file(shared_data.CORPUS)


@pytest.fixture(scope="session")
def daily_disagreements():
    """``daily_disagreements(store, from_day=None)``: days/sites/domains where the daily totals differ from
    the request detail (from ``from_day`` on); empty when they agree, as forgetting and retention promise."""

    def check(store, from_day: int | None = None) -> list[tuple]:
        lo = -(2**62) if from_day is None else from_day
        detail: dict[tuple, tuple] = {}
        # Days are the machine's local days (storage.day_of), so they are counted here in Python.
        for when, s, d, tracker, blocked in store.conn.execute(
            """SELECT r.time, r.site_id, h.domain_id, (r.kind & ?) != 0, (r.kind & ?) != 0
               FROM requests r JOIN hosts h ON h.id = r.host_id WHERE r.time >= ?""",
            (TRACKER, BLOCKED, day_start(from_day) if from_day is not None else lo),
        ):
            key = (day_of(when), s, d)
            n, t, b, _ = detail.get(key, (0, 0, 0, 0))
            detail[key] = (n + 1, t + tracker, b + blocked, n + 1 - b - blocked)
        daily = {
            (day, s, d): (n, t, b, r)
            for day, s, d, n, t, b, r in store.conn.execute(
                "SELECT day, site_id, domain_id, requests, trackers, blocked, reached FROM daily WHERE day >= ?", (lo,)
            )
        }
        return sorted((k, detail.get(k), daily.get(k)) for k in detail.keys() | daily.keys() if detail.get(k) != daily.get(k))

    return check
