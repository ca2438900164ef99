"""Helpers the benchmarks share: the shared data (located by tests/shared_data.py, the one place
that names it) and percentiles. A missing shared data folder ends the benchmark with one line."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import shared_data  # noqa: E402


def shared(path: Path) -> Path:
    """``path`` of the shared data folder, or exit with a one-line reason."""
    try:
        return shared_data.require(path)
    except shared_data.SharedDataMissing as exc:
        raise SystemExit(str(exc)) from None


LISTS = [shared(shared_data.EASYLIST), shared(shared_data.EASYPRIVACY)]
CORPUS = shared(shared_data.CORPUS)


def load_corpus(limit: int | None = None) -> list[dict]:
    rows = []
    with CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)
