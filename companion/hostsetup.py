"""Register (and unregister) the native messaging host with the browsers of the current user.

What ``crumbs setup`` writes, and ``crumbs setup --remove`` deletes again:

- a launcher, ``<data folder>/native-host/crumbs-native-host`` (mode 0700, in the 0700 data folder): a
  shell script that runs this Python (``sys.executable``: the venv or pipx environment Crumbs is
  installed in) with ``-I -m companion.native_host --data-dir <data folder>``. The data folder is fixed
  at setup time, so the companion the browser starts is the one ``crumbs`` commands see; ``-I`` keeps
  the browser's working folder and PYTHON* variables out of the import path.
- per browser, the host manifest ``org.crumbs.companion.json`` (mode 0600), naming the launcher and
  only Crumbs' extension: ``allowed_origins: ["chrome-extension://<EXTENSION_ID>/"]`` for Chromium and
  Chrome, ``allowed_extensions: ["crumbs@crumbs.local"]`` for Firefox.

Where the manifests go (per user; the browsers read them at each connection, no restart needed):

============  ==============================================================  ===================================
browser       Linux                                                           macOS
============  ==============================================================  ===================================
chromium      ~/.config/chromium/NativeMessagingHosts                         ~/Library/Application Support/Chromium/NativeMessagingHosts
chrome        ~/.config/google-chrome/NativeMessagingHosts                    ~/Library/Application Support/Google/Chrome/NativeMessagingHosts
firefox       ~/.mozilla/native-messaging-hosts                               ~/Library/Application Support/Mozilla/NativeMessagingHosts
============  ==============================================================  ===================================

A Chromium started with ``--user-data-dir=DIR`` looks in ``DIR/NativeMessagingHosts`` instead (checked by
tests/browser/test_native.py): ``--profile-dir DIR`` writes there. On Windows a manifest is found
through the registry (``HKCU\\Software\\{Chromium|Google\\Chrome|Mozilla}\\NativeMessagingHosts\\
org.crumbs.companion``, default value = the manifest's path) and the launcher is a ``.cmd`` file; that
part is written but not tested here.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .resources import EXTENSION_ID, GECKO_ID, NATIVE_HOST_NAME

BROWSERS = ("chromium", "chrome", "firefox")
LAUNCHER_DIR = "native-host"
MANIFEST_FILE = f"{NATIVE_HOST_NAME}.json"
DESCRIPTION = "Crumbs: starts the local companion and hands its address to the Crumbs extension"

_LINUX = {
    "chromium": (".config/chromium", "NativeMessagingHosts"),
    "chrome": (".config/google-chrome", "NativeMessagingHosts"),
    "firefox": (".mozilla", "native-messaging-hosts"),
}
_MACOS = {
    "chromium": ("Library/Application Support/Chromium", "NativeMessagingHosts"),
    "chrome": ("Library/Application Support/Google/Chrome", "NativeMessagingHosts"),
    "firefox": ("Library/Application Support/Mozilla", "NativeMessagingHosts"),
}
_WINDOWS_KEYS = {
    "chromium": r"Software\Chromium\NativeMessagingHosts",
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts",
    "firefox": r"Software\Mozilla\NativeMessagingHosts",
}


class SetupError(Exception):
    """Setup could not be done; the message is one line for the person."""


@dataclass
class Report:
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def is_chromium_family(browser: str) -> bool:
    return browser in ("chromium", "chrome")


def host_dir(browser: str, profile_dir: Path | None = None, home: Path | None = None) -> Path:
    """The folder a browser reads this user's host manifests from."""
    if browser not in BROWSERS:
        raise SetupError(f"unknown browser {browser!r}: one of {', '.join(BROWSERS)}")
    if profile_dir is not None:
        if not is_chromium_family(browser):
            raise SetupError("--profile-dir is a Chromium --user-data-dir; Firefox reads ~/.mozilla only")
        return Path(profile_dir).expanduser().resolve() / "NativeMessagingHosts"
    home = Path(home or Path.home())
    table = _MACOS if sys.platform == "darwin" else _LINUX
    parent, leaf = table[browser]
    return home / parent / leaf


def browser_present(browser: str, home: Path | None = None) -> bool:
    """Whether the person's configuration folder of this browser exists (used by ``--browser all``)."""
    return host_dir(browser, home=home).parent.is_dir()


def manifest(browser: str, launcher: Path) -> dict:
    """The host manifest for one browser: only Crumbs' own extension may start the host."""
    body = {"name": NATIVE_HOST_NAME, "description": DESCRIPTION, "path": str(launcher), "type": "stdio"}
    if is_chromium_family(browser):
        body["allowed_origins"] = [f"chrome-extension://{EXTENSION_ID}/"]
    else:
        body["allowed_extensions"] = [GECKO_ID]
    return body


