"""``vinculo synth``: synthetic registries (RETA, SISTRA, care) with a known truth."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def synth(
    out: Annotated[Path, typer.Option("--out", help="Carpeta de salida (output folder).")],
    people: Annotated[
        int, typer.Option("--people", help="Número de personas ficticias (number of people).")
    ] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Semilla (seed): mismo valor, mismos datos.")]
    = 1,
    profile_name: Annotated[
        str, typer.Option("--profile", help="Mezcla de errores: clean, world, default, hard, "
                          "alt, foreign, foreign-1to1 (registro no peruano).")
    ] = "default",
    bad_rows: Annotated[
        float, typer.Option("--bad-rows", help="Fracción de filas inutilizables añadidas por "
                            "registro (0 a 0.5; 0 = salida limpia). Quedan en bad_rows.csv.")
    ] = 0.0,
) -> None:
    """Genera registros sintéticos (personas ficticias) con la verdad conocida.

    Writes reta.csv, sistra.csv and care.csv in the canonical layout, truth.csv
    (source,record_id,person_id), quirks.csv (source,record_id,quirks), relations.csv (twins,
    sisters, namesakes, mother/daughter), bad_rows.csv and README.txt (every quirk's rate).
    Harder than real exports on purpose: see docs/synthetic-data.md.

    Ejemplo: vinculo synth --out datos --people 3000 --seed 7 --profile hard
    """
    from dataclasses import replace

    from vinculo_lab.synth import generate, profile, write_dataset

    config = replace(profile(profile_name), bad_rows=bad_rows)
    result = generate(people=people, seed=seed, config=config)
    write_dataset(result, out)
    print(f"{len(result.people)} personas, {len(result.truth)} registros"
          f" (+{len(result.bad_rows)} filas malas) en {out} en {result.seconds:.1f} s "
          f"(people, records, bad rows written)", file=sys.stderr)
    print(out)


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
