"""``vinculo reid request|approve|deny|fetch|open``: the re-identification workflow
(docs/reid.md). ``open`` runs at the institution with nothing but its keys directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vinculo_cli.client import ServerOption, TokenOption, service_client
from vinculo_common.errors import InputError

__all__ = ["register"]

reid_app = typer.Typer(
    help="Reidentificación con solicitud auditada y aprobada (re-identification).",
    no_args_is_help=True,
)
RequestArg = Annotated[str, typer.Argument(help="id de la solicitud (rq-…)")]


@reid_app.command("request")
def request(
    server: ServerOption,
    token: TokenOption,
    person: Annotated[list[str], typer.Option("--person", help="seudónimo (P-…); repetible")],
    basis: Annotated[str, typer.Option("--basis", help="base legal")],
    purpose: Annotated[str, typer.Option("--purpose", help="finalidad")],
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="limitar a estas fuentes; repetible")] = None,
) -> None:
    """Solicita reidentificar personas (token reid_requester); imprime el id de la solicitud.

    Ejemplo: vinculo reid request --server http://127.0.0.1:8000 --token vnc_… --person P-7KQ2M4XZ3A --basis "Ley 28950, art. 7" --purpose "Carpeta fiscal 123-2025"
    """  # noqa: E501

    with service_client(server, token) as client:
        result = client.create_reid_request(
            persons=person, legal_basis=basis, purpose=purpose, sources=source or None)
    need = result["approvals_required"]
    print(f"solicitud creada; requiere {need} aprobación(es) de otra persona; vence "
          f"{result['expires_at']}", file=sys.stderr)
    print(result["id"])


@reid_app.command("approve")
def approve(
    request_id: RequestArg,
    server: ServerOption,
    token: TokenOption,
    reason: Annotated[str | None, typer.Option("--reason", help="motivo")] = None,
) -> None:
    """Aprueba una solicitud (token reid_approver de otra persona); imprime su estado.

    Ejemplo: vinculo reid approve rq-3f2a9c0d11e4b7a8 --server http://127.0.0.1:8000 --token vnc_… --reason "procede"
    """  # noqa: E501

    with service_client(server, token) as client:
        result = client.approve_reid(request_id, reason=reason)
    for pkg in result["packages"]:
        print(f"paquete para {pkg['source']}: {pkg['record_count']} registros", file=sys.stderr)
    print(result["status"])


@reid_app.command("deny")
def deny(
    request_id: RequestArg,
    server: ServerOption,
    token: TokenOption,
    reason: Annotated[str, typer.Option("--reason", help="motivo (obligatorio)")],
) -> None:
    """Deniega una solicitud con un motivo (token reid_approver); imprime su estado.

    Ejemplo: vinculo reid deny rq-3f2a9c0d11e4b7a8 --server http://127.0.0.1:8000 --token vnc_… --reason "sin base legal"
    """  # noqa: E501

    with service_client(server, token) as client:
        print(client.deny_reid(request_id, reason=reason)["status"])


@reid_app.command("fetch")
def fetch(
    request_id: RequestArg,
    source: Annotated[str, typer.Option("--source", help="fuente titular (la del token)")],
    server: ServerOption,
    token: TokenOption,
    output: Annotated[Path, typer.Option("--output", help="archivo del paquete a escribir")],
) -> None:
    """Descarga el paquete sellado de su fuente (token uploader de esa fuente, tras la
    aprobación y antes del vencimiento); imprime la ruta escrita.

    Ejemplo: vinculo reid fetch rq-3f2a9c0d11e4b7a8 --source reta --server http://127.0.0.1:8000 --token vnc_… --output rq.reta.vrp
    """  # noqa: E501
    from vinculo_common.crypto import write_private

    with service_client(server, token) as client:
        content = client.fetch_reid_package(request_id, source=source)
    write_private(output, content)  # 0600: it names records of victims, sealed or not
    print(f"paquete de {len(content)} bytes", file=sys.stderr)
    print(output)


@reid_app.command("open")
def open_(
    package: Annotated[Path, typer.Argument(help="paquete descargado con vinculo reid fetch")],
    source: Annotated[str, typer.Option("--source", help="su fuente")],
    keys: Annotated[Path, typer.Option("--keys", help="carpeta de claves de la institución")],
    service_key: Annotated[Path | None, typer.Option(
        "--service-key", help="clave pública del servicio fijada (si no está en --keys)")] = None,
    with_person: Annotated[bool, typer.Option(
        "--with-person", help="imprimir CSV person_id,record_id")] = False,
) -> None:
    """Verifica la firma del servicio, descifra el paquete con las claves de su fuente e imprime
    los record_id locales, uno por línea. Todo ocurre localmente.

    Ejemplo: vinculo reid open rq.reta.vrp --source reta --keys claves/
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from client_sdk.reid import open_package_records
    from vinculo_common.crypto import load_public_key

    try:
        data = package.read_bytes()
    except OSError as exc:
        raise InputError(f"no se puede leer el paquete {package}: {exc.strerror}") from None
    pinned = None
    if service_key is not None:
        key = load_public_key(service_key)
        if not isinstance(key, Ed25519PublicKey):
            raise InputError("--service-key debe ser una clave pública Ed25519")
        pinned = key
    rows = open_package_records(data, source=source, keys_dir=keys, service_public_key=pinned)
    if with_person:
        print("person_id,record_id")
    for person_id, record_id in rows:
        print(f"{person_id},{record_id}" if with_person else record_id)
    print(f"{len(rows)} registros", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.add_typer(reid_app, name="reid")
