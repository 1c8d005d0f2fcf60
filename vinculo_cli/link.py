"""``vinculo link``: start a linkage job over the whole bank, optionally waiting for it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from client_sdk.results import wait_for_job
from vinculo_cli.client import ServerOption, TokenOption, service_client

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


def register(app: typer.Typer) -> None:
    app.command("link")(link)
