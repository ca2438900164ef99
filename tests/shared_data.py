"""Where the shared test and benchmark data is: the ONE place that names it.

The data (EasyList, EasyPrivacy, a corpus of real requests) lives in ``../shared`` next to the
repository and is never copied into it; ``CRUMBS_SHARED`` points elsewhere. Tests get these paths
through conftest fixtures (``shared_file``, ``list_paths``, ``corpus_path``...), benchmarks through
``bench/common.py``. When the folder is missing, :func:`require` raises :class:`SharedDataMissing`
with one line saying so; tests turn it into a failure with that line, benchmarks into an exit.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CRUMBS_SHARED") or ROOT.parent / "shared")
LISTS_DIR = SHARED / "data" / "lists"
EASYLIST = LISTS_DIR / "easylist.txt"
EASYPRIVACY = LISTS_DIR / "easyprivacy.txt"
CORPUS = SHARED / "data" / "requests" / "corpus.jsonl"
TOP_TRACKERS = SHARED / "data" / "knowledge" / "top-trackers.txt"


class SharedDataMissing(RuntimeError):
    """A file of the shared data folder is not there."""


def require(path: Path) -> Path:
    """``path`` if it exists; otherwise :class:`SharedDataMissing` with a one-line reason."""
    if not path.exists():
        raise SharedDataMissing(
            f"shared test data missing: {path} (clone the shared data folder to {SHARED}, or set CRUMBS_SHARED)"
        )
    return path
