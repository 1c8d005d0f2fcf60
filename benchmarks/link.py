"""Benchmark: our linkage job next to plain anonlink, on the same encodings.

For each size N (records per source, 3 sources) the encodings are generated from one seed
(synthetic CLKs with controlled noise: ``linkage_service.linkage.synthetic``), then measured in
a fresh child process each, so peak RSS is per measurement:

- ``job``: ``linkage_service.linkage.link`` (LSH blocking, Dice, EM scoring, clustering);
- ``anonlink``: ``find_candidate_pairs`` over the three sources at the same Dice floor (all
  pairs, anonlink's native kernel) + ``greedy_solve`` — the libraries' generic path.

Prints one table: wall time and peak RSS of each, their ratio, and the growth exponent of the
job's time between successive sizes (2 = quadratic). The anonlink baseline is quadratic and
slow, so it runs only at ``--baseline-sizes``; at larger sizes the table shows its quadratic
extrapolation from the largest measured size, marked "~".

    .venv/bin/python benchmarks/link.py                       # ~4 min on 2 cores
    .venv/bin/python benchmarks/link.py --sizes 10000,100000 --baseline-sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


def _data(size: int, seed: int):
    from linkage_service.linkage.synthetic import synthetic_registries

    return synthetic_registries(records_per_source=size, sources=3, seed=seed)


def _measure_job(size: int, seed: int, floor: float) -> dict:
    from linkage_service.linkage import LinkInputs, LinkParams, link

    d = _data(size, seed)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    r = link(
        LinkInputs(
            clks=d.clks,
            sources=d.sources,
            sex=d.sex,
            birth_year_min=d.birth_year_min,
            birth_year_max=d.birth_year_max,
            doc_hash=d.doc_hash,
            event_date=d.event_date,
        ),
        LinkParams(dice_floor=floor),
    )
    wall = time.perf_counter() - t
    lab = r.labels
    same_pred = lab[r.auto_links.left] == lab[r.auto_links.right]
    precision = (
        float((d.person[r.auto_links.left] == d.person[r.auto_links.right])[same_pred].mean())
        if len(r.auto_links)
        else float("nan")
    )
    return {
        "wall": wall,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rss_data_kb": rss_data,
        "counts": r.counts,
        "timings": {k: round(v, 2) for k, v in r.timings.items()},
        "link_precision": precision,
    }


def _measure_anonlink(size: int, seed: int, floor: float) -> dict:
    import anonlink

    from linkage_service.linkage.similarity import to_bitarrays

    d = _data(size, seed)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    datasets = [to_bitarrays(d.clks[d.sources == s]) for s in range(3)]
    candidates = anonlink.candidate_generation.find_candidate_pairs(
        datasets, anonlink.similarities.dice_coefficient, floor
    )
    groups = anonlink.solving.greedy_solve(candidates)
    wall = time.perf_counter() - t
    return {
        "wall": wall,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rss_data_kb": rss_data,
        "candidates": len(candidates[0]),
        "groups": len(groups),
    }


def _child(kind: str, size: int, seed: int, floor: float, timeout: float) -> dict | None:
    cmd = [
        sys.executable,
        __file__,
        "--one",
        kind,
        "--sizes",
        str(size),
        "--seed",
        str(seed),
        "--floor",
        str(floor),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        print(f"  {kind} at {size}: over {timeout:.0f} s, skipped", file=sys.stderr)
        return None
    except subprocess.CalledProcessError as exc:
        print(f"  {kind} at {size} failed:\n{exc.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,300000", help="records per source")
    ap.add_argument(
        "--baseline-sizes",
        default="10000,30000",
        help="sizes at which plain anonlink also runs (quadratic: keep small)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--floor", type=float, default=0.7, help="Dice floor for both")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    ap.add_argument("--one", choices=["job", "anonlink"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.one:
        fn = _measure_job if args.one == "job" else _measure_anonlink
        print(json.dumps(fn(sizes[0], args.seed, args.floor)))
        return
    base_sizes = [int(s) for s in args.baseline_sizes.split(",") if s]
    all_sizes = sorted(set(sizes) | set(base_sizes))
    rows = []
    for size in all_sizes:
        print(f"… {size} per source", file=sys.stderr)
        job = _child("job", size, args.seed, args.floor, args.timeout)
        base = (
            _child("anonlink", size, args.seed, args.floor, args.timeout)
            if size in base_sizes
            else None
        )
        rows.append((size, job, base))
        if job:
            print(
                f"  job {job['wall']:.1f} s {json.dumps(job['counts'])} "
                f"stages {json.dumps(job['timings'])} "
                f"precision of auto-links {job['link_precision']:.4f}",
                file=sys.stderr,
            )
        if base:
            print(
                f"  anonlink {base['wall']:.1f} s, {base['candidates']} candidates", file=sys.stderr
            )
    measured = [(s, b) for s, _, b in rows if b]
    print(f"\n3 sources × N records, Dice floor {args.floor}, seed {args.seed}")
    print(
        f"{'N/source':>9} {'job s':>8} {'job MiB':>8} {'anonlink s':>11} {'anon MiB':>9} "
        f"{'job/anon':>9} {'growth':>7} {'pairs':>9}"
    )
    prev = None
    for size, job, base in rows:
        if base:
            b_wall, b_mem, mark = base["wall"], f"{base['rss_kb'] / 1024:.0f}", ""
        elif measured:
            s0, b0 = measured[-1]
            b_wall, b_mem, mark = b0["wall"] * (size / s0) ** 2, "-", "~"
        else:
            b_wall, b_mem, mark = float("nan"), "-", ""
        j_wall = job["wall"] if job else float("nan")
        growth = (
            ""
            if prev is None or not job
            else f"{math.log(j_wall / prev[1]) / math.log(size / prev[0]):.2f}"
        )
        if job:
            prev = (size, j_wall)
        print(
            f"{size:>9} {j_wall:>8.1f} {(job['rss_kb'] / 1024 if job else float('nan')):>8.0f} "
            f"{mark + f'{b_wall:.1f}':>11} {b_mem:>9} {j_wall / b_wall:>9.3f} {growth:>7} "
            f"{(job['counts']['candidate_pairs'] if job else 0):>9}"
        )


if __name__ == "__main__":
    main()
