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
custody_app = typer.Typer(help="Clave de custodia: el banco cifrado en reposo (custody key).",
                          no_args_is_help=True)
admin_app.add_typer(source_app, name="source")
admin_app.add_typer(token_app, name="token")
admin_app.add_typer(custody_app, name="custody")
schema_app = typer.Typer(help="Cambio del esquema de enlace del banco (linkage schema migration).",
                         no_args_is_help=True)
admin_app.add_typer(schema_app, name="schema-migrate")


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
    from linkage_service.admin import register_source_from_keys

    name, signing, box = register_source_from_keys(_engine(db), source=source, keys=keys,
                                                   actor=_CLI_ACTOR)
    print(f"fuente {name} registrada (firma {signing}, cifrado {box})")


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
    from linkage_service.admin import create_api_token

    token, token_id = create_api_token(_engine(db), role=role, source=source, user=user,
                                       actor=_CLI_ACTOR)
    # The token alone on stdout, so `T=$(vinculo admin token create ...)` works in scripts.
    print(f"token {token_id} para el rol {role} (guárdelo: no se vuelve a mostrar; "
          "shown once):", file=sys.stderr)
    print(token)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="id del token (12 hex: vnc_<id>_…)")],
    db: DbOption = None,
) -> None:
    """Revoca un token (revoke a token).

    Ejemplo: vinculo admin token revoke 0123456789ab --db sqlite:///banco.db
    """
    from linkage_service.admin import revoke_api_token

    revoke_api_token(_engine(db), token_id=token_id, actor=_CLI_ACTOR)
    print(f"token {token_id} revocado")


@admin_app.command("backup")
def admin_backup(
    output: Annotated[Path, typer.Option("--output", help="archivo de la copia (.vnbak)")],
    db: DbOption = None,
) -> None:
    """Copia de seguridad en línea y consistente de la base (online, consistent backup).

    El servicio puede seguir funcionando. La copia (tar.gz con manifiesto y sumas SHA-256)
    guarda las filas tal como están en la base; no incluye la clave del servicio.

    Ejemplo: vinculo admin backup --db sqlite:///banco.db --output banco-2026-12-03.vnbak
    """
    from linkage_service.admin import backup_bank

    summary = backup_bank(_settings(db).database_url, output, actor=_CLI_ACTOR)
    print(f"copia escrita en {output}: {summary.text()}")


