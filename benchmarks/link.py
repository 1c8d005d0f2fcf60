"""Benchmark: our linkage job next to plain anonlink, on the same real encodings.

Data: ``vinculo synth`` registries (``vinculo_lab.synth``, profile ``default``) encoded by the
SDK itself (``client_sdk.encode_export.encode_file``: standardization, the default schema, a
fresh key ceremony) and read back with ``vinculo_common.batch.read_batch``: the CLKs, keyed
document hashes and content attributes the service receives. N is records per source: synth
draws ``3N / 2.249`` people, so the three sources hold about 3N records in all (RETA more,
care fewer). Encodings are cached under ``--cache`` (default ``/tmp/vinculo-bench-link``),
one ``.npz`` per (N, seed); ``--data synthetic`` uses ``vinculo_lab.synthetic_clks``
CLKs instead (the earlier benchmark).

Each measurement runs in a fresh child process, so peak RSS is per measurement:

- ``job``: ``linkage_service.linkage.link`` (LSH blocking, Dice, EM scoring, clustering), with
  pairwise precision and recall of its persons against the synthetic truth;
- ``anonlink``: ``find_candidate_pairs`` over the three sources at the same Dice floor (all
  pairs, anonlink's native kernel) + ``greedy_solve``: the libraries' generic path;
- ``incremental`` (``--increment K``, default 1,000; 0: none): after the full job, the last K
  records of each source linked as new records into the persons the full job gave the others,
  with its model (what a monthly run does); its time only.

The candidate stage runs on the compiled kernel (``linkage_service.linkage.kernel``) unless
``VINCULO_KERNEL=numpy``; the table's ``kernel`` line says which (SIMD level, threads).

Prints one table: wall time and peak RSS of each, their ratio, the growth exponent of the
job's time between successive sizes (2 = quadratic) and the incremental job's time. anonlink
is quadratic, so it runs only at ``--baseline-sizes``; elsewhere its time is extrapolated
quadratically from the largest measured size and marked "~". ``pairs`` is the job's
candidate pairs above the floor within the per-record budget (``--budget``, default the
job's), ``held`` the most pairs held at once while generating them.

    timeout 7200 .venv/bin/python benchmarks/link.py                  # 10k … 1M per source
    timeout 1800 .venv/bin/python benchmarks/link.py --max-size 30000  # only next to anonlink
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

from vinculo_common.batch import RECORD_SECTIONS  # noqa: E402 (after the path is set)
from vinculo_common.schemas import DEFAULT_SCHEMA_ID  # noqa: E402

SOURCES = ("reta", "sistra", "care")
RECORDS_PER_PERSON = 2.249  # vinculo synth, profile "default" (measured)


# Every content attribute the service gives the linkage core (the bank's executor passes the
# UBIGEOs too: without them namesakes and twins pull precision down sharply).
TEXT_ATTRIBUTES = ("sex", "nationality", "event_date", "ubigeo_birth", "ubigeo_residence",
                   "ubigeo_event")
# Bump when the cached arrays change, the SDK's standardization included (v4: whole names split
# by the words' roles, round 4 of issue 5).
CACHE_VERSION = "v4"
SECTIONS = tuple(RECORD_SECTIONS)  # the schema's fixed-size sections, when present


def prepare_real(size: int, seed: int, cache: Path, schema: str) -> Path:
    """Encode ``vinculo synth`` output with the SDK once and cache the arrays (.npz)."""
    from vinculo_common.schemas import load_linkage_schema, schema_fingerprint

    # Keyed by the schema's fingerprint too: a changed schema file is never read from the cache.
    tag = schema_fingerprint(load_linkage_schema(schema)).removeprefix("sha256:")[:12]
    out = cache / f"real-{size}-seed{seed}-{schema}-{tag}-{CACHE_VERSION}.npz"
    if out.is_file():
        return out
    from client_sdk.encode_export import encode_file
    from client_sdk.keys import init_keys, load_record_ref_key
    from client_sdk.record_encoder import record_ref
    from vinculo_common.batch import read_batch
    from vinculo_lab.synth import generate, profile, write_dataset

    work = cache / f"work-{size}-seed{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    people = max(10, round(3 * size / RECORDS_PER_PERSON))
    result = generate(people=people, seed=seed, config=profile("default"))
    write_dataset(result, work / "data")
    truth = {(s, r): p for s, r, p in result.truth}
    init_keys(keys_dir=work / "keys", sources=list(SOURCES))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("clks", "sources", "person")}
    attributes: list[dict] = []
    for k, source in enumerate(SOURCES):
        export = work / "data" / f"{source}.csv"
        batch_path = work / f"{source}.vnb"
        encode_file(source=source, input_path=export, keys_dir=work / "keys", output=batch_path,
                    schema_id=schema)
        batch = read_batch(batch_path)
        # Rows the SDK rejected are not in the batch: find each encoded row's record_id by its
        # keyed reference, as the institution would.
        ref_key = load_record_ref_key(work / "keys", source)
        with export.open(newline="", encoding="utf-8") as fh:
            by_ref = {record_ref(ref_key, row["record_id"]): row["record_id"]
                      for row in csv.DictReader(fh)}
        ids = [by_ref[bytes(ref)] for ref in batch.record_refs]
        cols["clks"].append(batch.clks)
        for name in SECTIONS:
            if name in batch.extras:
                cols.setdefault(name, []).append(batch.extras[name])
        cols["sources"].append(np.full(len(ids), k, dtype=np.int64))
        cols["person"].append(np.array([int(truth[(source, i)][1:]) for i in ids]))
        attributes.extend(batch.attributes)
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    for name in TEXT_ATTRIBUTES:
        arrays[name] = np.array([a.get(name) or "" for a in attributes], dtype=str)
    for name in ("birth_year_min", "birth_year_max"):
        arrays[name] = np.array([np.nan if a.get(name) is None else float(a[name])
                                 for a in attributes])
    np.savez(out, **arrays)  # type: ignore[arg-type]
    shutil.rmtree(work)
    print(f"  encoded {len(arrays['clks'])} records for N={size} in "
          f"{time.perf_counter() - started:.0f} s (cached in {out})", file=sys.stderr)
    return out


def load_data(kind: str, size: int, seed: int, cache: Path,
              schema: str) -> dict[str, np.ndarray]:
    """Arrays of one data set: clks, sources, person, sex, birth years, nationality, …"""
    if kind == "synthetic":
        from vinculo_lab.synthetic_clks import synthetic_registries

        d = synthetic_registries(records_per_source=size, sources=3, seed=seed)
        return {"clks": d.clks, "sources": d.sources, "person": d.person, "sex": d.sex,
                "birth_year_min": d.birth_year_min, "birth_year_max": d.birth_year_max,
                "doc_hash": d.doc_hash, "event_date": d.event_date}
    with np.load(prepare_real(size, seed, cache, schema)) as npz:
        data = {k: npz[k] for k in npz.files}
    for name in TEXT_ATTRIBUTES:
        # One str object per distinct value, as the service's loader keeps them (8 bytes a
        # record instead of a string each: 350 MB at 3 × 300k).
        codes, uniques = pd.factorize(data[name])
        data[name] = np.asarray(uniques, dtype=object)[codes]
    return data


def _inputs(data: dict[str, np.ndarray], rows: np.ndarray | None = None, **extra):
    from linkage_service.linkage import LinkInputs

    names = ("clks", "sources", "birth_year_min", "birth_year_max", *SECTIONS, *TEXT_ATTRIBUTES)
    pick = {k: (data[k] if rows is None else data[k][rows]) for k in names if k in data}
    return LinkInputs(**pick, **extra)


def _pairs_in_groups(codes: np.ndarray) -> int:
    s = np.sort(codes)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    sizes = np.diff(np.r_[starts, len(s)])
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_quality(labels: np.ndarray, person: np.ndarray) -> tuple[float, float]:
    """Precision and recall over all record pairs placed in one person."""
    import pandas as pd

    lab = pd.factorize(pd.Series(labels.astype(str)))[0].astype(np.int64)
    per = pd.factorize(pd.Series(person))[0].astype(np.int64)
    both = _pairs_in_groups(lab * (int(per.max()) + 1) + per)
    pred, true = _pairs_in_groups(lab), _pairs_in_groups(per)
    return both / max(pred, 1), both / max(true, 1)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _params(floor: float, budget: str, schema: str, **extra):
    from linkage_service.linkage import LinkParams
    from vinculo_common.schemas import dice_calibration_of

    # A hardened schema's Dice is mapped to the scale the core is tuned on, as the service does.
    extra.setdefault("dice_calibration", dice_calibration_of(schema))
    if budget == "default":
        return LinkParams(dice_floor=floor, **extra)
    return LinkParams(dice_floor=floor, candidate_budget=None if budget == "none" else int(budget),
                      **extra)


def stored_floor(floor: float, schema: str) -> float:
    """The job's Dice floor on the stored encodings' scale (anonlink's threshold)."""
    from linkage_service.linkage.contract import to_stored

    return to_stored(_params(floor, "default", schema), floor)


def _measure_job(data: dict[str, np.ndarray], floor: float, budget: str, schema: str,
                 increment: int = 0) -> dict:
    from linkage_service.linkage import kernel as kernel_mod
    from linkage_service.linkage import link

    lib = kernel_mod.load()
    t = time.perf_counter()
    r = link(_inputs(data), _params(floor, budget, schema))
    wall = time.perf_counter() - t
    rss = _rss_mib()
    precision, recall = pairwise_quality(r.labels, data["person"])
    out = {"wall": wall, "rss_mib": rss, "counts": r.counts,
           "timings": {k: round(v, 2) for k, v in r.timings.items()},
           "precision": precision, "recall": recall,
           "kernel": "numpy" if lib is None else f"c/{kernel_mod.supported_simd()}"
                                                 f"/{kernel_mod.threads()}t"}
    if increment:
        out["incremental"] = _measure_increment_after(data, r, floor, increment, budget, schema)
    return out


def _measure_increment_after(data: dict[str, np.ndarray], full, floor: float, increment: int,
                             budget: str, schema: str) -> dict:
    """The last ``increment`` records of each source linked as new records into the persons
    the full job gave all the others, with its model (what a monthly run does): its time."""
    from linkage_service.linkage import link

    sources = data["sources"]
    new = np.zeros(len(sources), dtype=bool)
    for s in np.unique(sources):
        new[np.flatnonzero(sources == s)[-increment:]] = True
    order = np.r_[np.flatnonzero(~new), np.flatnonzero(new)]  # rows oldest first
    data = {k: v[order] for k, v in data.items()}
    labels = full.labels[order]
    existing = [f"P{lab}" for lab in labels[: int((~new).sum())].tolist()]
    existing += [None] * int(new.sum())
    t = time.perf_counter()
    second = link(_inputs(data, existing_labels=existing),
                  _params(floor, budget, schema, previous_model=full.model))
    return {"wall": time.perf_counter() - t, "model_source": second.params["model_source"],
            "timings": {k: round(v, 2) for k, v in second.timings.items()}}


def _measure_increment_only(data: dict[str, np.ndarray], floor: float, increment: int,
                            budget: str, schema: str) -> dict:
    """The incremental run without the full job before it (sizes where the full job is too
    long to run here): the last ``increment`` records of each source are new, the others
    carry their synthetic person as the label a previous job gave them, and the model is
    estimated by EM in the run (no previous model: more work than a monthly run's reuse)."""
    from linkage_service.linkage import link

    sources = data["sources"]
    new = np.zeros(len(sources), dtype=bool)
    for s in np.unique(sources):
        new[np.flatnonzero(sources == s)[-increment:]] = True
    order = np.r_[np.flatnonzero(~new), np.flatnonzero(new)]
    data = {k: v[order] for k, v in data.items()}
    old = int((~new).sum())
    existing = [f"P{p}" for p in data["person"][:old].tolist()] + [None] * int(new.sum())
    t = time.perf_counter()
    r = link(_inputs(data, existing_labels=existing), _params(floor, budget, schema))
    return {"wall": time.perf_counter() - t, "rss_mib": _rss_mib(),
            "model_source": r.params["model_source"], "counts": r.counts,
            "timings": {k: round(v, 2) for k, v in r.timings.items()}}


def _measure_anonlink(data: dict[str, np.ndarray], floor: float) -> dict:
    import anonlink

    from linkage_service.linkage.similarity import to_bitarrays

    t = time.perf_counter()
    datasets = [to_bitarrays(data["clks"][data["sources"] == s]) for s in range(3)]
    candidates = anonlink.candidate_generation.find_candidate_pairs(
        datasets, anonlink.similarities.dice_coefficient, floor
    )
    groups = anonlink.solving.greedy_solve(candidates)
    return {"wall": time.perf_counter() - t, "rss_mib": _rss_mib(),
            "candidates": len(candidates[0]), "groups": len(groups)}


def _child(kind: str, size: int, args: argparse.Namespace) -> dict | None:
    cmd = [sys.executable, __file__, "--one", kind, "--sizes", str(size), "--seed",
           str(args.seed), "--floor", str(args.floor), "--data", args.data, "--cache",
           str(args.cache), "--increment", str(args.increment), "--budget", args.budget,
           "--schema", args.schema]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                             check=True)
    except subprocess.TimeoutExpired:
        print(f"  {kind} at {size}: over {args.timeout:.0f} s, skipped", file=sys.stderr)
        return None
    except subprocess.CalledProcessError as exc:
        print(f"  {kind} at {size} failed:\n{exc.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _one(args: argparse.Namespace, size: int) -> dict:
    data = load_data(args.data, size, args.seed, Path(args.cache), args.schema)
    if args.one == "prepare":
        return {"records": len(data["clks"])}
    if args.one == "job":
        return _measure_job(data, args.floor, args.budget, args.schema, args.increment)
    if args.one == "increment":
        return _measure_increment_only(data, args.floor, args.increment or 1000, args.budget,
                                       args.schema)
    if args.one == "anonlink":  # at the same floor as the job, on the stored encodings' scale
        return _measure_anonlink(data, stored_floor(args.floor, args.schema))
    raise ValueError(args.one)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,30000,100000,300000,1000000",
                    help="records per source")
    ap.add_argument("--baseline-sizes", default="10000,30000",
                    help="sizes at which plain anonlink also runs (quadratic: keep small)")
    ap.add_argument("--max-size", type=int, default=0,
                    help="skip sizes above this (e.g. 30000: only the anonlink comparison)")
    ap.add_argument("--increment", type=int, default=1000,
                    help="also time linking this many new records per source into the persons "
                         "of the full job (0: no)")
    ap.add_argument("--data", choices=["real", "synthetic"], default="real")
    ap.add_argument("--cache", default="/tmp/vinculo-bench-link", help="encoded data cache")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--floor", type=float, default=0.7, help="Dice floor for both")
    ap.add_argument("--budget", default="default",
                    help="candidates kept per record (LinkParams.candidate_budget): a number, "
                         "'none' (all pairs above the floor) or 'default'")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per measurement")
    ap.add_argument("--schema", default=DEFAULT_SCHEMA_ID,
                    help="linkage schema of the real encodings (default: the project's)")
    ap.add_argument("--increment-only", default="",
                    help="sizes at which only the incremental run is measured, the existing "
                         "records labelled with their synthetic person (no full job first)")
    ap.add_argument("--one", choices=["prepare", "job", "anonlink", "increment"],
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s and int(s) > 0]
    if args.max_size and not args.one:
        sizes = [s for s in sizes if s <= args.max_size]
    if args.one:
        print(json.dumps(_one(args, sizes[0])))
        return
    base_sizes = [int(s) for s in args.baseline_sizes.split(",") if s and int(s) > 0]
    base_sizes = [s for s in base_sizes if s in sizes]
    only_sizes = {int(s) for s in args.increment_only.split(",") if s and int(s) > 0}
    rows = []
    for size in sorted(sizes):
        print(f"… {size} per source", file=sys.stderr)
        prepared = _child("prepare", size, args) if args.data == "real" else {}
        if size in only_sizes:  # the incremental run alone, on truth labels
            job, base = None, None
            inc = _child("increment", size, args)
            if inc:
                inc["only"] = True
        else:
            job = _child("job", size, args)
            base = _child("anonlink", size, args) if size in base_sizes else None
            inc = (job or {}).get("incremental")
        rows.append((size, (prepared or {}).get("records"), job, base, inc))
        if job:
            print(f"  job {job['wall']:.1f} s ({job['kernel']}) {json.dumps(job['counts'])}\n"
                  f"  stages {json.dumps(job['timings'])} precision {job['precision']:.3f} "
                  f"recall {job['recall']:.3f}", file=sys.stderr)
        if base:
            print(f"  anonlink {base['wall']:.1f} s, {base['candidates']} candidates",
                  file=sys.stderr)
        if inc:
            print(f"  incremental{' (alone, truth labels)' if inc.get('only') else ''}: "
                  + (f"peak {inc['rss_mib']:.0f} MiB, " if "rss_mib" in inc else "")
                  + f"+{3 * args.increment} new "
                  f"{inc['wall']:.1f} s (model {inc['model_source']}) stages "
                  f"{json.dumps(inc['timings'])}", file=sys.stderr)
    _table(rows, args)


