"""Where the companion keeps its files, and its defaults.

The data folder is, in order: ``--data-dir``, the ``CRUMBS_HOME`` environment variable, or
the platform's user data folder (platformdirs: ``~/.local/share/crumbs`` on Linux). It holds
the SQLite database, the API token (mode 0600), the engine's cache and subscribed lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .resources import rules_dir

DEFAULT_PORT = 8737
HOST = "127.0.0.1"  # loopback only, never 0.0.0.0: the companion holds a person's browsing history
# The shipped rules: package data in an installed Crumbs, rules/ in a checkout (companion/resources.py).
RULES_DIR = rules_dir()


def default_data_dir() -> Path:
    env = os.environ.get("CRUMBS_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("crumbs", appauthor=False))


@dataclass(frozen=True)
class DataPaths:
    """The files inside one data folder."""

    root: Path

    @classmethod
    def at(cls, data_dir: str | os.PathLike[str] | None = None) -> "DataPaths":
        root = Path(data_dir).expanduser() if data_dir else default_data_dir()
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        # The caches hold what the person chose (the browser's rules name their sites): theirs only, like
        # the folder, including one an older Crumbs made with the default mode.
        cache = root / "cache"
        try:
            cache.mkdir(mode=0o700, exist_ok=True)
            os.chmod(cache, 0o700)
        except OSError:  # a file named cache: the caches are only start-up shortcuts, and each write fails quietly
            pass
        return cls(root.resolve())

    @property
    def database(self) -> Path:
        return self.root / "crumbs.sqlite3"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def lists(self) -> Path:
        return self.root / "lists"

    @property
    def sources(self) -> Path:
        """Downloaded knowledge sources (companion/lists/sources.py), one ``NAME.json`` each."""
        return self.root / "sources"
