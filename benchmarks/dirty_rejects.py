"""Measure: the share of rows ``vinculo encode`` rejects on a dirty export.

    .venv/bin/python benchmarks/dirty_rejects.py                      # 3000 people, seed 11
    .venv/bin/python benchmarks/dirty_rejects.py --people 3000 --seed 11 --share 0.16

Generates the three synthetic registries (``vinculo_lab.synth``, default profile), then a dirty
copy in which ``--share`` of the rows get one corruption a hand-typed registry shows: month and
day swapped, the 30th of February, month 13 with day 45, a birth early in the 1900s, an age of
111–250, an unknown or malformed UBIGEO, an unknown sex code, a malformed DNI, an impossible or
future event date. Each export is encoded with fresh keys (``client_sdk.encode_export.encode_file``)
and the table gives, per source, rows read, records sent complete, records sent with a field
dropped or cut down, and rows rejected (share of rows read). The goal (issue 13): under 1 %
rejected, none for a bad date alone. Run with an older ``client_sdk`` on ``PYTHONPATH`` (e.g.
``git archive <commit> client_sdk vinculo_common schemas | tar -x -C old``) for the figures
before. Synthetic people only.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from pathlib import Path

SOURCES = ("reta", "sistra", "care")
KINDS = ("swap", "day", "old", "age", "ubigeo", "sex", "doc", "event", "month13")


def corrupt(row: dict[str, str], kind: str, rng: random.Random) -> None:
    """One corruption of ``kind`` in ``row`` (in place)."""
    birth = row["fecha_nacimiento"]
    iso = len(birth) == 10 and birth[4] == "-"
    if kind == "swap" and iso:
        row["fecha_nacimiento"] = f"{birth[:4]}-{birth[8:]}-{birth[5:7]}"
    elif kind == "day" and birth:
        row["fecha_nacimiento"] = birth[:4] + "-02-30" if iso else "30/02/" + birth[-4:]
    elif kind == "old":
        row["fecha_nacimiento"] = (f"19{rng.randint(0, 20):02d}-{rng.randint(1, 12):02d}-"
                                   f"{rng.randint(1, 28):02d}")
        row["edad"] = ""
    elif kind == "age":
        row["edad"] = str(rng.randint(111, 250))
    elif kind == "ubigeo":
        row["ubigeo_residencia"] = rng.choice(["159999", "LIMA", "1501999", "99"])
    elif kind == "sex":
        row["sexo"] = rng.choice(["X", "9", "OTRO"])
    elif kind == "doc":
        row["tipo_documento"], row["numero_documento"] = "DNI", "12AB"
    elif kind == "event":
        row["fecha_hecho"] = rng.choice(["2031-01-01", "2021-02-30", "2021-13-01"])
    elif kind == "month13" and birth:
        row["fecha_nacimiento"] = birth[:4] + "-13-45" if iso else "45/13/" + birth[-4:]


def dirty_copy(src: Path, dst: Path, *, share: float, seed: int) -> None:
    rng = random.Random(seed)
    dst.mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        with (src / f"{source}.csv").open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows, fields = list(reader), list(reader.fieldnames or [])
        for row in rows:
            if rng.random() < share:
                corrupt(row, rng.choice(KINDS), rng)
        with (dst / f"{source}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--share", type=float, default=0.16)
    args = parser.parse_args(argv)

    from client_sdk.encode_export import encode_file
    from client_sdk.keys import init_keys
    from vinculo_lab.synth import generate, profile, write_dataset

    with tempfile.TemporaryDirectory(prefix="vinculo-dirty-") as tmp:
        root = Path(tmp)
        write_dataset(generate(people=args.people, seed=args.seed, config=profile("default")),
                      root / "clean")
        dirty_copy(root / "clean", root / "dirty", share=args.share, seed=args.seed)
        init_keys(keys_dir=root / "keys", sources=list(SOURCES))
        print(f"{'export':<6} {'source':<7} {'rows':>6} {'complete':>9} {'partial':>8} "
              f"{'rejected':>9}")
        for export in ("clean", "dirty"):
            for source in SOURCES:
                summary = encode_file(source=source, input_path=root / export / f"{source}.csv",
                                      keys_dir=root / "keys", output=root / f"{source}.vnb")
                rows, rejected = summary.rows_read, summary.rejected
                # an SDK before issue 13 has no complete/partial counts: shown as "-"
                complete = getattr(summary, "complete", "-")
                partial = getattr(summary, "partial", "-")
                print(f"{export:<6} {source:<7} {rows:>6} {complete:>9} {partial:>8} "
                      f"{rejected:>5} ({100 * rejected / rows:.2f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
