"""Benchmark: the whole ``vinculo encode`` pipeline against plain clkhash, on one core.

    .venv/bin/python benchmarks/encode.py                       # 100k synthetic records, 3 rounds
    .venv/bin/python benchmarks/encode.py --rows 20000 --rounds 5
    .venv/bin/python benchmarks/encode.py --memory-rows 1000000 # also peak memory at 1M rows

Both sides get the same records (one export of ``--rows`` rows) and the same linkage schema and
secret. Each measurement runs in its own subprocess (one process, so one core; clkhash's
in-process caches start cold for both; peak memory, ``ru_maxrss``, is the run's own), and the
two sides are run alternately ``--rounds`` times: the machine may be shared, so the figure to
quote is the **median ratio** of the rounds. Imports happen before the clock starts on both
sides.

- **vinculo encode**: ``client_sdk.encode_export.encode_file`` on the CSV export: load keys and
  schema, read, validate, standardize, encode (CLK, record_ref, sealed locator, doc_hash,
  attributes), sign, write the batch and the rejects report.
- **clkhash**: what a user of plain clkhash 0.18.3 runs: parse the same schema
  (``clkhash.schema.from_json_dict``) and call ``clkhash.clk.generate_clks(rows, schema,
  secret, max_workers=1)`` with its default ``validate=True``, on the records' feature values
  (prepared beforehand by our standardization, not timed). ``max_workers=1`` because the default
  (None) starts one process per CPU for 10k records or more.

Records come from ``vinculo_lab.synth`` (realistic Peruvian and Venezuelan names with their
frequencies, every quirk of the canonical spec, 1% unusable rows that go to the rejects
report): the three registries of one synthetic population, concatenated and cut at ``--rows``.
The memory run repeats that export with suffixed record_ids until it has ``--memory-rows``
rows. Synthetic people only.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCE = "bench"
RECORDS_PER_PERSON = 2.2  # what the default profile yields over the three registries


def write_export(path: Path, rows: int, seed: int) -> None:
    """Write ``rows`` synthetic records in the canonical layout (deterministic for a seed)."""
    from vinculo_lab.synth import CANONICAL_COLUMNS, SOURCES, generate, profile

    config = replace(profile("default"), bad_rows=0.01)
    result = generate(people=max(10, int(rows / RECORDS_PER_PERSON) + 10), seed=seed,
                      config=config)
    table = [row for source in SOURCES for row in result.tables[source]]
    while len(table) < rows:  # the population fell short: top up with renamed copies
        table += [[f"{row[0]}-{len(table)}", *row[1:]] for row in table[: rows - len(table)]]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CANONICAL_COLUMNS)
        writer.writerows(table[:rows])


def repeat_export(source: Path, target: Path, rows: int) -> None:
    """Copy ``source`` into ``target`` again and again (record_id suffixed) up to ``rows``."""
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        base = list(reader)
    written = 0
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        copy = 0
        while written < rows:
            part = base[: rows - written]
            writer.writerows([f"{row[0]}-{copy}" if row[0] else "", *row[1:]] for row in part)
            written += len(part)
            copy += 1


def _phase_pipeline(csv_path: Path, keys: Path, out: Path) -> dict:
    from client_sdk.encode_export import encode_file

    # What encode_file imports lazily, imported before the clock (as on the other side).
    for module in ("pandas", "client_sdk.record_encoder", "client_sdk.keys", "client_sdk.pipeline",
                   "vinculo_common.batch"):
        importlib.import_module(module)

    cpu, start = time.process_time(), time.perf_counter()
    summary = encode_file(source=SOURCE, input_path=csv_path, keys_dir=keys,
                          output=out / "bench.vnb")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"records": summary.encoded, "rejected": summary.rejected, "seconds": seconds,
            "cpu": cpu, "batch_bytes": (out / "bench.vnb").stat().st_size}


def _phase_clkhash(csv_path: Path, keys: Path) -> dict:
    from clkhash import clk
    from clkhash import schema as clk_schema

    from client_sdk.clk_backend import clkhash_part
    from client_sdk.keys import load_linkage_secret
    from client_sdk.pipeline import standardize_export
    from client_sdk.record_encoder import feature_values
    from vinculo_common.schemas import load_linkage_schema

    schema = load_linkage_schema()
    names = [f["identifier"] for f in schema["features"]]
    rows = [feature_values(r, names) for chunk in standardize_export(csv_path) for r in chunk]
    secret = load_linkage_secret(keys)
    part = clkhash_part(schema)
    cpu, start = time.process_time(), time.perf_counter()
    parsed = clk_schema.from_json_dict(part)
    clks = clk.generate_clks(rows, parsed, secret, max_workers=1)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"records": len(clks), "seconds": seconds, "cpu": cpu}


def _child(phase: str, csv_path: Path, keys: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--csv", str(csv_path), "--keys", str(keys),
         "--out", str(out)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _line(label: str, run: dict) -> str:
    return (f"{label:<34}{run['records']:>10,}{run['seconds']:>9.2f}{run['cpu']:>9.2f}"
            f"{run['records'] / run['seconds']:>11,.0f}{run['max_rss_mb']:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the two sides this many times; the median ratio counts")
    parser.add_argument("--memory-rows", type=int, default=0,
                        help="also measure peak memory of a pipeline run this large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=["pipeline", "clkhash"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keys", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        result = (_phase_pipeline(args.csv, args.keys, args.out) if args.phase == "pipeline"
                  else _phase_clkhash(args.csv, args.keys))
        result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    if args.rows < 1 or args.rounds < 1:
        raise SystemExit("--rows and --rounds must be at least 1")

    from client_sdk.keys import init_keys
    from vinculo_common.schemas import DEFAULT_SCHEMA_ID

    with tempfile.TemporaryDirectory(prefix="vinculo-bench-") as tmp:
        work = Path(tmp)
        init_keys(keys_dir=work / "keys", sources=[SOURCE])
        csv_path = work / "export.csv"
        write_export(csv_path, args.rows, args.seed)
        print(f"{args.rows:,} synthetic records (vinculo_lab.synth, default profile, 1% bad "
              f"rows), schema {DEFAULT_SCHEMA_ID}, one process each, {args.rounds} rounds",
              file=sys.stderr)
        print(f"{'run':<34}{'records':>10}{'wall s':>9}{'cpu s':>9}{'records/s':>11}"
              f"{'peak MB':>9}")
        pipes, refs = [], []
        for round_ in range(args.rounds):
            order = ("pipeline", "clkhash") if round_ % 2 == 0 else ("clkhash", "pipeline")
            for phase in order:
                if phase == "pipeline":
                    pipes.append(_child("pipeline", csv_path, work / "keys", work))
                    print(_line(f"vinculo encode (whole pipeline) #{round_ + 1}", pipes[-1]))
                else:
                    refs.append(_child("clkhash", csv_path, work / "keys", work))
                    print(_line(f"clkhash generate_clks #{round_ + 1}", refs[-1]))
        ratios = [(p["records"] / p["seconds"]) / (r["records"] / r["seconds"])
                  for p, r in zip(pipes, refs, strict=True)]
        cpu_ratios = [(p["records"] / p["cpu"]) / (r["records"] / r["cpu"])
                      for p, r in zip(pipes, refs, strict=True)]
        pipe_rate = statistics.median(p["records"] / p["seconds"] for p in pipes)
        ref_rate = statistics.median(r["records"] / r["seconds"] for r in refs)
        print(f"median records/s: vinculo encode {pipe_rate:,.0f}, clkhash {ref_rate:,.0f}")
        print(f"ratio vinculo/clkhash (records/s, wall): median {statistics.median(ratios):.2f}x "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; goal >= 0.8x); by CPU time "
              f"{statistics.median(cpu_ratios):.2f}x")
        print(f"{pipes[0]['rejected']:,} rows rejected; batch "
              f"{pipes[0]['batch_bytes'] / pipes[0]['records']:.0f} bytes/record")
        if args.memory_rows:
            big = work / "big.csv"
            repeat_export(csv_path, big, args.memory_rows)
            mem = _child("pipeline", big, work / "keys", work)
            print(_line("vinculo encode, memory run", mem) + "  (goal < 500 MB)")


if __name__ == "__main__":
    main()
