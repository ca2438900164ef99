"""One owner of a data folder, the address file, SIGTERM, and the CLI finding the running companion.

Real `crumbs serve` processes on free ports (``--port 0``), real signals, real files.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from companion.instance import address_path, lock_path, running
from companion.service import MAX_BATCH
from companion.web.pages import COOKIE


def crumbs(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "companion", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


class Serve:
    """`crumbs serve --port 0`; reads the banner until it says how to stop it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0",
                                      "--data-dir", str(data_dir)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.banner: list[str] = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("serve exited: " + self.proc.stderr.read())
            self.banner.append(line)
            if "Ctrl+C" in line:
                break
        self.port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", "".join(self.banner)).group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    @property
    def text(self) -> str:
        return "".join(self.banner)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code


@pytest.fixture
def serve(tmp_path):
    started: list[Serve] = []

    def start(data_dir: Path | None = None) -> Serve:
        s = Serve(data_dir or tmp_path / "data")
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop(signal.SIGKILL)


def test_address_file_names_the_port_and_pid_and_only_the_owner_can_read_it(serve, tmp_path):
    s = serve()
    path = address_path(tmp_path / "data")
    data = json.loads(path.read_text())
    assert data["address"] == s.base and data["port"] == s.port and data["pid"] == s.proc.pid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert running(tmp_path / "data").port == s.port


