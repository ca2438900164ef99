"""Attacks on the HTTP server itself (issue 15, finding 1 and the HTTP parts of 7), against a real
`crumbs serve` process on 127.0.0.1: what any local process, with no token, can do with raw sockets
before Flask ever sees a request. Flask's test client cannot show any of this: it hands the app a
body that has already been read.

How "bytes read" is measured: the client counts the bytes the connection accepted before the server
closed it. The server fixes each connection's receive buffer (web/server.py), and the client's send
buffer is set small here, so what was accepted but never read by the server is bounded by those two
buffers (a few hundred KiB); without the server's early refusal the whole body would be accepted.
"""

from __future__ import annotations

import errno
import os
import json
import re
import resource
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from companion import auth
from companion.web import MAX_BODY_BYTES
from companion.web.server import CONNECTION_LIMIT, REQUEST_DEADLINE_S

MiB = 1024 * 1024
SECURITY_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff", "x-frame-options": "DENY",
                    "referrer-policy": "no-referrer"}


class Serve:
    """`crumbs serve --port 0` in its own process; stopped with SIGINT (its documented way to stop)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir",
                                      str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited: " + self.proc.stderr.read())
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                break
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        done = subprocess.run([sys.executable, "-m", "companion", "token", "--data-dir", str(data_dir)],
                              capture_output=True, text=True, timeout=60, check=True)
        self.token = done.stdout.strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Serve(tmp_path_factory.mktemp("http") / "data")
    yield s
    s.stop()


@pytest.fixture
def descriptors():
    """More open files than the server's connection limit, for this test (this process's own ones too)."""
    wanted = CONNECTION_LIMIT + 100 + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connect(server, sndbuf: int = 32 * 1024) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sock.connect(("127.0.0.1", server.port))
    return sock


def health_answers_within_a_second(server, meanwhile: str) -> None:
    """/api/v1/health answers, three times, each within 1 s (the issue's bound) while ``meanwhile`` holds."""
    for _ in range(3):
        started = time.monotonic()
        r = requests.get(f"{server.base}/api/v1/health", timeout=1.0)
        print(f"/api/v1/health with {meanwhile}: {(time.monotonic() - started) * 1000:.1f} ms")
        assert r.status_code == 200 and r.json()["status"] == "ok"


def push_body(sock: socket.socket, head: bytes, total: int, chunked: bool = False, seconds: float = 30.0):
    """Send ``head`` then up to ``total`` body bytes as fast as the connection takes them. Returns
    (body bytes the connection accepted, what the server answered, whether it closed on us)."""
    sock.sendall(head)
    sock.setblocking(False)
    chunk = b"x" * 65536
    piece = b"10000\r\n" + chunk + b"\r\n" if chunked else chunk
    sent = 0
    answer = b""
    closed = False
    deadline = time.monotonic() + seconds
    pending = memoryview(piece)
    while sent < total and time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock], [], 1.0)
        if readable:
            try:
                data = sock.recv(65536)
            except OSError:
                closed = True
                break
            if not data:
                closed = True
                break
            answer += data
        if writable:
            try:
                n = sock.send(pending)
            except OSError as exc:
                assert exc.errno in (errno.EPIPE, errno.ECONNRESET)
                closed = True
                break
            sent += n
            pending = pending[n:] or memoryview(piece)
    sock.close()
    return sent, answer, closed


