"""Every benchmark `make bench` runs can at least be loaded (issue 14's figures live there, not in tests).

Timing is never asserted here; a benchmark that no longer imports (a name moved in bench/common.py) was
only found by running `make bench-quick` by hand, and hid every figure after it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _names() -> list[str]:
    sys.path.insert(0, str(BENCH))
    try:
        run = importlib.import_module("run")
    finally:
        sys.path.remove(str(BENCH))
    return run.BENCHMARKS + run.SEPARATE


@pytest.mark.parametrize("name", _names())
def test_the_benchmark_loads_and_has_a_run(name, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    module = importlib.import_module(name)
    assert callable(getattr(module, "run", None)), name
