"""What the browser benchmarks share: a fake web, the real companion, and the real Chromium with the
unpacked extension, paired (the same set-up as tests/browser/conftest.py, reused from there).

Nothing reaches the internet: every hostname is mapped to the local fake web. The bench page
`https://bench.example/many.html?n=N&k=K` makes N sub-requests: images from K tracker domains of
the shipped list (each one a distinct registrable domain, so the badge and the popup show K
trackers) and first-party images, interleaved.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]


def tracker_domains(k: int) -> list[str]:
    """K hostnames that the shipped list blocks outright (`||host^`), one per registrable domain."""
    from companion.sites import registrable_domain as registrable

    seen, out = set(), []
    for line in (ROOT / "rules" / "crumbs-trackers.txt").read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"\|\|([a-z0-9.-]+)\^", line.strip())
        if m and registrable(m.group(1)) not in seen:
            seen.add(registrable(m.group(1)))
            out.append(m.group(1))
            if len(out) == k:
                return out
    raise RuntimeError(f"the shipped list has fewer than {k} plain tracker domains")


def bench_page(n: int, k: int) -> str:
    """N images: every other one from one of K tracker hosts, the rest first-party."""
    hosts = tracker_domains(k)
    tags = []
    for i in range(n):
        if i % 2 == 0 or i // 2 < k:
            src = f"https://{hosts[(i // 2) % k]}/pixel.gif?i={i}"
        else:
            src = f"/img{i}.png"
        tags.append(f'<img src="{html.escape(src)}" width="1" height="1" alt="">')
    return ("<!doctype html><html><head><title>bench</title></head><body><h1>bench</h1>"
            + "".join(tags)
            + "<script>window.addEventListener('load',()=>{window.done=true;"
              "window.loadedAt=performance.now();});</script></body></html>")


class BenchWeb:
    """The tests' fake web, plus the bench page."""

    def __init__(self) -> None:
        from tests.browser.fakeweb import FakeWeb
        self.fake = FakeWeb()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/many.html":
            from werkzeug.wrappers import Response
            q = parse_qs(environ.get("QUERY_STRING", ""))
            body = bench_page(int(q.get("n", ["500"])[0]), int(q.get("k", ["30"])[0]))
            resp = Response(body, content_type="text/html")
            resp.headers["Cache-Control"] = "no-store"
            return resp(environ, start_response)
        return self.fake(environ, start_response)


@contextmanager
def chromium_with_extension(cdp_port: int | None = None, extra: dict[str, bytes | str] | None = None,
                            display: str | None = None):
    """(env dict): the fake web, a paired companion and Chromium with the extension. With
    `cdp_port`, Chromium also listens for DevTools on that port (the CPU profile of the
    extension's worker is taken through it). `extra` adds files to the bench's copy of the extension
    (path inside it -> content): peers measured in the same run, such as an empty page or the popup
    of an older commit; they never reach the shipped extension. With `display` (an X display, see
    `virtual_screen`), Chromium runs with a window there instead of headless: the toolbar's popup
    opens only in a window."""
    from tests.browser.conftest import EXTENSION_ID, CompanionProcess, chromium, free_port
    from tests.browser.fakeweb import Server, make_cert

    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per fake-web request otherwise
    tmp = Path(tempfile.mkdtemp(prefix="crumbs-bench-"))
    app = BenchWeb()
    http = Server(app)
    https = Server(app, ssl_context=tuple(str(p) for p in make_cert(tmp)))
    companion = CompanionProcess(tmp / "data", free_port(), tmp / "companion.log")
    companion.start()
    try:
        # The tests' Chromium (the same flags and fake-web mapping), the bench page served beside the fake web.
        with chromium(tmp, {"app": app.fake, "http": http, "https": https}, display=display,
                      devtools_port=cdp_port, extra=extra) as browser:
            browser.pair(companion)
            yield {"browser": browser, "ctx": browser.ctx, "sw": browser.sw, "companion": companion,
                   "extension_id": EXTENSION_ID, "tmp": tmp}
    finally:
        companion.stop()
        http.close()
        https.close()
        shutil.rmtree(tmp, ignore_errors=True)


def free_port() -> int:
    """A free TCP port on the loopback (for Chromium's DevTools)."""
    from tests.browser.conftest import free_port as free
    return free()


@contextmanager
def virtual_screen():
    """An X display on a virtual screen (tests/browser/toolbar.py), or None without Xvfb."""
    from tests.browser.toolbar import virtual_screen as screen
    with screen() as display:
        yield display


def load_note() -> str:
    """The machine's load, to print next to browser figures (2 shared cores: they move a lot)."""
    import os
    try:
        with open("/proc/loadavg") as fh:
            return f"machine load (1/5/15 min): {' '.join(fh.read().split()[:3])} on {os.cpu_count()} cores"
    except OSError:
        return "machine load: unknown"


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02):
    """Poll until truthy; the value, or None at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = predicate()
        except Exception:  # noqa: BLE001 - a page that is still loading
            v = None
        if v:
            return v
        time.sleep(interval)
    return None


def dumps(obj) -> str:
    return json.dumps(obj)
