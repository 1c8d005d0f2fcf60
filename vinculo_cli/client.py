"""Commands an institution or operator runs against a server: ``vinculo upload`` (and, from
other modules of this area, ``link`` and ``results``).

Shared pieces for such commands: :data:`ServerOption`, :data:`TokenOption` and
:func:`service_client` (``--token`` falls back to ``VINCULO_TOKEN``, so tokens need not sit in
shell history).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from client_sdk.api_client import ServiceClient

__all__ = ["ServerOption", "TokenOption", "register", "service_client"]

ServerOption = Annotated[
    str, typer.Option("--server", envvar="VINCULO_SERVER", help="URL del servicio de enlace")
]
TokenOption = Annotated[
    str, typer.Option("--token", envvar="VINCULO_TOKEN", help="token de API (vnc_…)")
]


def service_client(server: str, token: str) -> ServiceClient:
    """The SDK client for ``--server``/``--token``."""
    from client_sdk.api_client import ServiceClient

    return ServiceClient(server, token)


def upload(
    batch: Annotated[Path, typer.Argument(help="lote codificado (.vnb) de vinculo encode")],
    server: ServerOption,
    token: TokenOption,
) -> None:
    """Sube un lote codificado al servicio (upload an encoding batch).

    Imprime en stdout la carga en JSON; repetir el mismo lote no cambia nada.

    Ejemplo: vinculo upload reta.vnb --server http://127.0.0.1:8000 --token vnc_…
    """
    with service_client(server, token) as client:
        result = client.upload(batch)
    state = "nueva" if result["created"] else "ya existía, sin cambios"
    if result.get("status") == "migration":  # a migration batch (vinculo admin schema-migrate)
        print(f"carga {result['id']} ({state}): lote de migración al esquema "
              f"{result.get('schema_id', '')}, {result['record_count']} registros recodificados "
              "(migration batch)", file=sys.stderr)
    else:
        print(
            f"carga {result['id']} ({state}): {result['record_count']} registros, "
            f"{result['new_count']} nuevos, {result['updated_count']} actualizados",
            file=sys.stderr,
        )
    print(json.dumps(result, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command("upload")(upload)
