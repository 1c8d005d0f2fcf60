"""``vinculo stats export``: download the published statistics tables and write them as CSV,
JSON, README, PNG charts and (``--html``) an offline report.

There is deliberately no command that computes statistics from a local snapshot: analysts
never hold record-level data; the service suppresses before anything leaves it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vinculo_cli.client import ServerOption, TokenOption

__all__ = ["register", "stats_app"]

stats_app = typer.Typer(help="Estadísticas publicables del banco (statistics).",
                        no_args_is_help=True)


@stats_app.command("export")
def export(
    server: ServerOption,
    token: TokenOption,
    output: Annotated[Path, typer.Option("--output", help="carpeta de salida")],
    min_cell: Annotated[int | None, typer.Option(
        "--min-cell", help="celda mínima (el servicio rechaza valores bajo su piso)")] = None,
    html: Annotated[bool, typer.Option(
        "--html", help="también un informe HTML que se abre sin conexión")] = False,
) -> None:
    """Descarga las tablas estadísticas (ya suprimidas) y las escribe: un CSV y un JSON por
    tabla, README.md, gráficos PNG y, con --html, informe.html (statistics export).

    Imprime en stdout la ruta de cada archivo escrito.

    Ejemplo: vinculo stats export --server http://localhost:8000 --token vnc_… --output est --html
    """
    from client_sdk.stats_export import export_tables, fetch_tables

    tables = fetch_tables(server=server, token=token, min_cell=min_cell)
    files = export_tables(tables, output=output, html_report=html)
    print(f"{len(tables)} tablas exportadas en {output}", file=sys.stderr)
    for path in files:
        print(path)


def register(app: typer.Typer) -> None:
    app.add_typer(stats_app, name="stats")
