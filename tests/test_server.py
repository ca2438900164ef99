"""The real companion process, over real HTTP on a free port: `crumbs serve` as a person runs it."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

NEWS = "https://www.news.example/"
GA = "https://www.google-analytics.com/analytics.js"


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.banner = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited: " + self.proc.stderr.read())
            self.banner.append(line)
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                break
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = cli("token", "--data-dir", str(data_dir)).strip()
        self.auth = {"Authorization": f"Bearer {self.token}"}
        while "Ctrl+C" not in self.banner[-1]:  # the banner ends with how to stop it
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line)

    def events(self, events):
        return requests.post(f"{self.base}/api/v1/events", json={"events": events}, headers=self.auth, timeout=30)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc.stdout.close()
        self.proc.stderr.close()


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data")
    yield s
    s.stop()


def test_serve_prints_where_it_listens_its_data_and_how_to_pair(server):
    text = "".join(server.banner)
    assert f"listening on http://127.0.0.1:{server.port}" in text
    assert str(server.data_dir.resolve()) in text
    assert re.search(r"code \d{4} \d{4}", text)


def test_listens_on_loopback_only(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    other = [a for a in {i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
             if not a.startswith("127.")]
    for address in other:
        with pytest.raises(OSError):
            socket.create_connection((address, server.port), timeout=2).close()


def test_real_http_refusals_and_a_mixed_batch(server):
    assert requests.get(f"{server.base}/api/v1/health", timeout=10).json()["status"] == "ok"
    r = requests.post(f"{server.base}/api/v1/events", json={"events": []}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]
    # A foreign Host header, as a DNS-rebinding page would send.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/v1/choices", headers={**server.auth, "Host": f"attacker.example:{server.port}"})
    answer = conn.getresponse()
    assert answer.status == 403 and b"error" in answer.read()
    conn.close()
    r = requests.post(f"{server.base}/api/v1/events", data=b'{"events": [', timeout=10,
                      headers={**server.auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = server.events([{"url": GA, "page_url": NEWS, "type": "script"}, {"url": None}, {"url": "https://cdn.example/a.js",
                                                                                       "page_url": NEWS}])
    assert r.status_code == 200
    assert [x["ok"] for x in r.json()["results"]] == [True, False, True]
    assert r.json()["results"][0]["verdict"]["owner"] == "Google"


def test_cli_choices_apply_to_the_next_event_without_restart(server):
    def decided():
        return server.events([{"url": GA, "page_url": NEWS, "type": "script"}]).json()["results"][0]["verdict"]

    assert decided()["blocked"] is True
    cli("allow", "google-analytics.com", "--data-dir", str(server.data_dir))
    assert (decided()["blocked"], decided()["decided_by"]) == (False, "tracker-everywhere")
    cli("block", "google-analytics.com", "--on", "news.example", "--data-dir", str(server.data_dir))
    assert (decided()["blocked"], decided()["decided_by"]) == (True, "site-tracker")
    cli("reset", "google-analytics.com", "--on", "news.example", "--data-dir", str(server.data_dir))
    cli("reset", "google-analytics.com", "--data-dir", str(server.data_dir))
    assert decided()["decided_by"] == "list-default"


def test_a_killed_server_loses_nothing_it_acknowledged(tmp_path):
    server = Server(tmp_path / "data")
    acknowledged = 0
    for i in range(20):
        batch = [{"url": f"https://www.google-analytics.com/collect?n={i}-{j}", "page_url": NEWS, "type": "ping"}
                 for j in range(50)]
        r = server.events(batch)
        assert r.status_code == 200
        acknowledged += sum(x["ok"] for x in r.json()["results"])
    server.stop(signal.SIGKILL)  # no clean shutdown, no chance to flush anything
    restarted = Server(tmp_path / "data")
    try:
        report = requests.get(f"{restarted.base}/api/v1/sites/news.example", headers=restarted.auth, timeout=10).json()
        assert sum(t["requests"] for t in report["third_parties"]) == acknowledged == 1000
    finally:
        restarted.stop()


def test_serve_refuses_a_port_in_use_with_a_message(tmp_path, server):
    done = subprocess.run([sys.executable, "-m", "companion", "serve", "--port", str(server.port), "--data-dir",
                           str(tmp_path / "other")], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "cannot listen" in done.stderr and "Traceback" not in done.stderr


def test_rotating_the_token_locks_out_the_old_one_without_restart(server):
    old = server.auth
    assert requests.get(f"{server.base}/api/v1/choices", headers=old, timeout=10).status_code == 200
    new = cli("token", "--rotate", "--data-dir", str(server.data_dir)).strip()
    assert new != server.token and len(new) >= 43
    assert (server.data_dir / "token").stat().st_mode & 0o777 == 0o600
    assert requests.get(f"{server.base}/api/v1/choices", headers=old, timeout=10).status_code == 401
    fresh = {"Authorization": f"Bearer {new}"}
    assert requests.get(f"{server.base}/api/v1/choices", headers=fresh, timeout=10).status_code == 200
