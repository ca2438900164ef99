"""Run every benchmark: `make bench` (full) or `make bench-quick` (seconds, for CI smoke runs).

Each benchmark prints its own figures next to peers measured in the same run (these
machines are noisy: compare ratios, not absolute numbers run to run).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# bench_popup and bench_extension drive the real Chromium (tests/browser's set-up; `make chromium`).
BENCHMARKS = ["bench_engine", "bench_rules", "bench_api", "bench_record", "bench_history", "bench_memory",
              "bench_surrogates", "bench_sources", "bench_popup", "bench_extension"]
# Not in the default run (minutes): `make bench-scale` runs it.
SEPARATE = ["bench_scale"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small samples: finishes in well under a few minutes")
    parser.add_argument("only", nargs="*", help=f"run only these ({', '.join(BENCHMARKS)})")
    args = parser.parse_args()
    failed = []
    for name in args.only or BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"\n== {name}: not available ({exc})")
            failed.append(name)
            continue
        print(f"\n== {name} {'(quick)' if args.quick else ''}", flush=True)
        started = time.perf_counter()
        module.run(args.quick)
        print(f"   ({name} took {time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
