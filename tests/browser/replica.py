"""A replica of real pages for the end-to-end truth test, built from the shared request corpus.

For each chosen page of ``corpus.jsonl`` (a crawl of real sites: every request a page made, with its
webRequest type), the replica serves one page on the page's real host that makes the same third-party
requests, to the same hosts and paths, with the same kind of element: ``<script>``, ``<img>``,
``<link rel=stylesheet>``, ``@font-face`` fonts (used, so the browser fetches them), ``<iframe>``,
``fetch()`` for XHR and other, ``sendBeacon`` for pings. :class:`ReplicaWeb` answers every one of
them and logs every request that reaches it: the truth about what left the browser.

Only https requests are replayed (the browser fixture maps every host's port 443 to the fake HTTPS
listener); a URL repeated on a page is replayed once (the browser's memory cache would answer the
repeat without a request); requests to the page's own host are left out (never reported).
The data stays in ../shared: this module reads it at test time (tests/shared_data.py).
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from .fakeweb import GIF, FakeWeb

# Six real pages with many trackers of several companies, fonts on three of them, and third parties
# that are not trackers: chosen once from the corpus (most distinct tracker domains, at most 45
# third-party requests so the test stays quick), named here so the replica does not drift.
PAGES = (
    "https://www.kevingston.com/",
    "https://app.contabilium.com/v3/login",
    "https://urgente24.com/",
    "https://fullh4rd.com.ar/",
    "https://compragamer.com/",
    "https://www.last.fm/",
)

# How each webRequest type is replayed; types not named here (media, csp_report, ...) are left out.
REPLAYED = {"script", "image", "stylesheet", "font", "sub_frame", "xmlhttprequest", "ping", "other"}


@dataclass
class ReplicaPage:
    url: str
    host: str
    requests: list[dict] = field(default_factory=list)  # {"url", "type", "host", "path"}


def load_pages(corpus: Path, pages: tuple[str, ...] = PAGES) -> list[ReplicaPage]:
    """The chosen pages and their replayable requests, in corpus order."""
    wanted = {p: ReplicaPage(p, urlsplit(p).hostname) for p in pages}
    seen: dict[str, set[str]] = {p: set() for p in pages}
    with corpus.open(encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            page = wanted.get(entry.get("source_url"))
            if page is None or entry["type"] not in REPLAYED:
                continue
            url = entry["url"]
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname or parts.hostname == page.host or url in seen[page.url]:
                continue
            if parts.port not in (None, 443):
                continue
            seen[page.url].add(url)
            path = parts.path or "/"
            page.requests.append({"url": url, "type": entry["type"], "host": parts.hostname,
                                  "path": path + (f"?{parts.query}" if parts.query else "")})
    missing = [p for p, page in wanted.items() if not page.requests]
    if missing:
        raise AssertionError(f"the corpus no longer has these pages: {missing}")
    return list(wanted.values())


def page_html(page: ReplicaPage) -> str:
    """The replica page: every request as the element that made it; ``window.done`` once all have settled."""
    parts, fonts, jobs = [], [], []
    for i, r in enumerate(page.requests):
        u = html.escape(r["url"], quote=True)
        kind = r["type"]
        if kind == "script":
            parts.append(f'<script src="{u}" async></script>')
        elif kind == "image":
            parts.append(f'<img src="{u}" alt="">')
        elif kind == "stylesheet":
            parts.append(f'<link rel="stylesheet" href="{u}">')
        elif kind == "sub_frame":
            parts.append(f'<iframe src="{u}" width="10" height="10"></iframe>')
        elif kind == "font":
            fonts.append(f"@font-face{{font-family:Replica{i};src:url({json.dumps(r['url'])})}}")
            jobs.append(f"document.fonts.load('16px Replica{i}')")
            parts.append(f'<p style="font-family:Replica{i}">text {i}</p>')
        elif kind == "ping":
            jobs.append(f"Promise.resolve(navigator.sendBeacon({json.dumps(r['url'])}, 'x'))")
        else:  # xmlhttprequest, other
            jobs.append(f"fetch({json.dumps(r['url'])}, {{mode: 'no-cors'}})")
    script = ("const jobs = [" + ", ".join(jobs) + "];"
              "const loaded = new Promise((ok) => window.addEventListener('load', ok));"
              "Promise.allSettled([...jobs, loaded]).then(() => { window.done = true; });")
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(page.host)}</title><style>{''.join(fonts)}</style></head><body>"
            f"<h1>{html.escape(page.host)}</h1>{''.join(parts)}<script>{script}</script></body></html>")


class ReplicaWeb(FakeWeb):
    """Serves the replica pages on their real hosts and answers every third-party request by its type."""

    def __init__(self, pages: list[ReplicaPage]) -> None:
        super().__init__(log=[], lock=threading.Lock())
        self.pages = {(p.host, urlsplit(p.url).path or "/"): p for p in pages}
        self.types = {(r["host"], r["path"].split("?")[0]): r["type"] for p in pages for r in p.requests}

    def __call__(self, environ, start_response):
        req = Request(environ)
        host = (req.host or "").split(":")[0]
        with self.lock:
            self.log.append({"host": host, "path": req.path, "scheme": req.scheme,
                             "referer": req.headers.get("Referer", "")})
        page = self.pages.get((host, req.path))
        kind = self.types.get((host, req.path))
        if page is not None:
            resp = Response(page_html(page), content_type="text/html")
        elif kind == "script":
            resp = Response("/* replica */", content_type="application/javascript")
        elif kind == "stylesheet":
            resp = Response("/* replica */", content_type="text/css")
        elif kind == "font":
            resp = Response(b"wOF2-replica", content_type="font/woff2")
        elif kind == "sub_frame":
            resp = Response("<!doctype html><title>frame</title>", content_type="text/html")
        elif kind == "image":
            resp = Response(GIF, content_type="image/gif")
        else:
            resp = Response("", status=204)
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp(environ, start_response)
