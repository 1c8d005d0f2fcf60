"""Online, consistent backups of the bank and their restoration (``vinculo admin backup`` /
``vinculo admin restore``). Every table is dumped as stored (encrypted columns stay
encrypted) into one ``.tar.gz`` with a checksummed manifest; a restore checks everything first
and writes into an empty database in one transaction. Format and guarantees:
docs/operations.md.

"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection, make_url
from sqlmodel import SQLModel

import linkage_service.models  # noqa: F401  (registers every table)
from linkage_service.db import current_revision, make_engine, migrate
from vinculo_common.errors import ConfigError, Conflict, InputError, IntegrityError

__all__ = ["BACKUP_FORMAT", "BackupSummary", "backup", "restore"]

BACKUP_FORMAT = "vinculo-backup"
BACKUP_VERSION = 1
_BATCH = 2000


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds or a restore wrote: rows per table, schema revision, audit tail."""

    revision: str
    rows: dict[str, int]
    audit_last_seq: int
    audit_last_hash: str | None

    def text(self) -> str:
        total = sum(self.rows.values())
        persons = self.rows.get("person", 0)
        return (f"{total} filas en {len(self.rows)} tablas ({persons} personas), revisión "
                f"{self.revision}, bitácora hasta la entrada {self.audit_last_seq}")


def _tables() -> list[sa.Table]:
    return list(SQLModel.metadata.sorted_tables)


def _kind(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, sa.LargeBinary):
        return "bytes"
    if isinstance(kind, sa.DateTime) or isinstance(getattr(kind, "impl", None), sa.DateTime):
        return "datetime"
    return "plain"


def _encode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "datetime":
        assert isinstance(value, datetime)
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def _decode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64decode(value, validate=True)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    return value


# --------------------------------------------------------------------------- backup


def _dump_tables(conn: Connection, tar: tarfile.TarFile) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for table in _tables():
        columns = list(table.columns)
        kinds = [_kind(c) for c in columns]
        order = [c for c in table.primary_key.columns] or columns[:1]
        buffer = io.BytesIO()
        count = 0
        result = conn.execution_options(yield_per=_BATCH).execute(
            sa.select(*columns).order_by(*order))
        for row in result:
            line = json.dumps([_encode(v, k) for v, k in zip(row, kinds, strict=True)],
                              ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            buffer.write(line.encode() + b"\n")
            count += 1
        data = buffer.getvalue()
        _add(tar, f"tables/{table.name}.jsonl", data)
        tables[table.name] = {"columns": [c.name for c in columns], "kinds": kinds,
                              "rows": count, "sha256": hashlib.sha256(data).hexdigest()}
    return tables


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _audit_tail(conn: Connection) -> tuple[int, str | None]:
    row = conn.execute(sa.text(
        "SELECT seq, entry_hash FROM audit_entry ORDER BY seq DESC LIMIT 1")).first()
    return (int(row[0]), str(row[1])) if row else (0, None)


def _write(conn: Connection, output: Path, *, dialect: str) -> BackupSummary:
    revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    if revision is None:
        raise ConfigError("la base de datos no tiene esquema de vinculo (no schema to back up)")
    last_seq, last_hash = _audit_tail(conn)
    tmp = output.with_name(output.name + ".part")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            tables = _dump_tables(conn, tar)
            manifest = {
                "format": BACKUP_FORMAT, "version": BACKUP_VERSION, "revision": str(revision),
                "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "database": dialect, "tables": tables,
                "audit": {"last_seq": last_seq, "last_hash": last_hash},
            }
            body = json.dumps(manifest, sort_keys=True, indent=1).encode()
            _add(tar, "manifest.json", body)
            _add(tar, "manifest.sha256", hashlib.sha256(body).hexdigest().encode() + b"\n")
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupSummary(str(revision), {n: t["rows"] for n, t in tables.items()}, last_seq,
                         last_hash)


def backup(db_url: str, output: Path) -> BackupSummary:
    """Write a consistent backup of the database at ``db_url`` to ``output`` while the service
    keeps running.

    Example: ``backup("sqlite:///banco.db", Path("banco-2026-12-03.vnbak"))``
    """
    if not output.parent.is_dir():
        raise ConfigError(f"no existe la carpeta {output.parent}")
    engine = make_engine(db_url)
    try:
        if engine.dialect.name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="vinculo-backup-") as folder:
                copy = Path(folder) / "snapshot.db"
                raw = engine.raw_connection()
                try:
                    target = sqlite3.connect(copy)
                    try:
                        raw.driver_connection.backup(target)  # type: ignore[union-attr]
                    finally:
                        target.close()
                finally:
                    raw.close()
                snapshot = make_engine(f"sqlite:///{copy}")
                try:
                    with snapshot.connect() as conn:
                        return _write(conn, output, dialect="sqlite")
                finally:
                    snapshot.dispose()
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
            with conn.begin():
                return _write(conn, output, dialect=engine.dialect.name)
    except sa.exc.SQLAlchemyError as exc:
        raise ConfigError(f"no se pudo leer la base de datos ({type(exc).__name__})") from None
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- restore


