"""Fixtures for the end-to-end tests: the real companion as a subprocess, a fake internet, and a
headless Debian Chromium with the unpacked extension loaded (driven by Playwright for Python).

These fixtures drive Chromium; test_firefox.py drives firefox-esr over WebDriver BiDi (firefox.py)
and reuses the companion and the fake internet from here. Nothing touches the internet: every hostname is mapped to a local server, and
everything else resolves to nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from .fakeweb import FakeWeb, Server, make_cert

ROOT = Path(__file__).resolve().parents[2]
EXTENSION_SRC = ROOT / "extension"
EXTENSION_ID = (EXTENSION_SRC / "EXTENSION_ID").read_text().strip()
CHROMIUM = os.environ.get("CRUMBS_CHROMIUM", "/usr/lib/chromium/chromium")


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy; return its value, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # noqa: BLE001 - a poll may race a page or server that is starting
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CompanionProcess:
    """`crumbs serve` in a subprocess, on a fixed free port and a temporary data folder."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log_path = data_dir, port, log
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self._token: str | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "companion.cli", *args, "--data-dir", str(self.data_dir)],
                             check=True, capture_output=True, text=True, cwd=ROOT, timeout=60)
        return out.stdout

    def start(self) -> None:
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "companion.cli", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for(self._healthy, timeout=60, what=f"the companion on port {self.port} (log: {self.log_path})")

    def _healthy(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise RuntimeError(f"crumbs serve exited: {self.log_path.read_text()[-2000:]}")
        try:
            return requests.get(f"{self.base}/api/v1/health", timeout=1).ok
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.cli("token").strip()
        return self._token

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=10, **kw)

    def site(self, site: str) -> dict:
        r = self.api("GET", f"/api/v1/sites/{site}")
        r.raise_for_status()
        return r.json()

    def third_party(self, site: str, domain: str) -> dict | None:
        return next((t for t in self.site(site)["third_parties"] if t["domain"] == domain), None)

    def pairing_code(self) -> str:
        return re.search(r"(\d{4}) ?(\d{4})", self.cli("pair")).expand(r"\1\2")


@pytest.fixture(scope="session")
def web(tmp_path_factory):
    """The fake internet over http and https, sharing one request log."""
    folder = tmp_path_factory.mktemp("tls")
    app = FakeWeb()
    http = Server(app)
    https = Server(app, ssl_context=tuple(str(p) for p in make_cert(folder)))
    yield {"app": app, "http": http, "https": https}
    http.close()
    https.close()


@pytest.fixture
def companion(tmp_path):
    c = CompanionProcess(tmp_path / "data", free_port(), tmp_path / "companion.log")
    c.start()
    yield c
    c.stop()


class Browser:
    """A Playwright persistent context with the extension, plus helpers that read the extension's state."""

    def __init__(self, ctx, sw, web) -> None:
        self.ctx, self.sw, self.web = ctx, sw, web

    def ev(self, expression: str):
        return self.sw.evaluate(expression)

    def tab_id(self, url_pattern: str) -> int:
        ids = wait_for(lambda: self.ev(f"chrome.tabs.query({{url: {json.dumps(url_pattern)}}}).then(t => t.map(x => x.id))"),
                       what=f"a tab at {url_pattern}")
        return ids[0]

    def badge(self, tab_id: int) -> dict:
        return self.ev(f"""Promise.all([chrome.action.getBadgeText({{tabId: {tab_id}}}),
                                         chrome.action.getTitle({{tabId: {tab_id}}})])
                         .then(([text, title]) => ({{text, title}}))""")

    def status(self) -> str:
        return self.ev("self.crumbs.status()")

    def pair(self, companion: CompanionProcess) -> None:
        """Pair by setting the two storage keys (any means of setting them pairs), then wait for the rules."""
        self.ev(f"chrome.storage.local.set({{companion: {json.dumps(companion.base)}, token: {json.dumps(companion.token)}}})")
        wait_for(lambda: self.status() == "ok", what="the extension to reach the companion")
        version = companion.api("GET", "/api/v1/dnr").json()["version"]
        self.wait_rules(version)

    def wait_rules(self, version: str) -> None:
        wait_for(lambda: self.ev("self.crumbs.syncRules().then(() => self.crumbs.rules.version)") == version,
                 what=f"rules version {version} in the browser")

    def open(self, url: str):
        page = self.ctx.new_page()
        page.goto(url)
        page.wait_for_function("window.done === true")
        return page

    def reloaded(self, page, action) -> None:
        """Run action (which reloads `page`) and wait for the new load to finish."""
        with page.expect_navigation():
            action()
        page.wait_for_function("window.done === true")

    def popup(self, tab_id: int):
        page = self.ctx.new_page()
        page.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html?tab={tab_id}")
        page.wait_for_selector("body[data-ready='true']")
        return page