def _table(rows: list, args: argparse.Namespace) -> None:
    measured = [(s, b) for s, _, _, b, _ in rows if b]
    kernels = sorted({job["kernel"] for _, _, job, _, _ in rows if job})
    print(f"\n3 sources × N records ({args.data} encodings, schema {args.schema}), Dice floor "
          f"{args.floor} (anonlink: {stored_floor(args.floor, args.schema):.3f} on the stored "
          f"scale), seed {args.seed}, candidate budget {args.budget}, kernel {', '.join(kernels)}, "
          f"+new: {3 * args.increment} new records linked into the rest")
    print(f"{'N/source':>9} {'records':>8} {'job s':>7} {'job MiB':>8} {'anon s':>8} "
          f"{'anon MiB':>9} {'job/anon':>9} {'growth':>7} {'pairs':>10} {'held':>10} {'prec':>5} "
          f"{'rec':>5} {'+new s':>7}")
    prev = None
    for size, records, job, base, inc in rows:
        if base:
            b_wall, b_mem, mark = base["wall"], f"{base['rss_mib']:.0f}", ""
        elif measured and job:
            s0, b0 = measured[-1]
            b_wall, b_mem, mark = b0["wall"] * (size / s0) ** 2, "-", "~"
        else:
            b_wall, b_mem, mark = float("nan"), "-", ""
        j_wall = job["wall"] if job else float("nan")
        growth = ("" if prev is None or not job
                  else f"{math.log(j_wall / prev[1]) / math.log(size / prev[0]):.2f}")
        if job:
            prev = (size, j_wall)
        inc_s = (f"{inc['wall']:.1f}" + ("*" if inc.get("only") else "")) if inc else "-"
        print(f"{size:>9} {records or '-':>8} {j_wall:>7.1f} "
              f"{(job['rss_mib'] if job else float('nan')):>8.0f} {mark + f'{b_wall:.1f}':>8} "
              f"{b_mem:>9} {j_wall / b_wall:>9.2f} {growth:>7} "
              f"{(job['counts']['pairs_above_floor'] if job else 0):>10} "
              f"{(job['counts'].get('candidates_held', 0) if job else 0):>10} "
              f"{(job['precision'] if job else float('nan')):>5.3f} "
              f"{(job['recall'] if job else float('nan')):>5.3f} "
              f"{inc_s:>7}")
    if any(inc and inc.get("only") for *_, inc in rows):
        print("* incremental run alone: existing records labelled with their synthetic person, "
              "model by EM in the run (no full job before it)")


if __name__ == "__main__":
    main()