def response_of(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Read one whole answer (the server closes after its own refusals)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def assert_json_refusal(headers: dict[str, str], body: bytes) -> None:
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


# == a body too big is refused before it is read =================================================


def test_a_300_mib_upload_is_refused_having_read_under_1_mib(server):
    head = (f"POST /api/v1/events HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {300 * MiB}\r\n\r\n").encode()
    sent, answer, closed = push_body(connect(server), head, 300 * MiB)
    print(f"300 MiB upload: the connection accepted {sent / 1024:.0f} KiB of body before the server closed it")
    assert closed and sent < 1 * MiB
    if answer:  # the 413 usually arrives before the reset; when it does, it is ours
        assert b" 413 " in answer.split(b"\r\n", 1)[0]


def test_a_chunked_body_is_cut_off_at_the_cap(server):
    head = (f"POST /api/v1/events HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    sent, answer, closed = push_body(connect(server), head, 300 * MiB, chunked=True)
    print(f"chunked upload: the connection accepted {sent / 1024:.0f} KiB before the server closed it")
    assert closed and sent < MAX_BODY_BYTES + 1 * MiB


def test_a_foreign_host_is_refused_before_its_body_is_read(server):
    head = (f"POST /api/v1/events HTTP/1.1\r\nHost: attacker.example:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {3 * MiB}\r\n\r\n").encode()
    sent, answer, closed = push_body(connect(server), head, 3 * MiB)
    print(f"foreign Host: the connection accepted {sent / 1024:.0f} KiB of body before the server closed it")
    assert closed and sent < 1 * MiB


@pytest.mark.parametrize("host", ["attacker.example:{port}", "localhost.attacker.example:{port}",
                                  "127.0.0.1.nip.io:{port}", "127.0.0.1:1", "", None])
def test_a_foreign_host_gets_a_json_403_with_the_security_headers(server, host):
    sock = connect(server)
    line = "" if host is None else f"Host: {host.format(port=server.port)}\r\n"
    sock.sendall(f"POST /api/v1/events HTTP/1.1\r\n{line}Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n".encode())
    status, headers, body = response_of(sock)
    assert status == 403
    assert_json_refusal(headers, body)


def test_waitress_own_refusals_are_json_with_the_security_headers(server):
    sock = connect(server)  # too big by its Content-Length: refused without waiting for the body
    sock.sendall(f"POST /api/v1/events HTTP/1.1\r\nHost: {server.host}\r\nContent-Length: {5 * MiB}\r\n\r\n".encode())
    status, headers, body = response_of(sock)
    assert status == 413
    assert_json_refusal(headers, body)
    sock = connect(server)  # a header that is no header
    sock.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: {server.host}\r\nno colon here\r\n\r\n".encode())
    status, headers, body = response_of(sock)
    assert status == 400
    assert_json_refusal(headers, body)
    sock = connect(server)  # a transfer coding waitress does not do
    sock.sendall(f"POST /api/v1/events HTTP/1.1\r\nHost: {server.host}\r\nTransfer-Encoding: gzip\r\n\r\n".encode())
    status, headers, body = response_of(sock)
    assert status == 501
    assert_json_refusal(headers, body)


def test_a_body_at_the_cap_still_reaches_the_app(server):
    """The server's cap is the app's: a body of exactly 4 MiB gets Flask's answer (here: not JSON)."""
    r = requests.post(f"{server.base}/api/v1/events", data=b" " * MAX_BODY_BYTES, timeout=30,
                      headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
    assert r.status_code == 401 and r.json()["error"]  # the app answered: the body was let through


# == idle and slow clients do not starve anyone ====================================================


def test_health_answers_while_200_idle_and_200_slow_clients_hold_connections(server):
    idle = [connect(server) for _ in range(200)]
    slow = []
    for _ in range(200):
        sock = connect(server)
        sock.sendall((f"POST /api/v1/events HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
                      "Content-Length: 100000\r\n\r\n{").encode())
        slow.append(sock)
    stop = threading.Event()

    def trickle():  # one more byte on each slow body every half second
        while not stop.wait(0.5):
            for sock in slow:
                try:
                    sock.send(b" ")
                except OSError:
                    pass

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        time.sleep(1.0)  # let the server accept them all
        health_answers_within_a_second(server, "200 idle + 200 slow connections open")
    finally:
        stop.set()
        feeder.join()
        for sock in idle + slow:
            sock.close()


def test_health_answers_while_more_idle_clients_than_the_connection_limit_hold_connections(server, descriptors):
    """The limit alone is no defence: waitress stops accepting at it, so one socket more than the limit
    froze /health for the whole idle timeout, and the attacker simply reconnects (issue 15, finding 1)."""
    idle = []
    try:
        for _ in range(CONNECTION_LIMIT + 50):
            idle.append(connect(server))
        time.sleep(1.0)  # let the server accept all it will
        health_answers_within_a_second(server, f"{len(idle)} idle connections open")
    finally:
        for sock in idle:
            sock.close()


def test_a_request_that_trickles_is_dropped_at_its_deadline(server):
    sock = connect(server)
    sock.sendall((f"POST /api/v1/events HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
                  "Content-Length: 100000\r\n\r\n{").encode())
    started = time.monotonic()
    closed_after = None
    while time.monotonic() - started < REQUEST_DEADLINE_S + 10:
        try:
            sock.send(b" ")  # never silent, so an idle timeout alone would never fire
            sock.settimeout(0.5)
            if sock.recv(100) == b"":
                closed_after = time.monotonic() - started
                break
        except socket.timeout:
            continue
        except OSError:
            closed_after = time.monotonic() - started
            break
    sock.close()
    print(f"a body trickling one byte every 0.5 s was dropped after {closed_after} s")
    assert closed_after is not None and closed_after < REQUEST_DEADLINE_S + 5


# == the health proof cannot be relayed (finding 6) ================================================

EXTENSION = Path(__file__).resolve().parents[1] / "extension"
# The extension's own client (extension/src/companion.js) in node, with node's real fetch.
CLIENT = """
import { CompanionClient } from %s;
const [base, token] = process.argv.slice(1);
const client = new CompanionClient({ getConfig: async () => ({ companion: base, token }), timeoutMs: 10000 });
try {
  const answer = await client.get('/api/v1/choices');
  console.log(JSON.stringify({ ok: true, status: answer.status }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, kind: e.kind, message: e.message }));
}
""" % json.dumps((EXTENSION / "src" / "companion.js").as_uri())


def extension_client(base: str, token: str) -> dict:
    done = subprocess.run(["node", "--input-type=module", "-e", CLIENT, base, token], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Relay:
    """A program squatting a port and relaying every connection to the real companion: verbatim, or with the
    Host header of each request rewritten to the companion's own (so the companion's Host check passes).
    Keeps everything the client sent, to see whether the token ever reached it."""

    def __init__(self, target_port: int, rewrite_host: bool) -> None:
        self.target_port = target_port
        self.rewrite_host = rewrite_host
        self.seen = bytearray()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client:
                    self.seen += data
                    if self.rewrite_host:
                        data = re.sub(rb"(?im)^host: [^\r\n]*", f"Host: 127.0.0.1:{self.target_port}".encode(), data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def test_the_proof_recipe_is_the_extensions():
    """The same vector as extension/test/companion.test.mjs: both sides sign the same message."""
    assert auth.proof("tok-" + "x" * 40, "0123456789abcdef0123456789abcdef", "127.0.0.1:8737",
                      "chrome-extension://abc") == "e798c22b3c1f308961df282f258c73b581e85868a6efd29c0f6fda7de2a340f0"


@pytest.mark.parametrize("rewrite_host", [False, True], ids=["verbatim", "host-rewritten"])
def test_a_relay_squatting_the_extensions_port_never_gets_the_token(server, rewrite_host):
    assert extension_client(server.base, server.token) == {"ok": True, "status": 200}  # the real one proves itself
    relay = Relay(server.port, rewrite_host)
    try:
        answer = extension_client(f"http://127.0.0.1:{relay.port}", server.token)
    finally:
        relay.close()
    assert answer["ok"] is False and answer["kind"] == "impostor", answer
    assert b"x-crumbs-challenge" in bytes(relay.seen).lower()  # it did relay the challenge...
    assert server.token.encode() not in relay.seen and b"authorization" not in bytes(relay.seen).lower()
    # ...and the companion's answer proved the token for the port it was asked on, not the relay's.
    nonce = re.search(rb"(?i)x-crumbs-challenge: ([0-9a-f]+)", relay.seen).group(1).decode()
    if rewrite_host:
        r = requests.get(f"{server.base}/api/v1/health", headers={"X-Crumbs-Challenge": nonce}, timeout=10)
        assert r.headers["X-Crumbs-Proof"] == auth.proof(server.token, nonce, server.host)
        assert r.headers["X-Crumbs-Proof"] != auth.proof(server.token, nonce, f"127.0.0.1:{relay.port}")


# == hosts are validated whatever their kind (finding 7) ===========================================

REFUSED_HOSTS = [
    'https://[fe80::1%25"><img src=x onerror=alert(1)>]/a.js',  # a zone id carrying markup
    "https://[fe80::1%25eth0]/a.js",  # a zone id: one machine's interface, never a site
    "https://[fe80::1%25" + "a" * 5000 + "]/a.js",  # 5,000 characters of "host" behind an IPv6 address
    "https://" + "a" * 5000 + "/a.js",
    "https://" + "abc." * 1250 + "example/a.js",  # 5,000 characters of short labels
    "https://[v1.x]/a.js",  # brackets around something that is no IPv6 address
    "https://[1.2.3.4]/a.js",
]


@pytest.mark.parametrize("url", REFUSED_HOSTS, ids=range(len(REFUSED_HOSTS)))
def test_hostile_hosts_are_refused_by_events_and_check(client, auth, companion, url):
    before = companion.store.count_requests()
    r = client.post("/api/v1/events", json={"events": [{"url": url, "page_url": "https://news.example/"},
                                                       {"url": "https://news.example/", "page_url": url}]},
                    headers=auth)
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert [x["ok"] for x in results] == [False, False] and all(x["error"] for x in results)
    assert companion.store.count_requests() == before  # nothing stored
    r = client.post("/api/v1/check", json={"url": url, "page_url": "https://news.example/"}, headers=auth)
    assert r.status_code == 400 and r.get_json()["error"]
    assert "<img" not in r.get_data(as_text=True)


@pytest.mark.parametrize("url, host", [("https://[2001:DB8:0:0::1]:8443/x", "2001:db8::1"),
                                       ("https://[::1]/x", "::1"), ("https://192.0.2.7/x", "192.0.2.7")])
def test_ip_hosts_are_kept_in_one_spelling(client, auth, url, host):
    r = client.post("/api/v1/check", json={"url": url, "page_url": "https://news.example/"}, headers=auth)
    assert r.status_code == 200 and r.get_json()["host"] == host
    r = client.post("/api/v1/events", json={"events": [{"url": url, "page_url": "https://news.example/"}]}, headers=auth)
    assert r.get_json()["results"][0]["verdict"]["host"] == host


def _pair_tries(server, codes, origin: str) -> list[int]:
    """POST each of ``codes`` to /api/v1/pair, each on a new connection, as the extension does: the statuses."""
    statuses = []
    for code in codes:
        r = requests.post(server.base + "/api/v1/pair", json={"code": code}, headers={"Origin": origin}, timeout=10)
        statuses.append(r.status_code)
    return statuses


@pytest.mark.skipif(os.geteuid() != 0, reason="a guesser of another user needs root to switch users (CI runs as root)")
def test_a_guesser_of_another_user_cannot_starve_the_persons_pairing(server):
    """Issue 15: a local process with no token kept the one pairing throttle (5 checked tries per 10 s) full,
    and the person's right code got 429 for as long as it went on. Tries are now counted per user owning the
    asking socket (companion/peers.py): a guesser running as 'nobody' uses up its own budget only."""
    from companion.resources import EXTENSION_ID

    origin = f"chrome-extension://{EXTENSION_ID}"
    made = requests.post(server.base + "/api/v1/pairing-code", headers={"Authorization": f"Bearer {server.token}"},
                         timeout=10)
    assert made.status_code == 201
    code = made.json()["code"]
    wrong = [f"{n:08d}" for n in range(60) if f"{n:08d}" != code][:40]

    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the guesser: this test's own code, as another user, over real sockets
        status = 1
        try:
            os.close(readable)
            os.setgid(65534)
            os.setuid(65534)
            os.write(writable, json.dumps(_pair_tries(server, wrong, origin)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(writable)
    with os.fdopen(readable, "rb") as pipe:
        guessed = json.loads(pipe.read() or b"[]")
    assert os.waitpid(pid, 0)[1] == 0
    assert guessed.count(403) == 5 and guessed.count(429) == 35  # the guesser is throttled all the same

    # Its budget is full; the person's browser (this user) pairs at once with the right code.
    paired = requests.post(server.base + "/api/v1/pair", json={"code": code}, headers={"Origin": origin}, timeout=10)
    assert paired.status_code == 200 and paired.json()["token"] == server.token

    # A guesser of the person's own user shares their budget (it could read the token file anyway).
    mine = _pair_tries(server, wrong[:8], origin)
    assert mine == [403] * 4 + [429] * 4  # the right code above was this user's first checked try


def test_health_answers_while_more_clients_than_the_limit_pipeline_requests_and_never_read(server, descriptors):
    """Review of issue 15's fix: 520 connections, each sending 8 pipelined requests in one write and reading
    nothing, queued 4,160 tasks ahead of everyone else's and held /health past the idle timeout. A connection
    queueing more than MAX_PIPELINED requests is dropped; the rest are shed at the limit like idle ones."""
    from companion.web.server import MAX_PIPELINED

    one = f"GET /api/v1/openapi.json HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode()
    held = []
    try:
        for _ in range(CONNECTION_LIMIT + 8):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(one * 8)
            held.append(sock)
        time.sleep(1.0)
        health_answers_within_a_second(server, f"{len(held)} connections pipelining 8 requests each, reading nothing")
        # A connection that stays within the limit is answered in full, in order.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as polite:
            polite.sendall(one * MAX_PIPELINED)
            got = b""
            while got.count(b"HTTP/1.1 ") < MAX_PIPELINED:
                chunk = polite.recv(65536)
                assert chunk, got
                got += chunk
    finally:
        for sock in held:
            sock.close()


def test_shedding_at_the_limit_never_cuts_an_answer_still_flowing_to_a_slow_reader(descriptors):
    """Review of issue 15's fix: a connection whose worker had finished but whose answer was still being
    written counted as 'not served' and, being old, was shed first: a slow reader got 3.8 of 8.4 MB. Only
    connections with nothing moving for STALLED_S are shed now. The real server class, a plain WSGI app."""
    from companion.web.server import make_server

    big = 12 * 1024 * 1024  # more than the kernel's send buffer takes (4 MiB at most): the rest waits in waitress

    class BigAnswer:
        config: dict = {}

        def __call__(self, environ, start_response):
            start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(big))])
            return [b"x" * big]

    server = make_server(BigAnswer(), "127.0.0.1", 0)
    port = int(server.effective_port)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    idle: list[socket.socket] = []
    received = [0]
    try:
        reader = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(("127.0.0.1", port))
        reader.sendall(f"GET /big HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        reader.settimeout(10)

        def read_slowly():  # a few MB a second: the answer is still flowing while the limit is reached
            while True:
                chunk = reader.recv(65536)
                if not chunk:
                    return
                received[0] += len(chunk)
                if received[0] >= big:
                    return
                time.sleep(0.002)

        slow = threading.Thread(target=read_slowly, daemon=True)
        slow.start()
        time.sleep(0.5)
        for _ in range(CONNECTION_LIMIT + 10):  # the limit reached: the idle ones are shed, not the reader
            idle.append(socket.create_connection(("127.0.0.1", port)))
        slow.join(120)
        assert received[0] >= big, f"the slow reader got {received[0]:,} of {big:,} bytes"
    finally:
        for sock in idle:
            sock.close()
        server.stop()
        loop.join(10)
        server.drain(1)
        server.close()
