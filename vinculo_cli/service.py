"""Commands of the service's operator: ``vinculo serve`` and ``vinculo admin …``.

They build the same app and call the same storage functions as the API.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from linkage_service.settings import Settings

__all__ = ["register"]

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="VINCULO_DATABASE_URL",
                 help="URL de la base: sqlite:///ARCHIVO o postgresql+psycopg://…"),
]
_CLI_ACTOR = "cli:admin"

admin_app = typer.Typer(help="Administración del servicio (base de datos, fuentes, tokens).",
                        no_args_is_help=True)
source_app = typer.Typer(help="Fuentes (instituciones) registradas.", no_args_is_help=True)
token_app = typer.Typer(help="Tokens de API.", no_args_is_help=True)
admin_app.add_typer(source_app, name="source")
admin_app.add_typer(token_app, name="token")


def _settings(db: str | None, **overrides: object) -> Settings:
    from linkage_service.settings import load_settings

    given = {name: value for name, value in overrides.items() if value is not None}
    return load_settings(database_url=db, **given) if db else load_settings(**given)


def _engine(db: str | None) -> Engine:
    from linkage_service.db import make_engine, migrate

    engine = make_engine(_settings(db).database_url)
    migrate(engine)
    return engine


def serve(
    db: DbOption = None,
    keys: Annotated[Path | None, typer.Option(
        "--keys", envvar="VINCULO_KEYS_DIR",
        help="carpeta de claves de la ceremonia: el servicio firma con su service/signing.key")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="interfaz de red")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="puerto TCP")] = 8000,
) -> None:
    """Inicia el servicio de enlace (start the linkage service).

    Migra la base de datos. Con --keys firma paquetes y puntos de control con la clave del
    servicio de la ceremonia (DIR/service/signing.key; sin ella no arranca); sin --keys usa
    (y crea si falta) una clave propia junto a la base (desarrollo). El registro (stderr) es
    una línea JSON por evento.

    Ejemplo: vinculo serve --db sqlite:///banco.db --keys claves --port 8000
    """
    import uvicorn

    from linkage_service.app import create_app
    from linkage_service.logs import configure_logging, log_event

    settings = _settings(db, keys_dir=keys)
    configure_logging(settings.log_level, everything=True)
    app = create_app(settings)
    log_event("service.listening", url=f"http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                log_config=None)


@admin_app.command("migrate")
def admin_migrate(db: DbOption = None) -> None:
    """Aplica las migraciones pendientes a la base de datos (apply migrations).

    Ejemplo: vinculo admin migrate --db sqlite:///banco.db
    """
    from linkage_service.db import current_revision

    engine = _engine(db)
    print(f"base de datos en la revisión {current_revision(engine)}")


def _read_public(path: Path, what: str) -> str:
    if not path.is_file():
        private = path.with_suffix(".key")
        hint = (" (hay una clave privada al lado: no se usa, entregue solo los archivos "
                "públicos)") if private.exists() else ""
        from vinculo_common.errors import ConfigError

        raise ConfigError(f"falta {what}: {path}{hint}")
    return path.read_text(encoding="ascii").strip()


@source_app.command("add")
def source_add(
    source: Annotated[str, typer.Option("--source", help="nombre de la fuente: reta, sistra…")],
    keys: Annotated[Path, typer.Option("--keys", help="carpeta de claves (solo se leen las "
                                                      "públicas)")],
    db: DbOption = None,
) -> None:
    """Registra una fuente con sus claves públicas (register a source).

    Lee solo sources/S/signing.pub, sources/S/box.pub y linkage_secret.kcv; nunca una clave
    privada.

    Ejemplo: vinculo admin source add --db sqlite:///banco.db --source reta --keys claves/
    """
    name, signing, box = register_source_from_keys(source=source, keys=keys, db=db)
    print(f"fuente {name} registrada (firma {signing}, cifrado {box})")


def register_source_from_keys(*, source: str, keys: Path, db: str | None) -> tuple[str, str, str]:
    """What ``vinculo admin source add`` does, without printing: (name, signing key id, box
    key id). Also used by ``vinculo evaluate`` to set up its own service."""
    from sqlmodel import Session

    from linkage_service.api.deps import audit_in_session
    from linkage_service.models import SourceCreate
    from linkage_service.store.sources import register_source
    from vinculo_common.keyfiles import KeyDir

    keydir = KeyDir(keys)
    paths = keydir.source(source)
    create = SourceCreate(
        name=source,
        secret_check=_read_public(keydir.linkage_kcv, "el valor de control del secreto (.kcv)"),
        signing_public_key_pem=_read_public(paths.signing_pub, "la clave pública de firma") + "\n",
        box_public_key_pem=_read_public(paths.box_pub, "la clave pública de cifrado") + "\n",
    )
    engine = _engine(db)
    with Session(engine) as session:
        row = register_source(session, source=create)
        audit_in_session(session, actor=_CLI_ACTOR, action="source.add",
                         objects=[f"source:{row.name}"])
        session.commit()
        return row.name, row.signing_key_id, row.box_key_id


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="uploader, operator, reviewer, analyst, "
                                                     "reid_requester, reid_approver, auditor, "
                                                     "admin")],
    source: Annotated[str | None, typer.Option("--source", help="fuente (rol uploader)")] = None,
    user: Annotated[str | None, typer.Option("--user", help="etiqueta de la persona")] = None,
    db: DbOption = None,
) -> None:
    """Crea un token de API y lo imprime una sola vez en stdout (create a token, shown once).

    Ejemplo: vinculo admin token create --db sqlite:///banco.db --role uploader --source reta
    """
    token, token_id = create_api_token(role=role, source=source, user=user, db=db)
    # The token alone on stdout, so `T=$(vinculo admin token create ...)` works in scripts.
    print(f"token {token_id} para el rol {role} (guárdelo: no se vuelve a mostrar; "
          "shown once):", file=sys.stderr)
    print(token)


def create_api_token(*, role: str, source: str | None, user: str | None,
                     db: str | None) -> tuple[str, str]:
    """What ``vinculo admin token create`` does, without printing: (token, token id)."""
    from sqlmodel import Session

    from linkage_service.api.deps import audit_in_session
    from linkage_service.auth import create_token

    engine = _engine(db)
    with Session(engine) as session:
        token, row = create_token(session, role=role, source=source, user_label=user)
        token_id = row.token_id
        audit_in_session(session, actor=_CLI_ACTOR, action="token.create",
                         objects=[f"token:{token_id}", f"role:{role}"])
        session.commit()
    return token, token_id


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="id del token (12 hex: vnc_<id>_…)")],
    db: DbOption = None,
) -> None:
    """Revoca un token (revoke a token).

    Ejemplo: vinculo admin token revoke 0123456789ab --db sqlite:///banco.db
    """
    from sqlmodel import Session

    from linkage_service.api.deps import audit_in_session
    from linkage_service.auth import revoke_token

    engine = _engine(db)
    with Session(engine) as session:
        revoke_token(session, token_id=token_id)
        audit_in_session(session, actor=_CLI_ACTOR, action="token.revoke",
                         objects=[f"token:{token_id}"])
        session.commit()
    print(f"token {token_id} revocado")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(admin_app, name="admin")