def _damaged(what: str) -> IntegrityError:
    return IntegrityError(f"copia de seguridad dañada o alterada: {what}; no se restauró nada "
                          "(backup damaged or tampered with, nothing restored)")


def _read_members(path: Path) -> dict[str, bytes]:
    try:
        with gzip.open(path, "rb") as whole:  # to its end: gzip's CRC covers every byte
            while whole.read(1 << 20):
                pass
        with tarfile.open(path, "r:gz") as tar:
            members: dict[str, bytes] = {}
            for info in tar:
                if not info.isfile() or info.name in members:
                    raise _damaged(f"entrada inesperada {info.name!r}")
                handle = tar.extractfile(info)
                assert handle is not None
                members[info.name] = handle.read()
            return members
    except FileNotFoundError:
        raise InputError(f"no existe la copia {path}") from None
    except (tarfile.TarError, zlib.error, EOFError, OSError, UnicodeDecodeError):
        raise _damaged("el archivo no se puede leer completo") from None


def _manifest(members: dict[str, bytes]) -> dict[str, Any]:
    body, declared = members.get("manifest.json"), members.get("manifest.sha256")
    if body is None or declared is None:
        raise _damaged("falta el manifiesto")
    if hashlib.sha256(body).hexdigest() != declared.decode(errors="replace").strip():
        raise _damaged("el manifiesto no coincide con su suma SHA-256")
    manifest: dict[str, Any] = json.loads(body)
    if manifest.get("format") != BACKUP_FORMAT or manifest.get("version") != BACKUP_VERSION:
        raise InputError("no es una copia de seguridad de vinculo de esta versión")
    return manifest


def _rows(members: dict[str, bytes], name: str, entry: dict[str, Any]) -> list[list[Any]]:
    data = members.get(f"tables/{name}.jsonl")
    if data is None or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise _damaged(f"la tabla {name} no coincide con su suma SHA-256")
    rows = [json.loads(line) for line in data.splitlines() if line]
    if len(rows) != entry.get("rows") or any(len(r) != len(entry["columns"]) for r in rows):
        raise _damaged(f"la tabla {name} no tiene las filas que declara")
    return rows


def _check_audit(tables: dict[str, list[dict[str, Any]]], manifest: dict[str, Any],
                 public_key: Ed25519PublicKey | None) -> list[str]:
    from linkage_service.audit import verify

    report = verify((tables["audit_entry"], tables["audit_checkpoint"]), public_key)
    if not report.ok:
        raise _damaged(f"la bitácora no verifica ({report.summary()})")
    entries = tables["audit_entry"]
    last = max(entries, key=lambda r: int(r["seq"])) if entries else None
    tail = {"last_seq": int(last["seq"]) if last else 0,
            "last_hash": str(last["entry_hash"]) if last else None}
    if tail != manifest.get("audit"):
        raise _damaged("la bitácora no termina donde dice el manifiesto")
    return list(report.notes)


