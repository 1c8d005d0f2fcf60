"""``vinculo link`` (start a linkage job, optionally wait for it) and ``vinculo results``
(download a source's results and resolve them to local record ids with the source's own keys).

``vinculo results`` needs only the keys directory: each result carries the record's sealed
locator, which only the source's X25519 private key opens, checked against the record reference
(so the service cannot substitute another record's id).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from client_sdk.results import RESULT_COLUMNS, fetch_results, resolve_results, wait_for_job
from vinculo_cli.client import ServerOption, TokenOption, service_client

if TYPE_CHECKING:
    pass

__all__ = ["register"]

def link(
    server: ServerOption,
    token: TokenOption,
    wait: Annotated[bool, typer.Option("--wait", help="esperar el fin y mostrar el avance")] =
    False,
    upper: Annotated[float | None, typer.Option(
        "--upper", help="umbral superior (enlace automático); por defecto el del servicio")] =
    None,
    lower: Annotated[float | None, typer.Option(
        "--lower", help="umbral inferior (revisión manual); por defecto el del servicio")] =
    None,
) -> None:
    """Inicia un trabajo de enlace sobre todo el banco (start a linkage job).

    Imprime en stdout el número del trabajo. Con --wait muestra el avance en stderr y termina
    con error si el trabajo falla. Requiere un token de rol operator.

    Ejemplo: vinculo link --server http://127.0.0.1:8000 --token vnc_… --wait
    """
    with service_client(server, token) as client:
        job = client.start_job(upper_threshold=upper, lower_threshold=lower)
        print(job["id"])
        sys.stdout.flush()
        if wait:
            done = wait_for_job(client, int(job["id"]))
            counts = done.get("counts", {})
            print(
                f"trabajo {job['id']} terminado: {counts.get('records', 0)} registros, "
                f"{counts.get('persons_active', 0)} personas, "
                f"{counts.get('review_pairs_new', 0)} pares nuevos para revisión",
                file=sys.stderr,
            )


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
    app.command("link")(link)
    app.command("results")(results)
