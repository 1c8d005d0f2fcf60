"""Benchmark: the candidate stage in band slices on Dask, next to the single call, same pairs.

What a bank too large for one machine would run (docs/linkage.md, "When the bank outgrows one
machine"), measured on one: the job's LSH design over the benchmark's cached encodings
(``benchmarks/link.py``: real SDK encodings under the default schema), then

- ``single``: ``blocking.lsh_candidate_pairs`` over all bands, the compiled kernel on
  ``--threads`` threads (what a job runs);
- ``dask``: the same bands cut into ``--slices`` slices (``linkage.partition``), one Dask task
  each on the threaded scheduler with ``--workers`` workers and one kernel thread per task
  (the kernel's ctypes call releases the GIL), then ``partition.combine`` (the budget over the
  union) in the calling process.

The pairs must be identical (the script exits 1 otherwise); it prints both times, their ratio
and the combine step's share. A Dask cluster would run the same tasks on other machines, with
the CLKs broadcast once (``client.scatter(clks, broadcast=True)``); here the threads share
them.

    .venv/bin/python benchmarks/partitioned.py --size 100000 --slices 8 --workers 2
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import dask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import link as bench  # noqa: E402 (the benchmark's cached data and parameters)

from linkage_service.linkage import kernel  # noqa: E402
from linkage_service.linkage.blocking import lsh_candidate_pairs  # noqa: E402
from linkage_service.linkage.contract import to_stored  # noqa: E402
from linkage_service.linkage.partition import band_slices, combine, slice_pairs  # noqa: E402
from vinculo_common.schemas import DEFAULT_SCHEMA_ID  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100000, help="records per source")
    ap.add_argument("--slices", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="kernel threads of the single call")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/vinculo-bench-link")
    ap.add_argument("--schema", default=DEFAULT_SCHEMA_ID)
    args = ap.parse_args()

    data = bench.load_data("real", args.size, args.seed, Path(args.cache), args.schema)
    clks = data["clks"]
    params = bench._params(0.7, "default", args.schema)
    lsh = replace(params.lsh, design_dice=to_stored(params, params.lsh.design_dice))
    floor, budget = to_stored(params, params.dice_floor), params.candidate_budget
    if kernel.load() is None:
        print("the compiled kernel is not available: nothing to compare", file=sys.stderr)
        return 1

    t = time.perf_counter()
    stats: dict[str, int] = {}
    left, right, _ = lsh_candidate_pairs(clks, params=lsh, min_dice=floor, budget=budget,
                                         stats=stats, threads=args.threads)
    single = time.perf_counter() - t

    t = time.perf_counter()
    slices = band_slices(clks, params=lsh, slices=args.slices)
    tasks = [dask.delayed(slice_pairs)(clks, s, params=lsh, min_dice=floor, budget=budget,
                                       threads=1) for s in slices]
    parts = list(dask.compute(*tasks, scheduler="threads", num_workers=args.workers))
    t_tasks = time.perf_counter() - t
    got = combine(clks, parts, budget=budget)
    partitioned = time.perf_counter() - t
    same = bool(len(got.left) == len(left) and (got.left == left).all()
                and (got.right == right).all())

    print(f"3 sources × {args.size} records ({len(clks)}), schema {args.schema}, "
          f"{stats['bands']} bands of {stats['bits_per_band']} bits, budget {budget}, "
          f"kernel {kernel.supported_simd()}")
    print(f"{'run':<42} {'s':>8} {'pairs':>11}")
    print(f"{f'single call, {args.threads} kernel threads':<42} {single:>8.1f} {len(left):>11,}")
    label = f"dask threads: {len(slices)} slices, {args.workers} workers"
    print(f"{label:<42} {partitioned:>8.1f} {len(got.left):>11,}")
    union = sum(len(p.left) for p in parts)
    print(f"  tasks {t_tasks:.1f} s, combine {partitioned - t_tasks:.1f} s "
          f"({union:,} slice pairs before the budget)")
    print(f"dask / single: {partitioned / single:.2f}; same pairs: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
