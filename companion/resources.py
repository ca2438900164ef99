"""What ships inside the package, and where an installed Crumbs finds it.

- The rules (``rules/*.txt`` filter lists and ``rules/trackers.json``, the knowledge base) live at
  the top of the repository, where people edit them; the wheel carries a copy as package data in
  ``companion/_rules`` (setup.py's build step copies it). A checkout (editable install, tests) reads
  ``rules/`` directly. Both are found with :mod:`importlib.resources`, never relative to the
  working directory, so ``crumbs`` works from any folder.
- The extension's identity is a constant here, not a file read from the checkout: the Chromium id
  (fixed by the manifest's public ``key``), the Firefox (gecko) id and the native messaging host's
  name. tests/test_package.py checks them against ``extension/EXTENSION_ID`` and the manifest.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

EXTENSION_ID = "hlbmomjbhephkapmgjmeejjpmabhgdoo"
GECKO_ID = "crumbs@crumbs.local"
NATIVE_HOST_NAME = "org.crumbs.companion"

_PACKAGED_RULES = "_rules"
_CHECKOUT_RULES = Path(__file__).resolve().parent.parent / "rules"


class ShippedDataError(ValueError):
    """The data Crumbs ships with is missing or damaged: the message says which file, in one line."""


def rules_dir() -> Path:
    """The folder of shipped rules: the package's copy when installed, else the checkout's ``rules/``.

    Never raises: when neither exists it returns the package path, and the first reader reports the
    missing file in one line (see :func:`require_rules`).
    """
    packaged = Path(str(resources.files("companion") / _PACKAGED_RULES))
    if packaged.is_dir():
        return packaged
    if (_CHECKOUT_RULES / "trackers.json").is_file():
        return _CHECKOUT_RULES
    return packaged


def require_rules() -> Path:
    """The shipped rules folder, or :class:`ShippedDataError` saying that this install is broken."""
    folder = rules_dir()
    if not (folder / "trackers.json").is_file() or not any(folder.glob("*.txt")):
        raise ShippedDataError(f"the shipped rules are missing from this Crumbs install (looked in {folder}); "
                               "reinstall Crumbs")
    return folder