def _decoded(members: dict[str, bytes], manifest: dict[str, Any]) -> dict[str, list[dict]]:
    out: dict[str, list[dict[str, Any]]] = {}
    declared: dict[str, Any] = manifest.get("tables", {})
    for table in _tables():
        entry = declared.get(table.name)
        if entry is None:
            raise _damaged(f"falta la tabla {table.name}")
        if entry["columns"] != [c.name for c in table.columns]:
            raise InputError(f"la tabla {table.name} de la copia tiene otras columnas que este "
                             "servicio (another schema version)")
        kinds = [_kind(c) for c in table.columns]
        try:
            out[table.name] = [
                {c: _decode(v, k) for c, v, k in zip(entry["columns"], row, kinds, strict=True)}
                for row in _rows(members, table.name, entry)
            ]
        except (ValueError, TypeError) as exc:
            raise _damaged(f"valor ilegible en la tabla {table.name} ({type(exc).__name__})"
                           ) from None
    return out


def _empty(conn: Connection) -> bool:
    return all(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0
               for t in _tables())


def _reset_sequences(conn: Connection) -> None:
    for table in _tables():
        for column in table.primary_key.columns:
            if isinstance(column.type, sa.Integer) and column.autoincrement is not False:
                sequence = conn.execute(sa.select(
                    sa.func.pg_get_serial_sequence(table.name, column.name))).scalar()
                if sequence:
                    top = conn.execute(sa.select(sa.func.max(column))).scalar() or 0
                    conn.execute(sa.select(sa.func.setval(sequence, int(top) + 1, False)))


def restore(db_url: str, source: Path, *,
            public_key: Ed25519PublicKey | None = None) -> tuple[BackupSummary, list[str]]:
    """Restore ``source`` into the EMPTY database at ``db_url``; return what was written and
    the audit verifier's notes. Raises IntegrityError for a damaged or altered backup and
    Conflict for a target that holds data; in every failure the target is left as it was.

    Example: ``restore("postgresql+psycopg://…/nuevo", Path("banco.vnbak"))``
    """
    members = _read_members(source)
    manifest = _manifest(members)
    tables = _decoded(members, manifest)
    notes = _check_audit(tables, manifest, public_key)
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        existed = Path(url.database).exists()
    else:
        existed = True
    engine = make_engine(db_url)
    before: str | None = "?"
    try:
        try:
            before = current_revision(engine)
        except sa.exc.SQLAlchemyError:
            raise ConfigError("no se puede abrir la base de datos de destino") from None
        if before not in (None, manifest["revision"]):
            raise Conflict(f"la base de destino está en la revisión {before}, la copia en "
                           f"{manifest['revision']}: restaure en una base vacía")
        migrate(engine, revision=str(manifest["revision"]))
        with engine.connect() as conn, conn.begin():
            if not _empty(conn):
                raise Conflict("la base de destino ya tiene datos: restaure solo en una "
                               "base vacía (target database is not empty)")
            for table in _tables():
                rows = tables[table.name]
                for start in range(0, len(rows), _BATCH):
                    conn.execute(sa.insert(table), rows[start:start + _BATCH])
            if engine.dialect.name == "postgresql":
                _reset_sequences(conn)
            written = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t))
                       .scalar_one() for t in _tables()}
            if written != {n: len(r) for n, r in tables.items()}:
                raise _damaged("las filas escritas no son las de la copia")
    except BaseException:
        engine.dispose()
        if before is None:  # it was empty: leave it empty (no schema either)
            _drop_schema(db_url, existed)
        raise
    engine.dispose()
    tail = manifest["audit"]
    return BackupSummary(str(manifest["revision"]), written, int(tail["last_seq"]),
                         tail["last_hash"]), notes


def _drop_schema(db_url: str, existed: bool) -> None:
    from linkage_service.db import downgrade

    url = make_url(db_url)
    if not existed and url.database:
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
        return
    engine = make_engine(db_url)
    try:
        downgrade(engine, revision="base")
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    except sa.exc.SQLAlchemyError:
        pass
    finally:
        engine.dispose()

