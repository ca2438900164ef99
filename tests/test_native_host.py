"""The native messaging host and `crumbs setup`, without a browser: the launcher setup writes is run the
way a browser runs it (argv, framed stdin/stdout), against real companion processes.

Browser end to end: tests/browser/test_native.py (Chromium) and test_firefox_native.py (Firefox).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from companion import hostsetup, native_host
from companion.instance import running
from companion.resources import EXTENSION_ID, GECKO_ID, NATIVE_HOST_NAME

ORIGIN = f"chrome-extension://{EXTENSION_ID}/"


def frame(message) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack("=I", len(body)) + body


def unframe(raw: bytes) -> list[dict]:
    out = []
    while raw:
        (n,) = struct.unpack("=I", raw[:4])
        out.append(json.loads(raw[4:4 + n]))
        raw = raw[4 + n:]
    return out


def setup_cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}
    env.pop("CRUMBS_HOME", None)
    return subprocess.run([sys.executable, "-m", "companion", "setup", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def run_host(launcher: Path, stdin: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(launcher), *args], input=stdin, capture_output=True, timeout=90)


@pytest.fixture
def stop_companions():
    roots: list[Path] = []
    yield roots
    for root in roots:
        found = running(root)
        if found is not None:
            os.kill(found.pid, signal.SIGTERM)
            for _ in range(100):
                if running(root) is None:
                    break
                threading.Event().wait(0.1)


# -- framing -------------------------------------------------------------------------------------------


def test_frames_are_native_endian_length_then_utf8_json_both_ways():
    out = io.BytesIO()
    native_host.write_message(out, {"é": "ü"})
    raw = out.getvalue()
    assert struct.unpack("=I", raw[:4])[0] == len(raw) - 4
    assert json.loads(raw[4:].decode("utf-8")) == {"é": "ü"}
    stream = io.BytesIO(frame({"type": "companion"}) + frame({"a": 1}))
    assert native_host.read_message(stream) == {"type": "companion"}
    assert native_host.read_message(stream) == {"a": 1}
    assert native_host.read_message(stream) is None


@pytest.mark.parametrize("raw, why", [
    (struct.pack("=I", native_host.MAX_IN + 1) + b"{}", "limit"),
    (struct.pack("=I", 10) + b"{}", "ended"),
    (struct.pack("=I", 2) + b"\xff\xfe", "UTF-8 JSON"),
    (frame([1, 2]), "object"),
    (b"\x01\x00", "ended"),
])
def test_bad_frames_are_refused(raw, why):
    with pytest.raises(native_host.ProtocolError, match=why):
        native_host.read_message(io.BytesIO(raw))


# -- setup ----------------------------------------------------------------------------------------------


def test_setup_writes_private_manifests_naming_only_crumbs_and_remove_undoes_it(tmp_path):
    home, data = tmp_path / "home", tmp_path / "data"
    for folder in (".config/chromium", ".config/google-chrome", ".mozilla"):
        (home / folder).mkdir(parents=True)
    done = setup_cli("--data-dir", str(data), home=home)
    assert done.returncode == 0, done.stderr
    launcher = data / "native-host" / "crumbs-native-host"
    manifests = {
        "chromium": home / ".config/chromium/NativeMessagingHosts" / f"{NATIVE_HOST_NAME}.json",
        "chrome": home / ".config/google-chrome/NativeMessagingHosts" / f"{NATIVE_HOST_NAME}.json",
        "firefox": home / ".mozilla/native-messaging-hosts" / f"{NATIVE_HOST_NAME}.json",
    }
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o700
    assert f"--data-dir {data.resolve()}" in launcher.read_text()
    for browser, path in manifests.items():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, browser
        body = json.loads(path.read_text())
        assert body["name"] == NATIVE_HOST_NAME and body["type"] == "stdio" and body["path"] == str(launcher)
        if browser == "firefox":
            assert body["allowed_extensions"] == [GECKO_ID] and "allowed_origins" not in body
        else:
            assert body["allowed_origins"] == [ORIGIN] and "allowed_extensions" not in body
    # A manifest of some other program in the same folder is not ours to touch.
    other = manifests["chromium"].with_name("com.other.host.json")
    other.write_text(json.dumps({"name": "com.other.host"}))

    # Removing one browser keeps the launcher the others still use...
    assert setup_cli("--browser", "chrome", "--remove", "--data-dir", str(data), home=home).returncode == 0
    assert not manifests["chrome"].exists() and launcher.exists() and manifests["firefox"].exists()
    # ...removing all leaves nothing of ours behind.
    done = setup_cli("--remove", "--data-dir", str(data), home=home)
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in manifests.values())
    assert not manifests["firefox"].parent.exists() and not manifests["chrome"].parent.exists()
    assert manifests["chromium"].parent.exists()  # another program's manifest is still in there
    assert not launcher.exists() and not launcher.parent.exists()
    assert other.exists()


def test_setup_all_skips_browsers_this_user_does_not_have_and_says_so(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    done = setup_cli("--data-dir", str(tmp_path / "data"), home=home)
    assert done.returncode != 0 and "no browser found" in done.stderr and "Traceback" not in done.stderr
    assert not (home / ".mozilla").exists() and not (home / ".config").exists()
    done = setup_cli("--browser", "firefox", "--data-dir", str(tmp_path / "data"), home=home)
    assert done.returncode == 0 and (home / ".mozilla/native-messaging-hosts" / f"{NATIVE_HOST_NAME}.json").exists()


def test_setup_profile_dir_is_for_chromium_only(tmp_path):
    done = setup_cli("--browser", "firefox", "--profile-dir", str(tmp_path / "p"), "--data-dir", str(tmp_path / "d"),
                     home=tmp_path)
    assert done.returncode != 0 and "Firefox" in done.stderr and "Traceback" not in done.stderr


# -- the host -------------------------------------------------------------------------------------------


@pytest.fixture
def launcher(tmp_path) -> Path:
    report = hostsetup.install(["chromium"], tmp_path / "data", profile_dir=tmp_path / "profile")
    return report.written[0]


def test_host_starts_one_detached_companion_and_answers_its_address_and_token(launcher, tmp_path, stop_companions):
    data = tmp_path / "data"
    stop_companions.append(data)
    done = run_host(launcher, frame({"type": "companion"}), ORIGIN)
    assert done.returncode == 0, done.stderr
    (answer,) = unframe(done.stdout)
    found = running(data)
    assert answer == {"ok": True, "companion": found.address, "token": (data / "token").read_text().strip(),
                      "version": answer["version"]}
    # Detached: its own session, not the host's (the browser kills the host after the answer).
    assert os.getsid(found.pid) == found.pid
    log = data / "companion.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE((data / "token").stat().st_mode) == 0o600

    # The browser holds the token now: a companion started later prints no pairing code.
    from companion.service import Companion

    companion = Companion(data, with_engine=False)
    try:
        assert companion.token == answer["token"] and companion.is_paired()
    finally:
        companion.close()

    # Asked again: the same companion, none started.
    (again,) = unframe(run_host(launcher, frame({"type": "companion"}), ORIGIN).stdout)
    assert again["companion"] == found.address and running(data).pid == found.pid
    assert log.read_text().count("started by the native messaging host") == 1


def test_two_hosts_at_once_start_exactly_one_companion(launcher, tmp_path, stop_companions):
    data = tmp_path / "data"
    stop_companions.append(data)
    results = []

    def ask():
        results.append(run_host(launcher, frame({"type": "companion"}), ORIGIN))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers = [unframe(r.stdout)[0] for r in results]
    assert all(a["ok"] for a in answers) and len({a["companion"] for a in answers}) == 1
    assert (data / "companion.log").read_text().count("started by the native messaging host") == 1


def test_host_uses_a_companion_started_by_hand(launcher, tmp_path, stop_companions):
    data = tmp_path / "data"
    stop_companions.append(data)
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve", "--port", "0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while "Ctrl+C" not in proc.stdout.readline():
            pass
        (answer,) = unframe(run_host(launcher, frame({"type": "companion"}), ORIGIN).stdout)
        assert answer["ok"] and answer["companion"] == running(data).address and running(data).pid == proc.pid
        assert not (data / "companion.log").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_host_refuses_another_extension_oversized_messages_and_unknown_requests(launcher, tmp_path):
    done = run_host(launcher, frame({"type": "companion"}), "chrome-extension://abcdefghijklmnopabcdefghijklmnop/")
    assert done.returncode != 0 and done.stdout == b"" and b"refusing" in done.stderr
    assert running(tmp_path / "data") is None
    done = run_host(launcher, frame({"type": "companion"}), "/x/org.crumbs.companion.json", "other@addon.example")
    assert done.returncode != 0 and done.stdout == b"" and b"refusing" in done.stderr
    assert running(tmp_path / "data") is None
    done = run_host(launcher, struct.pack("=I", 10 * 1024 * 1024) + b"{", ORIGIN)
    assert done.returncode != 0 and done.stdout == b"" and b"limit" in done.stderr
    done = run_host(launcher, frame({"type": "token please"}), ORIGIN)
    (answer,) = unframe(done.stdout)
    assert answer["ok"] is False and "unknown request" in answer["error"] and "token" not in answer
    assert running(tmp_path / "data") is None


def test_setup_makes_a_new_data_folder_and_remove_does_not(tmp_path):
    # setup binds the host to a folder before any companion ran there (the host's serve fills it); --remove
    # reads nothing in it, so a folder deleted since, or mistyped, is not made just to be emptied.
    home, data = tmp_path / "home", tmp_path / "new-data"
    (home / ".mozilla").mkdir(parents=True)
    done = setup_cli("--browser", "firefox", "--data-dir", str(data), home=home)
    assert done.returncode == 0, done.stderr
    assert (data / "native-host").is_dir()
    shutil.rmtree(data)
    done = setup_cli("--remove", "--data-dir", str(data), home=home)
    assert done.returncode == 0, done.stderr
    assert "removed" in done.stdout and not (home / ".mozilla/native-messaging-hosts" / f"{NATIVE_HOST_NAME}.json").exists()
    assert not data.exists()
