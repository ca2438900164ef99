"""Native messaging end to end in Chromium: `crumbs setup` registered the host in the browser's user data
folder, the store package (dist/crumbs-chromium.zip) is installed fresh, and nobody starts the companion
or types a code.

What is observed: the companion process the browser started (its lock, address file and log in the data
folder), the extension's stored pairing, the badge status, and the companion's records of pages loaded
before, during and after a SIGKILL of the companion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from companion.instance import running

from .conftest import CHROMIUM, EXTENSION_ID, ROOT, wait_for

pytestmark = pytest.mark.browser

sys.path.insert(0, str(ROOT / "tools"))
import extension_zips  # noqa: E402


def crumbs(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def recorded_sites(found, token: str, site: str) -> set[str]:
    r = requests.get(f"{found.address}/api/v1/sites/{site}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    return {t["domain"] for t in r.json()["third_parties"]} if r.ok else set()


def kill_companion(data: Path) -> int:
    found = running(data)
    assert found is not None
    os.kill(found.pid, signal.SIGKILL)
    wait_for(lambda: running(data) is None or running(data).pid != found.pid, what="the killed companion to be gone")
    return found.pid


@pytest.fixture
def chromium_zip(tmp_path) -> Path:
    chromium, _ = extension_zips.build(tmp_path / "dist")
    unpacked = tmp_path / "crumbs-chromium"
    with zipfile.ZipFile(chromium) as z:
        z.extractall(unpacked)
    return unpacked


def launch(p, profile: Path, ext: Path, web, env: dict):
    rules = ", ".join([
        f"MAP *:443 127.0.0.1:{web['https'].port}", f"MAP *.example 127.0.0.1:{web['http'].port}",
        f"MAP *.test 127.0.0.1:{web['http'].port}", "MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1",
    ])
    return p.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, env=env,
        ignore_default_args=["--disable-extensions"], ignore_https_errors=True,
        args=[f"--disable-extensions-except={ext}", f"--load-extension={ext}", f"--host-resolver-rules={rules}",
              "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"])


def test_fresh_install_pairs_through_the_host_and_the_companion_comes_back_after_kill(tmp_path, web, chromium_zip):
    from playwright.sync_api import sync_playwright

    profile, data = tmp_path / "profile", tmp_path / "data"
    out = crumbs("setup", "--browser", "chromium", "--profile-dir", str(profile), "--data-dir", str(data)).stdout
    manifest_path = profile / "NativeMessagingHosts" / "org.crumbs.companion.json"
    assert str(manifest_path) in out
    assert running(data) is None  # nothing runs yet: the browser must start it

    # CRUMBS_HOME in the browser's environment points elsewhere: the launcher's --data-dir, written by
    # setup, is what decides (the companion must be the one `crumbs --data-dir DATA` commands see).
    env = {**os.environ, "CRUMBS_HOME": str(tmp_path / "not-this-one")}
    with sync_playwright() as p:
        ctx = launch(p, profile, chromium_zip, web, env)
        try:
            sw = ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker", timeout=15000)
            assert sw.url == f"chrome-extension://{EXTENSION_ID}/src/background.js"
            sw.evaluate("self.crumbs.ready")

            # Paired with no code typed, by a companion the browser started.
            wait_for(lambda: sw.evaluate("self.crumbs.status()") == "ok", timeout=60,
                     what="the extension to pair through the native host")
            found = running(data)
            token = (data / "token").read_text().strip()
            stored = sw.evaluate("chrome.storage.local.get(['companion', 'token'])")
            assert stored == {"companion": found.address, "token": token}
            assert "started by the native messaging host" in (data / "companion.log").read_text()
            assert not (tmp_path / "not-this-one").exists()
            # No pairing page was opened: there was nothing to type.
            assert not [pg for pg in ctx.pages if "pairing.html" in pg.url]

            page = ctx.new_page()
            page.goto("http://before.example/")
            page.wait_for_function("window.done === true")
            wait_for(lambda: "google-analytics.com" in recorded_sites(running(data), token, "before.example"),
                     what="the first page's reports")

            # Killed while pages keep reporting: started again within 30 s, and nothing reported is lost.
            old_pid = kill_companion(data)
            killed_at = time.monotonic()
            page.goto("http://during.example/")
            page.wait_for_function("window.done === true")
            again = wait_for(lambda: (r := running(data)) and r.pid != old_pid and r, timeout=30,
                             what="the companion to be started again")
            assert time.monotonic() - killed_at < 30
            wait_for(lambda: {"google-analytics.com", "doubleclick.net", "facebook.net", "widgets.test"}
                     <= recorded_sites(running(data), token, "during.example"), timeout=30,
                     what="the reports made while the companion was down")
            wait_for(lambda: sw.evaluate("self.crumbs.status()") == "ok", what="the badge back on")
            assert sw.evaluate("self.crumbs.reporter.queue.dropped") == 0

            # Killed while the browser is idle: the extension's watch notices and has it started again.
            old_pid = kill_companion(data)
            killed_at = time.monotonic()
            wait_for(lambda: (r := running(data)) and r.pid != old_pid and r, timeout=30,
                     what="the companion to be started again with no page open")
            assert time.monotonic() - killed_at < 30
            assert again.address.startswith("http://127.0.0.1:")
        finally:
            ctx.close()
            found = running(data)
            if found is not None:
                os.kill(found.pid, signal.SIGTERM)
                wait_for(lambda: running(data) is None, what="the companion to stop")


def test_the_host_manifest_names_only_crumbs_and_setup_remove_undoes_it(tmp_path):
    profile, data = tmp_path / "profile", tmp_path / "data"
    crumbs("setup", "--browser", "chromium", "--profile-dir", str(profile), "--data-dir", str(data))
    manifest_path = profile / "NativeMessagingHosts" / "org.crumbs.companion.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["allowed_origins"] == [f"chrome-extension://{EXTENSION_ID}/"]
    assert "allowed_extensions" not in manifest
    assert Path(manifest["path"]).is_file()
    crumbs("setup", "--browser", "chromium", "--profile-dir", str(profile), "--data-dir", str(data), "--remove")
    assert not manifest_path.exists() and not Path(manifest["path"]).exists()


def test_a_web_page_cannot_reach_the_native_host(tmp_path, web, chromium_zip):
    """The extension has no externally_connectable: a page has no chrome.runtime to message it with, and no
    sendNativeMessage at all; so it can neither get the token nor start the companion. The only resources a
    page may load from the extension are the stand-in scripts, which run in the page with no extension API."""
    from playwright.sync_api import sync_playwright

    profile, data = tmp_path / "profile", tmp_path / "data"
    crumbs("setup", "--browser", "chromium", "--profile-dir", str(profile), "--data-dir", str(data))
    manifest = json.loads((chromium_zip / "manifest.json").read_text())
    assert "externally_connectable" not in manifest
    exposed = [r for entry in manifest.get("web_accessible_resources", []) for r in entry["resources"]]
    assert all(r.startswith("surrogates/") and r.endswith(".js") for r in exposed), exposed
    with sync_playwright() as p:
        ctx = launch(p, profile, chromium_zip, web, dict(os.environ))
        try:
            sw = ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker", timeout=15000)
            wait_for(lambda: sw.evaluate("self.crumbs.status()") == "ok", timeout=60, what="pairing via the host")
            page = ctx.new_page()
            page.goto("http://evil.example/")
            page.wait_for_function("window.done === true")
            reach = page.evaluate("""() => ({
                runtime: typeof (window.chrome && window.chrome.runtime),
                native: typeof (window.chrome && window.chrome.runtime && window.chrome.runtime.sendNativeMessage),
            })""")
            assert reach == {"runtime": "undefined", "native": "undefined"}
        finally:
            ctx.close()
            found = running(data)
            if found is not None:
                os.kill(found.pid, signal.SIGTERM)
                wait_for(lambda: running(data) is None, what="the companion to stop")
