"""``vinculo results``: download a source's results and resolve them to its local record ids.

It needs only the keys directory: each result carries the record's sealed locator, which only
the source's X25519 private key opens, checked against the record reference (so the service
cannot substitute another record's id).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

from client_sdk.results import RESULT_COLUMNS, fetch_results, resolve_results
from vinculo_cli.client import ServerOption, TokenOption, service_client

__all__ = ["register"]


def results(
    source: Annotated[str, typer.Option("--source", help="su fuente (reta, sistra, care…)")],
    server: ServerOption,
    token: TokenOption,
    keys: Annotated[Path, typer.Option("--keys", help="carpeta de claves de la institución")],
    output: Annotated[Path, typer.Option("--output", help="archivo CSV de salida")],
) -> None:
    """Descarga los resultados de su fuente y los resuelve a sus record_id locales.

    Para cada registro propio: record_id, person_id (seudónimo), en qué otros registros
    aparece la persona (other_sources) con fechas y lugares del hecho (other_events), y sus
    otros registros en la misma fuente. Solo necesita la carpeta de claves, no la exportación.

    Ejemplo: vinculo results --source reta --server http://srv:8000 --keys claves --output r.csv
    """
    from vinculo_common.keyfiles import check_source_name

    check_source_name(source)
    with service_client(server, token) as client:
        fetched = list(fetch_results(client))
    rows = resolve_results(fetched, keys_dir=keys, source=source)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(RESULT_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(output)
    linked = sum(1 for r in rows if r["other_sources"])
    print(f"{len(rows)} registros escritos en {output}; {linked} aparecen en otros registros",
          file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("results")(results)
