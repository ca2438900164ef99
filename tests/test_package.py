"""Crumbs as a real package: the wheel works outside the checkout, the extension's identity is one
constant everywhere, and the store packages of the extension are what each store expects.

The wheel test is slow (it builds the wheel and installs it with its dependencies into a fresh
virtualenv outside the checkout), and runs in CI like every other test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest
import requests

from companion.resources import EXTENSION_ID, GECKO_ID, NATIVE_HOST_NAME

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
WEB_EXT = ROOT / "node_modules" / ".bin" / "web-ext"

sys.path.insert(0, str(ROOT / "tools"))
import extension_zips  # noqa: E402


def chromium_id_of(public_key_b64: str) -> str:
    """Chromium's extension id: the first 128 bits of SHA-256 of the public key, as letters a-p."""
    digest = hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


# -- identity -------------------------------------------------------------------------------------------


def test_the_extension_id_constant_matches_the_extension_and_its_manifest_key():
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    assert EXTENSION_ID == (EXTENSION / "EXTENSION_ID").read_text().strip()
    assert EXTENSION_ID == chromium_id_of(manifest["key"])
    assert GECKO_ID == manifest["browser_specific_settings"]["gecko"]["id"]
    assert f"export const HOST_NAME = '{NATIVE_HOST_NAME}';" in (EXTENSION / "src" / "native.js").read_text()
    assert "nativeMessaging" in manifest["permissions"]


# -- the store packages ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    return extension_zips.build(tmp_path_factory.mktemp("dist"))


def test_chromium_zip_keeps_the_key_and_runs_a_service_worker(zips):
    chromium, _ = zips
    with zipfile.ZipFile(chromium) as z:
        manifest = json.loads(z.read("manifest.json"))
        names = set(z.namelist())
    assert chromium_id_of(manifest["key"]) == EXTENSION_ID
    assert manifest["background"] == {"service_worker": "src/background.js", "type": "module"}
    assert "browser_specific_settings" not in manifest
    assert {"src/background.js", "src/native.js", "popup/popup.html", "pairing/pairing.html"} <= names
    assert not [n for n in names if n.startswith("test/") or n.endswith(".md") or n == "EXTENSION_ID"]


def test_firefox_zip_has_no_key_the_gecko_id_and_background_scripts(zips):
    _, firefox = zips
    with zipfile.ZipFile(firefox) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert "key" not in manifest
    assert manifest["browser_specific_settings"]["gecko"]["id"] == GECKO_ID
    assert manifest["background"] == {"scripts": ["src/background.js"], "type": "module"}


def test_zips_are_reproducible(tmp_path, zips):
    again = extension_zips.build(tmp_path)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in zips]


def test_web_ext_lint_finds_no_errors_in_the_firefox_zip(tmp_path, zips):
    assert WEB_EXT.exists(), "web-ext is missing: `make dist` (or `npm ci`) installs it into node_modules"
    source = tmp_path / "firefox"
    with zipfile.ZipFile(zips[1]) as z:
        z.extractall(source)
    done = subprocess.run([str(WEB_EXT), "lint", "--source-dir", str(source), "--output", "json", "--no-input"],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["summary"]["errors"] == 0, report["errors"]
    assert done.returncode == 0


# -- the wheel, installed where the checkout is nowhere near ------------------------------------------


def crumbs_exe(env_dir: Path) -> Path:
    return env_dir / "bin" / "crumbs"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Build the wheel from this checkout, and pip-install it (with its dependencies) into a fresh venv."""
    build = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(build / "dist"), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = (build / "dist").glob("crumbs-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert {"companion/_rules/trackers.json", "companion/_rules/crumbs-trackers.txt",
            "companion/web/templates/base.html", "companion/web/static/history.css"} <= names
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    done = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return env_dir


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    folder = tmp_path / "somewhere-else"
    folder.mkdir()
    (folder / "rules").mkdir()  # a folder named like the checkout's must not be read either
    return folder


def run(env_dir: Path, cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(crumbs_exe(env_dir)), *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)}, **kw)


@pytest.mark.slow
def test_installed_wheel_checks_serves_and_signs_in_from_another_folder(installed, elsewhere, tmp_path):
    data = tmp_path / "data"
    # The package must come from the venv, never from this checkout.
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import companion; print(companion.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, timeout=60).stdout
    assert where.startswith(str(installed)) and str(ROOT) not in where

    data.mkdir()  # a folder the person made: a named one that does not exist is refused
    done = run(installed, elsewhere, "check", "https://www.google-analytics.com/analytics.js",
               "--page", "https://news.example/", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "=> BLOCKED (decided by list-default)" in done.stdout and "Google" in done.stdout

    proc = subprocess.Popen([str(crumbs_exe(installed)), "serve", "--port", "0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=elsewhere,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(elsewhere)})
    try:
        banner = ""
        deadline = time.monotonic() + 60
        while "Ctrl+C" not in banner and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            banner += line
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", banner).group(1))
        assert "crumbs-trackers.txt" in banner
        health = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
        assert health.ok and health.json()["status"] == "ok"

        done = run(installed, elsewhere, "open", "--print", "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
        link = done.stdout.strip().splitlines()[0]
        assert link.startswith(f"http://127.0.0.1:{port}/signin/")
        signed = requests.get(link, timeout=10)
        assert signed.status_code == 200 and "crumbs_session=" in signed.headers.get("Set-Cookie", "")
        history = requests.get(f"http://127.0.0.1:{port}/", cookies=signed.cookies, timeout=10)
        assert history.status_code == 200 and "history.css" in history.text  # templates and static files shipped
        assert requests.get(f"http://127.0.0.1:{port}/static/history.css", timeout=10).status_code == 200

        # The native messaging host of the installed package finds this companion (no second one started).
        done = run(installed, elsewhere, "setup", "--browser", "chromium", "--profile-dir", str(tmp_path / "profile"),
                   "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
        launcher = data / "native-host" / "crumbs-native-host"
        assert str(installed / "bin" / "python") in launcher.read_text()
        request = json.dumps({"type": "companion"}).encode()
        answer = subprocess.run([str(launcher), f"chrome-extension://{EXTENSION_ID}/"], cwd=elsewhere, timeout=60,
                                input=struct.pack("=I", len(request)) + request, capture_output=True)
        assert answer.returncode == 0, answer.stderr
        reply = json.loads(answer.stdout[4:])
        assert reply["ok"] and reply["companion"] == f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


@pytest.mark.slow
def test_installed_wheel_with_damaged_rules_says_so_in_one_line(installed, elsewhere, tmp_path):
    import companion  # noqa: F401 - only to find the installed copy's path below

    site = next((installed / "lib").glob("python3*/site-packages"))
    rules = site / "companion" / "_rules"
    backup = tmp_path / "rules-backup"
    shutil.copytree(rules, backup)
    try:
        (rules / "trackers.json").write_text("{ not json")
        (tmp_path / "data").mkdir()  # a data folder that exists (a mistyped one is refused before the rules are read)
        done = run(installed, elsewhere, "check", "https://x.example/", "--page", "https://y.example/",
                   "--data-dir", str(tmp_path / "data"))
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "trackers.json" in done.stderr
        shutil.rmtree(rules)
        for command in (["check", "https://x.example/", "--page", "https://y.example/"], ["lists"]):
            done = run(installed, elsewhere, *command, "--data-dir", str(tmp_path / "data"))
            assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    finally:
        shutil.rmtree(rules, ignore_errors=True)
        shutil.copytree(backup, rules)