@admin_app.command("restore")
def admin_restore(
    input_path: Annotated[Path, typer.Option("--input", help="archivo de la copia (.vnbak)")],
    db: DbOption = None,
    service_key: Annotated[Path | None, typer.Option(
        "--service-key", help="clave pública del servicio (PEM) para verificar los "
        "checkpoints de la bitácora")] = None,
) -> None:
    """Restaura una copia en una base VACÍA (restore a backup into an empty database).

    Antes de escribir nada verifica las sumas SHA-256 y la cadena de la bitácora; una copia
    dañada o alterada se rechaza y la base de destino queda como estaba.

    Ejemplo: vinculo admin restore --db postgresql+psycopg://…/nuevo --input banco.vnbak
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from linkage_service.admin import restore_bank
    from vinculo_common.crypto import load_public_key
    from vinculo_common.errors import ConfigError

    public = None
    if service_key is not None:
        loaded = load_public_key(service_key)
        if not isinstance(loaded, Ed25519PublicKey):
            raise ConfigError(f"{service_key}: se esperaba una clave pública Ed25519")
        public = loaded
    url = _settings(db).database_url
    summary, notes = restore_bank(url, input_path, public_key=public, actor=_CLI_ACTOR)
    for note in notes:
        print(f"nota: {note}", file=sys.stderr)
    print(f"copia restaurada: {summary.text()}")
@custody_app.command("keygen")
def custody_keygen(
    out: Annotated[Path, typer.Option("--out", help="archivo nuevo de la clave (0600)")],
) -> None:
    """Crea una clave de custodia nueva para el custodio (new custody key file, 0600).

    La guarda el custodio, nunca el operador; el servicio la lee al arrancar con
    VINCULO_CUSTODY_KEY_FILE.

    Ejemplo: vinculo admin custody keygen --out /media/custodio/vinculo-custodia.key
    """
    from linkage_service.custody import new_key_file

    key = new_key_file(out)
    print(f"clave de custodia {key.key_id} escrita en {out} (custody key written)")


@custody_app.command("encrypt")
def custody_encrypt(db: DbOption = None) -> None:
    """Cifra en el lugar los registros de un banco anterior a la custodia (seal a bank).

    Usa la clave de VINCULO_CUSTODY_KEY_FILE o VINCULO_CUSTODY_KEY_PASSPHRASE; después
    reescribe el archivo (VACUUM) para que no queden valores en claro. Idempotente.

    Ejemplo: VINCULO_CUSTODY_KEY_FILE=/media/custodio/k.key vinculo admin custody encrypt
    --db sqlite:///banco.db
    """
    from linkage_service.custody import load_custody_key
    from linkage_service.custody.records import encrypt_bank_audited

    settings = _settings(db)
    key = load_custody_key(settings)
    count = encrypt_bank_audited(_engine(db), key, actor=_CLI_ACTOR)
    print(f"{count} registros sellados con la clave de custodia {key.key_id} "
          "(records sealed)")


@custody_app.command("status")
def custody_status(db: DbOption = None) -> None:
    """Muestra qué clave selló el banco y cuántos registros siguen en claro (custody status).

    Ejemplo: vinculo admin custody status --db sqlite:///banco.db
    """
    from linkage_service.custody.records import custody_status as status

    key_id, clear, sealed = status(_engine(db))
    print(f"clave de custodia: {key_id or 'ninguna todavía'}; registros sellados: {sealed}; "
          f"en claro: {clear}")


def _custody_engine(db: str | None) -> Engine:
    """The migrated engine with the custodian's key installed (records are opened and sealed)."""
    from linkage_service.custody.records import open_custody

    engine = _engine(db)
    open_custody(engine, _settings(db))
    return engine


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


@schema_app.command("status")
def schema_status(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="salida JSON para scripts")] = False,
) -> None:
    """Estado del esquema del banco y de la migración en curso (schema migration status).

    Por fuente: registros actuales, recodificados con el esquema nuevo, cambiados después de su
    carga de migración y los que faltan.

    Ejemplo: vinculo admin schema-migrate status --db sqlite:///banco.db
    """
    import json

    from linkage_service.bank.migration import migration_state

    state = migration_state(_engine(db))
    if as_json:
        print(json.dumps({
            "bank_schema": state.bank_schema, "migration": state.migration,
            "sources": [{"source": c.source, "current": c.current, "reencoded": c.reencoded,
                         "stale": c.stale, "missing": c.missing} for c in state.coverage],
            "ready": not state.missing(),
        }, ensure_ascii=False, indent=2))
        return
    migration = state.migration
    print(f"esquema del banco: {state.bank_schema}" if state.bank_schema else
          "esquema del banco: el configurado (VINCULO_LINKAGE_SCHEMA); nunca migrado")
    if migration is None:
        print("ninguna migración de esquema")
        return
    labels = {"open": "abierta", "switched": "cambiada, falta el re-enlace", "done": "terminada",
              "cancelled": "cancelada"}
    print(f"migración {migration['id']}: {labels.get(migration['status'], migration['status'])}, "
          f"{migration['from_schema']} → {migration['to_schema']}, iniciada "
          f"{migration['started_at']} por {migration['started_by']}")
    if state.coverage:
        print(f"{'fuente':<12}{'actuales':>10}{'recodificados':>15}{'cambiados':>11}"
              f"{'faltan':>8}  estado")
        for c in state.coverage:
            ready = "sin registros" if not c.current else "lista" if not c.missing else "falta"
            print(f"{c.source:<12}{c.current:>10}{c.reencoded:>15}{c.stale:>11}{c.missing:>8}"
                  f"  {ready}")
        print("lista para finish" if not state.missing() else
              "faltan fuentes: " + ", ".join(c.source for c in state.missing()))
    overlap = (migration.get("report") or {}).get("overlap")
    if overlap:
        print(_overlap_line(overlap))