def launcher_path(data_root: Path) -> Path:
    name = "crumbs-native-host.cmd" if os.name == "nt" else "crumbs-native-host"
    return Path(data_root) / LAUNCHER_DIR / name


def launcher_text(data_root: Path, python: str | None = None) -> str:
    python = python or sys.executable
    if os.name == "nt":
        return f'@echo off\r\n"{python}" -I -m companion.native_host --data-dir "{data_root}" %*\r\n'
    return ("#!/bin/sh\n"
            "# Written by 'crumbs setup': the browser runs this to start the Crumbs native messaging host.\n"
            "# 'crumbs setup --remove' deletes it.\n"
            f"exec {shlex.quote(python)} -I -m companion.native_host --data-dir {shlex.quote(str(data_root))} \"$@\"\n")


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write atomically, readable by this user only (the folder is made 0700 when we create it)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    staging = path.with_name(path.name + ".new")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.chmod(staging, mode)
    os.replace(staging, path)


def install(browsers: list[str], data_root: Path, profile_dir: Path | None = None,
            explicit: bool = True, home: Path | None = None) -> Report:
    """Write the launcher and the manifests. With ``explicit=False`` (``--browser all``) browsers whose
    configuration folder does not exist are skipped, so nothing is made for a browser the person lacks."""
    report = Report()
    targets = []
    for browser in browsers:
        if profile_dir is None and not explicit and not browser_present(browser, home):
            report.skipped.append(browser)
            continue
        if profile_dir is not None and not is_chromium_family(browser):
            report.skipped.append(browser)
            continue
        targets.append(browser)
    if not targets:
        return report
    launcher = launcher_path(data_root)
    _write_private(launcher, launcher_text(data_root), 0o700)
    report.written.append(launcher)
    for browser in targets:
        if os.name == "nt":
            path = Path(data_root) / LAUNCHER_DIR / f"{browser}-{MANIFEST_FILE}"
        else:
            path = host_dir(browser, profile_dir, home) / MANIFEST_FILE
        _write_private(path, json.dumps(manifest(browser, launcher), indent=2) + "\n", 0o600)
        if os.name == "nt":
            _register_windows(browser, path)
        report.written.append(path)
    return report


def _ours(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("name") == NATIVE_HOST_NAME
    except (OSError, ValueError, AttributeError):
        return False


def _points_at(path: Path, launcher: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("path") == str(launcher)
    except (OSError, ValueError, AttributeError):
        return False


def remove(browsers: list[str], data_root: Path, profile_dir: Path | None = None, home: Path | None = None) -> Report:
    """Delete what :func:`install` wrote (only files that are ours), and the launcher."""
    report = Report()
    for browser in browsers:
        if profile_dir is not None and not is_chromium_family(browser):
            continue
        if os.name == "nt":
            path = Path(data_root) / LAUNCHER_DIR / f"{browser}-{MANIFEST_FILE}"
            _unregister_windows(browser)
        else:
            path = host_dir(browser, profile_dir, home) / MANIFEST_FILE
        if path.is_file() and _ours(path):
            path.unlink()
            report.removed.append(path)
            try:
                path.parent.rmdir()  # the hosts folder, when nothing else is in it (setup may have made it)
            except OSError:
                pass
    launcher = launcher_path(data_root)
    remaining = [b for b in BROWSERS if os.name != "nt" and _points_at(host_dir(b, None, home) / MANIFEST_FILE, launcher)]
    if launcher.exists() and not remaining:  # another browser's manifest still points at it: keep it
        launcher.unlink()
        report.removed.append(launcher)
        try:
            launcher.parent.rmdir()
        except OSError:
            pass
    return report


def _register_windows(browser: str, manifest_path: Path) -> None:  # pragma: no cover - Windows only
    import winreg

    key = winreg.CreateKey(winreg.HKEY_CURRENT_USER, _WINDOWS_KEYS[browser] + "\\" + NATIVE_HOST_NAME)
    winreg.SetValueEx(key, "", 0, winreg.REG_SZ, str(manifest_path))
    winreg.CloseKey(key)


def _unregister_windows(browser: str) -> None:  # pragma: no cover - Windows only
    import winreg

    try:
        winreg.DeleteKey(winreg.HKEY_CURRENT_USER, _WINDOWS_KEYS[browser] + "\\" + NATIVE_HOST_NAME)
    except OSError:
        pass
