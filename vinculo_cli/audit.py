"""``vinculo audit verify|export``: check the audit log offline, export it (docs/audit.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vinculo_cli.client import service_client

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["register"]

audit_app = typer.Typer(help="Bitácora de auditoría (audit log).", no_args_is_help=True)
DbOption = Annotated[str, typer.Option(
    "--db", envvar="VINCULO_DATABASE_URL", help="URL de la base de datos del servicio")]


def _key_beside_database(db: str) -> Ed25519PublicKey | None:
    """The public half of the service key ``vinculo serve`` keeps beside this database, when it
    is readable here (a convenience on the server; an auditor pins the key with --keys)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from linkage_service.settings import load_settings
    from vinculo_common.crypto import load_private_key
    from vinculo_common.errors import ConfigError

    try:
        settings = load_settings(database_url=db)
        path = settings.resolved_service_key_path()
        if not path.exists():
            return None
        secret = settings.service_key_passphrase
        key = load_private_key(path, secret.get_secret_value().encode() if secret else None)
    except ConfigError:
        return None
    if not isinstance(key, Ed25519PrivateKey):
        return None
    print(f"nota: clave del servicio leída de {path} (use --keys para fijar una clave "
          "independiente)", file=sys.stderr)
    return key.public_key()


@audit_app.command("verify")
def verify_cmd(
    db: DbOption,
    keys: Annotated[Path | None, typer.Option(
        "--keys", help="carpeta con service/signing.pub (clave pública del servicio)")] = None,
    service_key: Annotated[Path | None, typer.Option(
        "--service-key", help="archivo PEM de la clave pública del servicio")] = None,
    anchor: Annotated[Path | None, typer.Option(
        "--anchor", help="exportación JSONL anterior: su última entrada debe seguir igual")] = None,
) -> None:
    """Verifica la bitácora sin conexión: cadena de hashes y checkpoints firmados. Sale con
    código distinto de cero ante cualquier entrada editada, borrada, insertada o reordenada,
    o una cola truncada, nombrando la primera entrada mala.

    Ejemplo: vinculo audit verify --db sqlite:///banco.db --keys claves/
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from linkage_service.audit import verify
    from linkage_service.audit.export import anchor_from_export
    from linkage_service.db import make_engine
    from vinculo_common.crypto import load_public_key
    from vinculo_common.errors import ConfigError, InputError
    from vinculo_common.keyfiles import KeyDir

    key_path: Path | None = service_key or (KeyDir(keys).service_signing_pub if keys else None)
    public = None
    if key_path is not None:
        loaded = load_public_key(key_path)
        if not isinstance(loaded, Ed25519PublicKey):
            raise ConfigError(f"{key_path}: se esperaba una clave pública Ed25519")
        public = loaded
    else:
        public = _key_beside_database(db)
    ref = None
    if anchor is not None:
        try:
            ref = anchor_from_export(anchor.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"no se puede leer {anchor}: {exc.strerror}") from None
    engine = make_engine(db)
    try:
        report = verify(engine, public, anchor=ref)
    finally:
        engine.dispose()
    for note in report.notes:
        print(f"nota: {note}", file=sys.stderr)
    print(report.summary())
    report.raise_if_bad()


@audit_app.command("export")
def export_cmd(
    output: Annotated[Path | None, typer.Option(
        "--output", help="archivo de salida (por defecto stdout)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl o csv")] = "jsonl",
    db: Annotated[str | None, typer.Option(
        "--db", help="leer directamente de la base de datos (sin servidor)")] = None,
    server: Annotated[str | None, typer.Option("--server", envvar="VINCULO_SERVER")] = None,
    token: Annotated[str | None, typer.Option("--token", envvar="VINCULO_TOKEN")] = None,
) -> None:
    """Exporta la bitácora (JSON lines o CSV) desde el servidor (token auditor) o la base.

    Ejemplo: vinculo audit export --server http://127.0.0.1:8000 --token vnc_… --format csv --output bitacora.csv
    """  # noqa: E501
    from linkage_service.audit.export import export_lines, iter_entries
    from vinculo_common.errors import InputError

    if db:
        from linkage_service.db import make_engine

        engine = make_engine(db)
        try:
            with engine.connect() as conn:
                text = "".join(export_lines(iter_entries(conn), fmt=fmt))
        finally:
            engine.dispose()
    elif server and token:

        with service_client(server, token) as client:
            text = client.audit_export(fmt=fmt)
    else:
        raise InputError("indique --db, o --server y --token (nothing to export from)")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(json.dumps({"output": str(output), "bytes": len(text.encode())}))


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