def news_page_recorded(browser, companion) -> int:
    """Pair, open the news page and wait until the extension's record of it is complete (three trackers, each
    request named by the companion's verdict); its tab id."""
    browser.pair(companion)
    browser.open("http://news.example/article")
    tab = browser.tab_id("http://news.example/*")
    wait_for(lambda: browser.badge(tab)["text"] == "3", what="badge 3")
    wait_for(lambda: browser.ev(f"self.crumbs.tabs().summary({tab}).domains.every((d) => d.pending === 0)"),
             what="the companion's verdicts for every request of the page")
    return tab


@contextmanager
def companion_away(browser: "Browser", companion: CompanionProcess):
    """The companion stopped and the extension knowing it (one tick), for as long as the block runs; then
    started again."""
    companion.stop()
    try:
        browser.ev("self.crumbs.tick()")
        wait_for(lambda: browser.status() == "unreachable", what="the extension to see the companion away")
        yield
    finally:
        companion.start()


@contextmanager
def chromium(tmp_path: Path, web: dict, display: str | None = None, devtools_port: int | None = None,
             extra: dict[str, bytes | str] | None = None):
    """Debian's Chromium with a copy of the unpacked extension, every hostname mapped to the fake web: a
    Browser. Headless, or with a window on the X `display` (the toolbar's popup opens only in a window);
    `devtools_port` opens Chromium's DevTools endpoint on the loopback (see toolbar.py). `extra` adds files
    to the copy (path inside it -> content; the bench's peers), never to the extension itself."""
    from playwright.sync_api import sync_playwright

    ext = tmp_path / "extension"
    shutil.copytree(EXTENSION_SRC, ext, ignore=shutil.ignore_patterns("test", "*.md"))
    for rel, content in (extra or {}).items():
        target = ext / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    rules = ", ".join([
        f"MAP *:443 127.0.0.1:{web['https'].port}",  # every https host -> the fake HTTPS listener
        f"MAP *.example 127.0.0.1:{web['http'].port}",
        f"MAP *.test 127.0.0.1:{web['http'].port}",
        "MAP * ~NOTFOUND",  # the browser's own background traffic fails fast and stays off the logs
        "EXCLUDE 127.0.0.1",  # the companion on its real port
    ])
    args = [f"--disable-extensions-except={ext}", f"--load-extension={ext}", f"--host-resolver-rules={rules}",
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    if devtools_port:
        args.append(f"--remote-debugging-port={devtools_port}")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=display is None,
            ignore_default_args=["--disable-extensions"], ignore_https_errors=True, args=args,
            env={**os.environ, "DISPLAY": display} if display else None)
        try:
            sw = ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker", timeout=15000)
            assert sw.url == f"chrome-extension://{EXTENSION_ID}/src/background.js"
            sw.evaluate("self.crumbs.ready")
            web["app"].clear()
            yield Browser(ctx, sw, web["app"])
        finally:
            ctx.close()


@pytest.fixture
def browser(tmp_path, web):
    with chromium(tmp_path, web) as b:
        yield b


@pytest.fixture
def windowed_browser(tmp_path, web):
    """Chromium with a window on a virtual screen (Xvfb), its DevTools endpoint at `.devtools_port`: for the
    toolbar button's popup (toolbar.py)."""
    from .toolbar import virtual_screen

    with virtual_screen() as display:
        assert display, "Xvfb is not installed (`make test` installs Debian's xvfb)"
        port = free_port()
        with chromium(tmp_path, web, display=display, devtools_port=port) as b:
            b.devtools_port = port
            yield b