def test_a_second_serve_on_the_same_folder_exits_naming_the_first(serve, tmp_path):
    first = serve()
    done = subprocess.run([sys.executable, "-m", "companion", "serve", "--port", "0",
                           "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in done.stderr
    assert first.base in message and "already serves" in message
    # The first one is untouched: it still answers, and its address file is still there.
    assert requests.get(f"{first.base}/api/v1/health", timeout=5).ok
    assert running(tmp_path / "data").port == first.port


def test_sigterm_shuts_down_cleanly_and_releases_lock_and_address(serve, tmp_path):
    data = tmp_path / "data"
    s = serve()
    assert s.stop(signal.SIGTERM) == 0
    assert not address_path(data).exists()
    assert running(data) is None
    # The lock is free: a new companion takes the folder at once.
    again = serve()
    assert running(data).port == again.port
    assert again.stop(signal.SIGINT) == 0
    assert not address_path(data).exists()


def test_sigterm_while_recording_keeps_every_acknowledged_event_and_checkpoints(serve, tmp_path):
    """SIGTERM in the middle of a steady recording: exit 0, every batch the companion acknowledged is in
    the database, the WAL is checkpointed into it (no -wal left to replay), lock and address released."""
    data = tmp_path / "data"
    s = serve()
    token = crumbs("token", data_dir=data).stdout.strip()
    acknowledged: set[int] = set()
    stop = threading.Event()

    def record() -> None:
        n = 0
        while not stop.is_set():
            ids = range(n, n + 10)
            n += 10
            batch = [{"url": f"https://e{i}.term-tracker.example/p.gif", "page_url": "https://news.example/"}
                     for i in ids]
            try:
                r = requests.post(f"{s.base}/api/v1/events", json={"events": batch}, timeout=10,
                                  headers={"Authorization": f"Bearer {token}"})
            except requests.RequestException:
                continue  # the server is going: not acknowledged, the extension would send it again
            if r.status_code == 200:
                acknowledged.update(i for i, x in zip(ids, r.json()["results"]) if x["ok"])

    workers = [threading.Thread(target=record, daemon=True) for _ in range(3)]
    for worker in workers:
        worker.start()
    time.sleep(2.0)
    assert acknowledged  # recording is under way when the signal comes
    assert s.stop(signal.SIGTERM) == 0
    stop.set()
    for worker in workers:
        worker.join(15)
    wal = data / "crumbs.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed: the database file holds it all
    assert not address_path(data).exists() and running(data) is None
    conn = sqlite3.connect(f"file:{data / 'crumbs.sqlite3'}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {int(m.group(1)) for (name,) in conn.execute("SELECT name FROM hosts")
                  if (m := re.match(r"e(\d+)\.term-tracker\.example$", name))}
    finally:
        conn.close()
    assert acknowledged <= stored, sorted(acknowledged - stored)[:10]


def test_sigterm_answers_every_batch_it_stored_before_exiting(serve, tmp_path):
    """SIGTERM while keep-alive clients send batches: the companion exits 0, releases the folder, and
    every event it stored was acknowledged (its batch's 200 reached the client), so the extension never
    resends a batch that is already counted (issue 15).

    Eight clients keep the four workers busy with small batches, so the signal lands with batches in
    workers and more waiting in the queue. Three more clients each send a whole batch of MAX_BATCH
    events and read their answers only after the signal, as a busy browser does: the signal is sent
    once every answer has begun to arrive, so the batches are committed (an answer follows its commit)
    and the rest is still to be written. Their connections' small segments and receive buffers keep
    the kernel from taking a whole answer at once (what a 1000-event answer meets with default buffers
    on macOS): the rest waits in waitress's buffer for its loop. Before the drain, that loop had
    stopped at the signal: the batches were stored, their answers cut short, and the extension would
    have sent them again."""
    data = tmp_path / "data"
    s = serve()
    token = crumbs("token", data_dir=data).stdout.strip()
    acknowledged: set[int] = set()
    lock = threading.Lock()
    under_way = threading.Semaphore(0)  # one release per client that has had a few answers
    signalled = threading.Event()
    size = 50  # events per batch

    def events(first: int, count: int) -> list[dict]:
        return [{"url": f"https://e{i}.drain-tracker.example/p.gif", "page_url": "https://news.example/"}
                for i in range(first, first + count)]

    def record(client: int) -> None:
        session = requests.Session()  # one keep-alive connection per client, as the extension's
        first = client * 1_000_000
        while True:
            try:
                r = session.post(f"{s.base}/api/v1/events", json={"events": events(first, size), "answer": "short"},
                                 timeout=30, headers={"Authorization": f"Bearer {token}"})
            except requests.RequestException:
                if signalled.is_set():
                    return  # the server is going: not acknowledged, the extension would send it again
                raise
            assert r.status_code == 200, r.text
            with lock:
                acknowledged.update(range(first, first + size))
            first += size
            if first % 1_000_000 == 3 * size:  # recording steadily, its next request on its way
                under_way.release()

    clients = [threading.Thread(target=record, args=(c,), daemon=True) for c in range(1, 9)]
    for client in clients:
        client.start()
    for _ in clients:  # every client has had three answers: the server is busy with all of them
        assert under_way.acquire(timeout=60)

    readers = []
    for n in range(3):  # three, each on its own connection: each answer is cut short before the drain
        late = socket.socket()
        late.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)  # before connecting: small segments
        late.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        late.connect(("127.0.0.1", s.port))
        reader = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        reader.sock = late  # a keep-alive HTTP/1.1 connection like the others, on this socket
        reader.request("POST", "/api/v1/events", json.dumps({"events": events(n * MAX_BATCH, MAX_BATCH)}),
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        readers.append(reader)
    for reader in readers:
        assert select.select([reader.sock], [], [], 60)[0]  # its answer has begun: the batch is committed
    signalled.set()
    s.proc.send_signal(signal.SIGTERM)
    for n, reader in enumerate(readers):
        answer = reader.getresponse()  # read only now, after the signal
        assert answer.status == 200
        assert len(json.loads(answer.read())["results"]) == MAX_BATCH
        acknowledged.update(range(n * MAX_BATCH, (n + 1) * MAX_BATCH))
        reader.close()

    assert s.stop() == 0
    for client in clients:
        client.join(30)
        assert not client.is_alive()
    assert not address_path(data).exists() and running(data) is None
    conn = sqlite3.connect(f"file:{data / 'crumbs.sqlite3'}?mode=ro", uri=True)
    try:
        stored = {int(m.group(1)) for (name,) in conn.execute("SELECT name FROM hosts")
                  if (m := re.match(r"e(\d+)\.drain-tracker\.example$", name))}
    finally:
        conn.close()
    assert acknowledged <= stored, sorted(acknowledged - stored)[:10]
    unanswered = stored - acknowledged  # committed, but the client never had its 200: it would resend
    assert not unanswered, f"{len(unanswered)} stored events never acknowledged, e.g. {sorted(unanswered)[:3]}"


def test_after_sigkill_the_stale_address_file_is_ignored_and_a_new_serve_starts(serve, tmp_path):
    data = tmp_path / "data"
    s = serve()
    s.stop(signal.SIGKILL)
    assert address_path(data).exists()  # left behind by the killed process...
    assert running(data) is None  # ...but nobody holds the lock, so it does not count
    again = serve()
    assert running(data).port == again.port != 0
    assert lock_path(data).read_text().strip() == str(again.proc.pid)


def test_open_print_and_pair_use_the_running_companions_port(serve, tmp_path):
    data = tmp_path / "data"
    s = serve()
    link = crumbs("open", "--print", data_dir=data).stdout.strip().splitlines()[0]
    assert link.startswith(f"{s.base}/signin/")
    signed = requests.get(link, timeout=10, allow_redirects=False)
    assert signed.status_code == 200 and f"{COOKIE}=" in signed.headers.get("Set-Cookie", "")
    assert f"port {s.port}" in crumbs("pair", data_dir=data).stdout
    # --port still wins.
    assert crumbs("open", "--print", "--port", "9", data_dir=data).stdout.startswith("http://127.0.0.1:9/signin/")


def test_open_without_a_running_companion_says_so(tmp_path):
    (tmp_path / "data").mkdir()  # a folder the person made: a named one that does not exist is refused
    done = crumbs("open", "--print", data_dir=tmp_path / "data")
    assert done.stdout.startswith("http://127.0.0.1:8737/signin/")
    assert "no companion is running" in done.stderr


def test_pairing_code_is_printed_only_while_no_browser_holds_the_token(serve, tmp_path):
    data = tmp_path / "data"
    s = serve()
    code = re.search(r"code (\d{4}) (\d{4})", s.text)
    assert code, s.text
    paired = requests.post(f"{s.base}/api/v1/pair", json={"code": code.group(1) + code.group(2)},
                           headers={"Origin": "moz-extension://0c3d4b1a-1111-4222-8333-123456789abc"}, timeout=10)
    assert paired.ok
    s.stop()
    again = serve()
    assert not re.search(r"code \d{4} \d{4}", again.text) and "paired already" in again.text
    again.stop()
    # A new token means every browser must pair again: the code is back.
    crumbs("token", "--rotate", data_dir=data)
    third = serve()
    assert re.search(r"code \d{4} \d{4}", third.text)


def test_an_authenticated_call_from_an_extension_counts_as_paired(serve, tmp_path):
    data = tmp_path / "data"
    s = serve()
    token = crumbs("token", data_dir=data).stdout.strip()
    # A script with the token (no extension Origin) does not make the browser paired...
    assert requests.get(f"{s.base}/api/v1/choices", headers={"Authorization": f"Bearer {token}"}, timeout=10).ok
    s.stop()
    s = serve()
    assert re.search(r"code \d{4} \d{4}", s.text)
    # ...an extension's call does (it got the token some other way: storage keys, native host).
    origin = "chrome-extension://" + (Path(__file__).parents[1] / "extension" / "EXTENSION_ID").read_text().strip()
    assert requests.get(f"{s.base}/api/v1/choices", headers={"Authorization": f"Bearer {token}", "Origin": origin},
                        timeout=10).ok
    s.stop()
    assert "paired already" in serve().text


def test_serve_unlocks_even_when_it_cannot_listen(tmp_path):
    import socket

    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "companion", "serve", "--port", str(port), "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "cannot listen" in done.stderr and "Traceback" not in done.stderr
    assert running(data) is None and not address_path(data).exists()
    assert os.access(lock_path(data), os.F_OK)


# -- one owner: a command's writes go through the running companion, or hold the lock (issue 15) --


def _api(s: Serve, method: str, path: str, **kwargs) -> requests.Response:
    token = (s.data_dir / "token").read_text().strip()
    return requests.request(method, f"{s.base}/api/v1{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=10, **kwargs)


def test_choices_from_the_terminal_are_made_by_the_running_companion(serve, tmp_path):
    s = serve()
    before = _api(s, "GET", "/dnr").json()["version"]
    crumbs("block", "tracker.example", "--on", "news.example", data_dir=s.data_dir)
    crumbs("trust", "shop.example", "--for", "day", data_dir=s.data_dir)
    listed = _api(s, "GET", "/choices").json()
    assert {(c["site"], c["tracker"], c["action"]) for c in listed["site_tracker"]} == {
        ("news.example", "tracker.example", "block")}
    assert [c["site"] for c in listed["trusted"]] == ["shop.example"]
    # The server made the change itself: its browser rules moved on at once, no batch needed.
    assert _api(s, "GET", "/dnr").json()["version"] != before
    shown = crumbs("choices", data_dir=s.data_dir).stdout
    assert "block  tracker.example  on news.example" in shown and "trust  shop.example" in shown


def test_lists_from_the_terminal_are_fetched_by_the_running_companion(serve, tmp_path, list_server, small_list):
    list_server.serve_list("/mine.txt", small_list.encode())
    s = serve()
    done = crumbs("lists", "add", list_server.url("/mine.txt"), "--name", "mine", "--allow-http", data_dir=s.data_dir)
    assert "added mine:" in done.stdout and "filters in use" in done.stdout
    mine = _api(s, "GET", "/lists/mine").json()["list"]
    assert mine["in_force"] and mine["used"] >= 1
    assert list_server.hits["/mine.txt"] == 1
    assert "mine: disabled" in crumbs("lists", "disable", "mine", data_dir=s.data_dir).stdout
    assert _api(s, "GET", "/lists/mine").json()["list"]["enabled"] is False
    assert "mine: removed" in crumbs("lists", "remove", "mine", data_dir=s.data_dir).stdout
    assert _api(s, "GET", "/lists/mine").status_code == 404
    refused = crumbs("lists", "remove", "mine", data_dir=s.data_dir, check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr and "mine" in refused.stderr


def test_a_local_file_list_waits_for_the_companion_to_stop(serve, tmp_path, small_list):
    s = serve()
    path = tmp_path / "mine.txt"
    path.write_text(small_list)
    refused = crumbs("lists", "add", str(path), data_dir=s.data_dir, check=False)
    assert refused.returncode != 0 and "stop it and run this again" in refused.stderr
    assert "Traceback" not in refused.stderr
    s.stop()
    assert "added mine" in crumbs("lists", "add", str(path), data_dir=s.data_dir).stdout


def test_pair_asks_the_running_companion_for_a_code_that_works(serve, tmp_path):
    s = serve()
    code = re.search(r"Pairing code: (\d{4}) (\d{4})", crumbs("pair", data_dir=s.data_dir).stdout)
    answer = requests.post(f"{s.base}/api/v1/pair", json={"code": code.group(1) + code.group(2)},
                           headers={"Origin": "moz-extension://0b6c5f4e-1d2a-4a7b-9d3e-5f6a7b8c9d0e"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["token"] == (s.data_dir / "token").read_text().strip()
    # An extension holding the token cannot mint codes for other browsers.
    minted = requests.post(f"{s.base}/api/v1/pairing-code", timeout=10, headers={
        "Authorization": "Bearer " + (s.data_dir / "token").read_text().strip(),
        "Origin": "moz-extension://0b6c5f4e-1d2a-4a7b-9d3e-5f6a7b8c9d0e"})
    assert minted.status_code == 403 and minted.headers["Content-Type"].startswith("application/json")


def test_a_command_writing_with_no_companion_holds_the_folder_until_it_ends(serve, tmp_path, list_server):
    data = tmp_path / "data"
    data.mkdir()  # a folder the person made: a named one that does not exist is refused
    crumbs("choices", data_dir=data)  # the folder holds a database, no companion runs
    body = b"! Title: slow\n" + b"".join(b"||slow%d.example^\n" % i for i in range(50))

    def slow(h) -> None:  # a list that takes three seconds to arrive, whole
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[:20])
        h.wfile.flush()
        time.sleep(3)
        h.wfile.write(body[20:])

    list_server.routes["/slow.txt"] = slow
    adding = subprocess.Popen([sys.executable, "-m", "companion", "lists", "add", list_server.url("/slow.txt"),
                               "--name", "slow", "--allow-http", "--data-dir", str(data)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if lock_path(data).exists() and "lists add" in lock_path(data).read_text():
                break
            time.sleep(0.05)
        assert "lists add" in lock_path(data).read_text()
        other = crumbs("block", "tracker.example", data_dir=data, check=False)
        assert other.returncode != 0 and "'crumbs lists add'" in other.stderr and "try again" in other.stderr
        s = serve(data)  # waits for the command, then starts
        assert adding.wait(timeout=60) == 0, adding.stderr.read()
        assert _api(s, "GET", "/lists/slow").json()["list"]["in_force"]
    finally:
        if adding.poll() is None:
            adding.kill()
        adding.stdout.close()
        adding.stderr.close()