def _overlap_line(overlap: dict[str, int | float]) -> str:
    before, kept = int(overlap["persons_before"]), int(overlap["persons_kept"])
    records, same = int(overlap["records"]), int(overlap["records_same_person"])
    return (f"personas intactas (mismo seudónimo, mismos registros): {kept} de {before} "
            f"({_share(kept, before)}); registros con el mismo seudónimo: {same} de {records} "
            f"({_share(same, records)}); pares conservados {overlap['pair_recall']}, pares "
            f"nuevos correctos {overlap['pair_precision']} (persons kept, pair overlap)")


@schema_app.command("start")
def schema_start(
    to: Annotated[str, typer.Option("--to", help="esquema de destino (schemas/linkage/ID.json)")],
    db: DbOption = None,
) -> None:
    """Abre la migración del banco a otro esquema de enlace (start a schema migration).

    El banco sigue funcionando en su esquema; cada institución recodifica su exportación
    actual con --schema ID y la carga como siempre (lote de migración).

    Ejemplo: vinculo admin schema-migrate start --db sqlite:///banco.db --to vinculo-v5
    """
    from linkage_service.bank.migration import start_migration

    migration = start_migration(_engine(db), target=to, actor=_CLI_ACTOR)
    print(f"migración {migration['id']} abierta: {migration['from_schema']} → "
          f"{migration['to_schema']}; cada fuente debe cargar su exportación codificada con "
          f"--schema {migration['to_schema']} (schema migration started)")


@schema_app.command("finish")
def schema_finish(
    db: DbOption = None,
    no_relink: Annotated[bool, typer.Option(
        "--no-relink", help="conservar las personas tal cual, sin re-enlazar con el esquema "
        "nuevo")] = False,
) -> None:
    """Pasa el banco al esquema nuevo y lo re-enlaza (finish the schema migration).

    Se niega, nombrando las fuentes, mientras falte la recodificación de algún registro
    actual. Necesita la clave de custodia (VINCULO_CUSTODY_KEY_FILE o _PASSPHRASE). Después
    arranque el servicio con VINCULO_LINKAGE_SCHEMA igual al esquema nuevo.

    Ejemplo: vinculo admin schema-migrate finish --db sqlite:///banco.db
    """
    from linkage_service.bank.migration import finish_migration

    settings = _settings(db)
    migration = finish_migration(_custody_engine(db), actor=_CLI_ACTOR,
                                 relink=not no_relink, lease_s=settings.job_lease_seconds)
    report = migration["report"]
    switch = report.get("switch", {})
    print(f"banco en el esquema {migration['to_schema']} (migración {migration['id']}): "
          f"{switch.get('records', 0)} registros recodificados, "
          f"{switch.get('rows_emptied', 0)} filas del esquema anterior vaciadas; "
          f"re-enlace job {migration['relink_job_id']}")
    if "overlap" in report:
        print(_overlap_line(report["overlap"]))
    print(f"arranque el servicio con VINCULO_LINKAGE_SCHEMA={migration['to_schema']} "
          "(restart the service with the new schema)")


@schema_app.command("cancel")
def schema_cancel(db: DbOption = None) -> None:
    """Cancela la migración abierta y borra las recodificaciones cargadas (cancel).

    El banco sigue en su esquema. No se puede una vez hecho el cambio (finish).

    Ejemplo: vinculo admin schema-migrate cancel --db sqlite:///banco.db
    """
    from linkage_service.bank.migration import cancel_migration

    dropped = cancel_migration(_engine(db), actor=_CLI_ACTOR)
    print(f"migración cancelada: {dropped} recodificaciones borradas (migration cancelled)")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(admin_app, name="admin")
