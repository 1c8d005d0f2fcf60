"""Benchmark: the whole ``vinculo encode`` pipeline against plain clkhash, on one core.

    .venv/bin/python benchmarks/encode.py                       # 100k synthetic records
    .venv/bin/python benchmarks/encode.py --rows 20000
    .venv/bin/python benchmarks/encode.py --memory-rows 1000000 # also peak memory at 1M rows

Each measurement runs in its own subprocess (one process, so one core), so clkhash's
in-process caches start cold for both and peak memory (``ru_maxrss``) is the run's own.

- **pipeline**: ``client_sdk.encode.encode_file`` on a canonical CSV: read, validate,
  standardize, encode (CLK, record_ref, sealed locator, doc_hash, attributes), sign, write.
- **clkhash**: ``clkhash.clk.generate_clks`` (``max_workers=1``, default validation) with the
  same schema and secret on the same records' feature values, prepared beforehand (not timed).

Synthetic people only, from a tiny deterministic generator (seeded).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GIVEN_F = ["MARIA", "ROSA", "ANA", "LUZ", "CARMEN", "JUANA", "YESENIA", "MILAGROS", "KATHERINE",
           "YORGELIS", "DAYANA", "FLOR", "ELIZABETH", "SONIA", "NORMA", "ISABEL", "RUTH", "LISBETH"]
GIVEN_M = ["JOSE", "LUIS", "JUAN", "CARLOS", "JORGE", "MIGUEL", "PEDRO", "WILMER", "ELVIS"]
SURNAMES = ["QUISPE", "FLORES", "MAMANI", "HUAMAN", "RODRIGUEZ", "SANCHEZ", "GARCIA", "ROJAS",
            "CONDORI", "TORRES", "DIAZ", "LOPEZ", "CHAVEZ", "RAMOS", "VASQUEZ", "MENDOZA",
            "DE LA CRUZ", "DEL AGUILA", "CCAHUANA", "ÑAUPARI", "PEÑA", "YUPANQUI", "TICONA",
            "APAZA", "CUTIPA", "HUANCA", "PACHECO", "ESPINOZA", "CASTILLO", "GUTIERREZ"]
FIELDS = ["record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo",
          "fecha_nacimiento", "edad", "tipo_documento", "numero_documento", "nacionalidad",
          "ubigeo_nacimiento", "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho",
          "forma_explotacion"]


def _ubigeos() -> list[str]:
    from vinculo_common.paths import ubigeo_dir

    with open(ubigeo_dir() / "ubigeo_distrito.csv", encoding="utf-8") as fh:
        codes = [row["inei"] for row in csv.DictReader(fh)]
    return [c for c in codes if len(c) == 6 and c.isdigit()]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` synthetic records in the canonical layout (deterministic for a seed)."""
    rng = random.Random(seed)
    ubigeos = _ubigeos()
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(FIELDS)
        for i in range(rows):
            female = rng.random() < 0.8
            given = rng.choice(GIVEN_F if female else GIVEN_M)
            if rng.random() < 0.5:
                given += " " + rng.choice(GIVEN_F if female else GIVEN_M)
            year = rng.randint(1975, 2012)
            event_year = rng.randint(2015, 2024)
            if rng.random() < 0.7:
                birth, age = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", ""
            else:
                birth, age = "", str(max(event_year - year, 0))
            has_doc = rng.random() < 0.6
            out.writerow([
                f"B-{i:08d}", given, rng.choice(SURNAMES),
                rng.choice(SURNAMES) if rng.random() < 0.85 else "",
                "F" if female else "M", birth, age,
                "DNI" if has_doc else "", f"{rng.randint(0, 99_999_999):08d}" if has_doc else "",
                "PER" if rng.random() < 0.8 else "VEN",
                rng.choice(ubigeos), rng.choice(ubigeos),
                f"{event_year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice(ubigeos), rng.choice(["sexual", "laboral", "sexual;laboral"]),
            ])


def _phase_pipeline(csv_path: Path, keys: Path, out: Path) -> dict:
    from client_sdk.encode import encode_file

    start = time.perf_counter()
    summary = encode_file(source="bench", input_path=csv_path, keys_dir=keys,
                          output=out / "bench.vnb")
    seconds = time.perf_counter() - start
    return {"records": summary.encoded, "rejected": summary.rejected, "seconds": seconds,
            "batch_bytes": (out / "bench.vnb").stat().st_size}


def _phase_clkhash(csv_path: Path, keys: Path) -> dict:
    from client_sdk.clk_backend import reference_clks
    from client_sdk.encoding import feature_values
    from client_sdk.keys import load_linkage_secret
    from client_sdk.pipeline import standardize_export
    from vinculo_common.schemas import load_linkage_schema

    schema = load_linkage_schema()
    names = [f["identifier"] for f in schema["features"]]
    rows = [feature_values(r, names) for chunk in standardize_export(csv_path) for r in chunk]
    secret = load_linkage_secret(keys)
    start = time.perf_counter()
    clks = reference_clks(rows, schema, secret=secret)
    seconds = time.perf_counter() - start
    return {"records": len(clks), "seconds": seconds}


def _child(phase: str, csv_path: Path, keys: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--csv", str(csv_path), "--keys", str(keys),
         "--out", str(out)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
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

    from client_sdk.keys import init_keys

    with tempfile.TemporaryDirectory(prefix="vinculo-bench-") as tmp:
        work = Path(tmp)
        init_keys(keys_dir=work / "keys", sources=["bench"])
        csv_path = work / "export.csv"
        generate(csv_path, args.rows, args.seed)
        print(f"{args.rows:,} synthetic records, schema vinculo-v1, one process each",
              file=sys.stderr)
        pipe = _child("pipeline", csv_path, work / "keys", work)
        ref = _child("clkhash", csv_path, work / "keys", work)
        pipe_rate = pipe["records"] / pipe["seconds"]
        ref_rate = ref["records"] / ref["seconds"]
        print(f"{'run':<34}{'records':>10}{'seconds':>10}{'records/s':>12}{'peak MB':>10}")
        print(f"{'vinculo encode (whole pipeline)':<34}{pipe['records']:>10,}"
              f"{pipe['seconds']:>10.2f}{pipe_rate:>12,.0f}{pipe['max_rss_mb']:>10.0f}")
        print(f"{'clkhash generate_clks':<34}{ref['records']:>10,}"
              f"{ref['seconds']:>10.2f}{ref_rate:>12,.0f}{ref['max_rss_mb']:>10.0f}")
        print(f"ratio vinculo/clkhash: {pipe_rate / ref_rate:.2f}x (goal >= 0.8x); "
              f"batch {pipe['batch_bytes'] / pipe['records']:.0f} bytes/record")
        if args.memory_rows:
            big = work / "big.csv"
            generate(big, args.memory_rows, args.seed + 1)
            mem = _child("pipeline", big, work / "keys", work)
            print(f"{'vinculo encode, memory run':<34}{mem['records']:>10,}"
                  f"{mem['seconds']:>10.2f}{mem['records'] / mem['seconds']:>12,.0f}"
                  f"{mem['max_rss_mb']:>10.0f}  (goal < 500 MB)")


if __name__ == "__main__":
    main()
