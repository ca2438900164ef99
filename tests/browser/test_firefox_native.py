"""Native messaging end to end in Firefox (Debian's firefox-esr, driven over BiDi as in test_firefox.py):
the store package dist/crumbs-firefox.zip installed fresh, `crumbs setup --browser firefox` run with HOME
pointed at a temporary folder (so ~/.mozilla/native-messaging-hosts is the test's own), and nobody
starts the companion or types a code.

Observed from outside the extension (BiDi cannot evaluate in a moz-extension:// page that the extension
did not open itself, and with the host it opens no pairing page): the companion the browser started (its
lock, address file and log), the companion receiving the extension's authenticated calls (it records the
browser as paired) and recording the page's third parties, which only a paired extension can report.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile

import pytest
import requests

from companion.auth import PAIRED_SETTING, paired_mark
from companion.instance import running

from .conftest import ROOT, wait_for
from .firefox import FAKE_HOSTS, FIREFOX, Firefox, Tunnel, new_uuid, profile_prefs

pytestmark = pytest.mark.browser

sys.path.insert(0, str(ROOT / "tools"))
import extension_zips  # noqa: E402


def test_firefox_pairs_through_the_native_host_from_the_store_package(tmp_path, web, monkeypatch):
    assert shutil.which(FIREFOX), f"{FIREFOX} is missing: `make firefox` installs Debian's firefox-esr"
    home, data = tmp_path / "home", tmp_path / "data"
    (home / ".mozilla").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))  # for `crumbs setup` below and for Firefox (it copies os.environ)
    done = subprocess.run([sys.executable, "-m", "companion", "setup", "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    host_manifest = home / ".mozilla" / "native-messaging-hosts" / "org.crumbs.companion.json"
    assert str(host_manifest) in done.stdout
    assert "skipped chromium, chrome" in done.stdout  # --browser all: only browsers this HOME has
    assert json.loads(host_manifest.read_text())["allowed_extensions"] == ["crumbs@crumbs.local"]
    assert running(data) is None

    _, firefox_zip = extension_zips.build(tmp_path / "dist")
    with zipfile.ZipFile(firefox_zip) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert "key" not in manifest and manifest["background"] == {"scripts": ["src/background.js"], "type": "module"}

    ext_uuid = new_uuid()
    tunnel = Tunnel(web["http"].port, web["https"].port)
    prefs = profile_prefs(FAKE_HOSTS, tunnel, ext_uuid)
    ff = None
    try:
        ff = Firefox(tmp_path / "profile", prefs, tmp_path / "firefox.log")
        ff.send("webExtension.install", {"extensionData": {"type": "archivePath", "path": str(firefox_zip)}})

        found = wait_for(lambda: running(data), timeout=60, what="the browser to start the companion")
        assert "started by the native messaging host" in (data / "companion.log").read_text()
        token = (data / "token").read_text().strip()
        auth = {"Authorization": f"Bearer {token}"}

        # The extension calls the companion with the token it got from the host: the companion notes an
        # authenticated call from an extension origin. Only then does the extension report (before it
        # holds a token nobody asked for reports): the page is loaded after that, not in a race with it.
        def holds_token() -> bool:
            conn = sqlite3.connect(f"file:{data / 'crumbs.sqlite3'}?mode=ro", uri=True)
            try:
                row = conn.execute("SELECT value FROM settings WHERE key = ?", (PAIRED_SETTING,)).fetchone()
            finally:
                conn.close()
            return row is not None and row[0] == paired_mark(token)

        wait_for(holds_token, timeout=60, what="the extension to call the companion with the token")
        ctx = ff.new_tab()
        ff.navigate(ctx, "http://news.example/article")
        wait_for(lambda: ff.evaluate(ctx, "window.done === true"), what="the page to load")

        def reported():
            r = requests.get(f"{found.address}/api/v1/sites/news.example", headers=auth, timeout=5)
            return r.ok and {t["domain"] for t in r.json()["third_parties"]} >= {"google-analytics.com", "widgets.test"}

        wait_for(reported, timeout=60, what="the page's third parties reported by the extension")
        from companion.service import Companion

        companion = Companion(data, with_engine=False)
        try:
            assert companion.token == token and companion.is_paired()
        finally:
            companion.close()
        # No pairing page was opened: nothing had to be typed.
        assert not [c for c in ff.contexts() if c["url"].startswith(f"moz-extension://{ext_uuid}/pairing")]
    finally:
        if ff is not None:
            ff.close()
        tunnel.close()
        left = running(data)
        if left is not None:
            os.kill(left.pid, signal.SIGTERM)
            wait_for(lambda: running(data) is None, what="the companion to stop")
