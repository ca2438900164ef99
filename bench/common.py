"""Helpers the benchmarks share: where the data is, and percentiles."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LISTS = [SHARED / "data" / "lists" / "easylist.txt", SHARED / "data" / "lists" / "easyprivacy.txt"]
CORPUS = SHARED / "data" / "requests" / "corpus.jsonl"


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
