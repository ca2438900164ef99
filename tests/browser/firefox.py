"""Headless Firefox (Debian's firefox-esr) with the extension, driven over raw WebDriver BiDi.

There is no geckodriver on Debian and Playwright's Firefox is a patched build, so this speaks the
W3C WebDriver BiDi protocol that Firefox itself serves (`--remote-debugging-port`) over one websocket.
Only the few commands the tests need are here.

Host mapping: Firefox has no --host-resolver-rules, so the profile points every request at a
proxy auto-config (PAC) file. It sends the fake hosts to `Tunnel`, a tiny proxy on a free port that
hands plain-HTTP requests to the fake web's HTTP server and CONNECT tunnels to its HTTPS server;
127.0.0.1 (the companion) goes direct, and everything else (Firefox's own background traffic) goes
to a closed port and fails fast. So no port 80/443 and no root are needed, and runs can overlap.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import socketserver
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from companion.resources import GECKO_ID

FIREFOX = os.environ.get("CRUMBS_FIREFOX", "/usr/bin/firefox-esr")
# The fake internet's host names (tests/browser/fakeweb.py), sent through the tunnel by pac().
FAKE_HOSTS = (r"(^|\.)(example|test)$|(^|\.)(google-analytics\.com|doubleclick\.net|facebook\.net"
              r"|googletagmanager\.com)$"
              r"|(^|\.)(youtube\.com|twitter\.com)$")  # the embeds of test_firefox's click-to-load test


class Tunnel:
    """A forwarding proxy: CONNECT host:443 -> the HTTPS port, any other request -> the HTTP port.

    The bytes are passed through untouched, so the fake web still sees the original Host (werkzeug
    reads the host of an absolute-URI request line, which is what browsers send to a proxy).
    """

    def __init__(self, http_port: int, https_port: int) -> None:
        ports = {"http": http_port, "https": https_port}

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client = self.request
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                if head.startswith(b"CONNECT "):
                    upstream = socket.create_connection(("127.0.0.1", ports["https"]))
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    rest = head.split(b"\r\n\r\n", 1)[1]
                else:
                    upstream = socket.create_connection(("127.0.0.1", ports["http"]))
                    rest = head
                with upstream:
                    if rest:
                        upstream.sendall(rest)
                    pipe(client, upstream)

        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes."""
    socks = [a, b]
    while True:
        readable, _, _ = select.select(socks, [], [], 30)
        if not readable:
            return
        for s in readable:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            (b if s is a else a).sendall(data)


def pac(hosts_re: str, proxy_port: int) -> str:
    """The proxy auto-config: fake hosts -> the tunnel, loopback direct, the rest nowhere."""
    return ("function FindProxyForURL(url, host) {"
            " if (host === '127.0.0.1' || host === 'localhost') return 'DIRECT';"
            f" if (/{hosts_re}/.test(host)) return 'PROXY 127.0.0.1:{proxy_port}';"
            " return 'PROXY 127.0.0.1:9'; }")


class BiDiError(RuntimeError):
    pass


class Firefox:
    """One headless Firefox process with a fresh profile and a BiDi session."""

    def __init__(self, profile: Path, prefs: dict, log: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text("".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                                                 for k, v in prefs.items()))
        self.log_path = log
        self.log_lines: list[str] = []
        self.ws = None
        self._next_id = 0
        env = {**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"}
        # Its own process group, so the content processes go with it at the end.
        self.proc = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--profile", str(profile), "--remote-debugging-port", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        found = threading.Event()
        self.ws_url = None

        def drain():
            with open(log, "a") as out:
                for line in self.proc.stderr:
                    out.write(line)
                    out.flush()
                    m = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
                    if m and not found.is_set():
                        self.ws_url = m.group(1)
                        found.set()

        threading.Thread(target=drain, daemon=True).start()
        self._stack = ExitStack()  # the websocket is a context manager; close() exits it
        try:
            if not found.wait(30):
                raise RuntimeError(f"firefox did not start its BiDi server; see {log}")
            from websockets.sync.client import connect

            self.ws = self._stack.enter_context(connect(f"{self.ws_url}/session", max_size=None, open_timeout=10))
            self.send("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
        except BaseException:
            self.close()  # never leave a headless Firefox behind
            raise

    def send(self, method: str, params: dict, timeout: float = 30):
        """Run one BiDi command and return its result (events that arrive meanwhile are dropped)."""
        self._next_id += 1
        cid = self._next_id
        self.ws.send(json.dumps({"id": cid, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") != cid:
                continue
            if msg.get("type") == "error":
                raise BiDiError(f"{method}: {msg.get('error')}: {msg.get('message')}")
            return msg["result"]

    def contexts(self) -> list[dict]:
        return self.send("browsingContext.getTree", {"maxDepth": 0})["contexts"]

    def new_tab(self) -> str:
        return self.send("browsingContext.create", {"type": "tab"})["context"]

    def navigate(self, context: str, url: str) -> None:
        self.send("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})

    def evaluate(self, context: str, expression: str):
        """Evaluate an expression (promises are awaited) in a context and return its value as plain JSON."""
        res = self.send("script.evaluate", {
            "expression": expression, "target": {"context": context}, "awaitPromise": True,
            "serializationOptions": {"maxObjectDepth": 10}, "resultOwnership": "none"})
        if res.get("type") == "exception":
            details = res.get("exceptionDetails", {})
            raise BiDiError(f"{expression[:200]!r} threw: {details.get('text')}")
        return from_remote(res["result"])

    def close(self) -> None:
        """Ask Firefox to quit over BiDi, then make sure it and its content processes are gone."""
        try:
            if self.ws is not None:
                self.send("browser.close", {}, timeout=5)
        except Exception:  # noqa: BLE001 - the process is ended below whatever happened here
            pass
        finally:
            try:
                self._stack.close()
            except Exception:  # noqa: BLE001
                pass
            try:
                self.proc.wait(timeout=5 if self.ws is not None else 0.1)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            try:  # leftover content processes of this Firefox only (its own process group)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def from_remote(v: dict):
    """A BiDi RemoteValue as plain Python."""
    t = v.get("type")
    if t in ("undefined", "null"):
        return None
    if t in ("string", "boolean"):
        return v["value"]
    if t == "number":
        val = v["value"]
        return float(val) if isinstance(val, str) else val  # "NaN", "-0", "Infinity", "-Infinity"
    if t in ("array", "set"):
        return [from_remote(x) for x in v.get("value", [])]
    if t in ("object", "map"):
        out = {}
        for k, x in v.get("value", []):
            out[k if isinstance(k, str) else json.dumps(from_remote(k))] = from_remote(x)
        return out
    return {"__remote__": t}


def profile_prefs(hosts_re: str, tunnel: "Tunnel", ext_uuid: str) -> dict:
    """The preferences every test profile gets: the fake web's hosts through ``tunnel`` (a PAC file),
    no HTTPS upgrades, a known moz-extension:// origin (random per profile otherwise), and none of
    Firefox's own traffic (update checks, telemetry, default-browser prompts)."""
    return {
        "network.proxy.type": 2,
        "network.proxy.autoconfig_url": "data:application/x-ns-proxy-autoconfig," + pac(hosts_re, tunnel.port),
        "network.proxy.allow_hijacking_localhost": False,
        "dom.security.https_first": False,
        "dom.security.https_only_mode": False,
        "extensions.webextensions.uuids": json.dumps({GECKO_ID: ext_uuid}),
        "browser.shell.checkDefaultBrowser": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.enabled": False,
        "app.update.enabled": False,
    }


def new_uuid() -> str:
    return str(uuid.uuid4())
