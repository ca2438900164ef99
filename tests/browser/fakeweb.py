"""A fake internet for the browser tests: news sites, trackers and a widget host, all on 127.0.0.1.

One WSGI app answers every hostname (Chromium's --host-resolver-rules sends them all here and keeps
the Host header), over plain HTTP and over HTTPS with a self-signed certificate made at test time.
Every request is logged, so tests can prove that a blocked tracker's server received nothing.
"""

from __future__ import annotations

import html
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from . import embedpages

# Tracker hosts the shipped lists flag, served over https (several are HSTS-preloaded in Chromium).
TRACKERS = {
    "ga": "https://www.google-analytics.com/analytics.js",
    "dc": "https://stats.g.doubleclick.net/pixel.gif?id=1",
    "fb": "https://connect.facebook.net/en_US/fbevents.js",
}
TRACKER_HOSTS = {"ga": "www.google-analytics.com", "dc": "stats.g.doubleclick.net", "fb": "connect.facebook.net"}
TRACKER_DOMAINS = {"ga": "google-analytics.com", "dc": "doubleclick.net", "fb": "facebook.net"}
# A third party that is on no list: a comments widget.
WIDGET = "https://cdn.widgets.test/widget.js"
WIDGET_HOST = "cdn.widgets.test"

GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def page_html(title: str) -> str:
    """A page that loads a first-party image, three trackers (scripts and a pixel) and the widget.

    Each load records its outcome in window.loaded / window.failed, so a test can see what the page saw.
    """
    def tag(key: str, url: str) -> str:
        u = html.escape(url)
        if url.endswith(".gif") or "pixel" in url or url.endswith(".png"):
            return f'<img src="{u}" onload="loaded.push(\'{key}\')" onerror="failed.push(\'{key}\')">'
        return f'<script src="{u}" onload="loaded.push(\'{key}\')" onerror="failed.push(\'{key}\')"></script>'

    items = [("own", "/logo.png")] + list(TRACKERS.items()) + [("widget", WIDGET)]
    tags = "\n".join(tag(k, u) for k, u in items)
    return (f"<!doctype html><html><head><title>{html.escape(title)}</title>"
            "<script>window.loaded=[];window.failed=[];</script></head>"
            f"<body><h1>{html.escape(title)}</h1>{tags}"
            "<script>window.addEventListener('load',()=>{window.done=true;});</script></body></html>")


@dataclass
class FakeWeb:
    log: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Pages a test serves itself: (host, path) -> (body, content type). Checked before everything else.
    pages: dict[tuple[str, str], tuple[bytes | str, str]] = field(default_factory=dict)

    def __call__(self, environ, start_response):
        req = Request(environ)
        host = (req.host or "").split(":")[0]
        with self.lock:
            self.log.append({"host": host, "path": req.path, "scheme": req.scheme,
                             "referer": req.headers.get("Referer", ""), "gpc": req.headers.get("Sec-GPC")})
        extra = embedpages.answer(host, req.path)  # click-to-load and GPC pages (issue 12)
        if (host, req.path) in self.pages:
            body, content_type = self.pages[(host, req.path)]
            resp = Response(body, content_type=content_type)
        elif extra is not None:
            resp = Response(extra[0], content_type=extra[1])
        elif req.path.endswith(".js"):
            resp = Response("/* fake */", content_type="application/javascript")
        elif req.path.endswith((".gif", ".png")) or "pixel" in req.path:
            resp = Response(GIF, content_type="image/gif")
        elif req.path == "/no-trackers.html":
            resp = Response("<!doctype html><title>plain</title><p>nothing third-party here"
                            "<script>window.done=true</script>", content_type="text/html")
        elif host.endswith(".example"):
            resp = Response(page_html(f"{host}{req.path}"), content_type="text/html")
        else:
            resp = Response("", status=204)
        resp.headers["Cache-Control"] = "no-store"
        return resp(environ, start_response)

    def hits(self, host: str) -> list[dict]:
        with self.lock:
            return [e for e in self.log if e["host"] == host]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate (the browser is told to ignore certificate errors)."""
    crt, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=crumbs-e2e"], check=True, capture_output=True)
    return crt, key


class Server:
    """A werkzeug server on a free port in a background thread."""

    def __init__(self, app, ssl_context=None) -> None:
        self.srv = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
        self.port = self.srv.server_port
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


# The stand-ins Crumbs serves for the news page's tracker scripts mark themselves (GA's analytics.js, the
# Meta Pixel's fbevents.js); the fake web's own scripts define nothing.
STAND_INS = {"ga": "window.ga && window.ga.crumbsStandIn", "fb": "window.fbq && window.fbq.crumbsStandIn"}


def replaced(page) -> set[str]:
    """The trackers whose script the browser answered with Crumbs' stand-in (their server saw nothing)."""
    return {key for key, expr in STAND_INS.items() if page.evaluate(f"Boolean({expr})")}


def loaded(page) -> set[str]:
    """What loaded from its own server: the page's onload list, minus the stand-ins."""
    return set(page.evaluate("window.loaded")) - replaced(page)


def failed(page) -> set[str]:
    """What never reached its server: blocked outright (onerror), or answered by a stand-in."""
    return set(page.evaluate("window.failed")) | replaced(page)
