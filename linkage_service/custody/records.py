"""Sealing encoded records on write, opening them on read, and sealing an existing bank.

Every reader of CLKs or content attributes selects ``record_columns()`` and calls
``opened(session_key, row)``: a sealed row opens under the custody key, a row from before
custody (``sealed`` NULL) is read from its clear columns until ``encrypt_bank`` seals it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from linkage_service.custody import (
    CustodyKey,
    OpenedRecord,
    install_custody_key,
    load_custody_key,
    open_record,
    seal_record,
)
from linkage_service.models import EncodedRecord
from linkage_service.models.custody import CustodyCheck
from linkage_service.models.record import CONTENT_COLUMNS
from linkage_service.settings import Settings
from vinculo_common.batch import RECORD_SECTIONS
from vinculo_common.errors import ConfigError, Conflict

__all__ = [
    "ScrubBlocked",
    "check_custody",
    "clear_row_count",
    "custody_status",
    "encrypt_bank",
    "encrypt_bank_audited",
    "open_custody",
    "opened",
    "record_columns",
    "scrub_free_space",
    "seal_row",
]

# How long a rewrite waits for another connection's lock before giving up (PostgreSQL's
# ``lock_timeout``, SQLite's busy timeout). Unbounded, a VACUUM FULL queued behind an idle
# transaction holds every later reader of the table behind it: the whole service stalls.
SCRUB_LOCK_TIMEOUT_S = 60.0

_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_CHECK: sa.Table = CustodyCheck.__table__  # type: ignore[attr-defined]


def record_columns() -> list[Any]:
    """The ``encoded_record`` columns ``opened`` needs (select them with any others)."""
    r = _REC.c
    return [r.id, r.source_id, r.record_ref, r.version, r.sealed, r.clk, r.locator,
            *[r[name] for name in RECORD_SECTIONS], *[r[name] for name in CONTENT_COLUMNS]]


def opened(key: CustodyKey, row: Any) -> OpenedRecord:
    """CLK, sections and attributes of a row selected with ``record_columns``."""
    if row.sealed is not None:
        return open_record(key, bytes(row.sealed), source_id=int(row.source_id),
                           record_ref=bytes(row.record_ref), version=int(row.version))
    return OpenedRecord(
        clk=bytes(row.clk),
        sections={name: None if getattr(row, name) is None else bytes(getattr(row, name))
                  for name in RECORD_SECTIONS},
        attributes={name: getattr(row, name) for name in CONTENT_COLUMNS},
        record_ref=bytes(row.record_ref), locator=bytes(row.locator),
    )


def seal_row(key: CustodyKey, row: dict[str, Any]) -> dict[str, Any]:
    """An ``encoded_record`` insert row (with the source's own ``record_ref`` and ``locator``)
    as stored: ``record_ref`` replaced by ``key.stored_ref``; CLK, sections, attributes, the
    own reference and the locator moved into ``sealed`` (``clk`` and ``locator`` empty, the
    rest NULL)."""
    stored = key.stored_ref(row["source_id"], row["record_ref"])
    sealed = seal_record(
        key, source_id=row["source_id"], record_ref=stored, version=row["version"],
        clk=row["clk"], sections={name: row.get(name) for name in RECORD_SECTIONS},
        attributes={name: row.get(name) for name in CONTENT_COLUMNS},
        original_ref=row["record_ref"], locator=row["locator"],
    )
    return {**row, "record_ref": stored, "sealed": sealed, "clk": b"", "locator": b"",
            **{name: None for name in RECORD_SECTIONS}, **{name: None for name in CONTENT_COLUMNS}}


def open_custody(engine: Engine, settings: Settings) -> CustodyKey:
    """The custodian's key (``load_custody_key``) installed on ``engine`` and checked against
    the key that sealed this bank (``check_custody``): what the service and the operator's
    commands that open records do first."""
    key = install_custody_key(engine, load_custody_key(settings))
    check_custody(engine, key)
    return key


def check_custody(engine: Engine, key: CustodyKey) -> None:
    """Refuse a key other than the one that sealed this bank; remember it on first use."""
    with Session(engine) as session:
        stored = session.execute(sa.select(_CHECK.c.key_id).order_by(_CHECK.c.id)).scalars().first()
        if stored is None:
            session.execute(_CHECK.insert().values(key_id=key.key_id))
            session.commit()
            return
    if stored != key.key_id:
        raise ConfigError(
            f"la clave de custodia ({key.key_id}) no es la que selló este banco ({stored}): "
            "pida al custodio la clave correcta (wrong custody key for this bank)"
        )


def clear_row_count(engine: Engine) -> int:
    """Rows still in clear (from before custody)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(_REC)
                                .where(_REC.c.sealed.is_(None))).scalar_one())


def encrypt_bank(engine: Engine, key: CustodyKey, *, chunk: int = 2000) -> int:
    """Seal every clear row (a bank from before custody) in place: each record's values go
    into ``sealed`` and its reference becomes ``key.stored_ref`` in ``encoded_record``,
    ``membership``, ``review_pair`` and ``link_decision`` alike. Then the database file is
    rewritten so the old clear pages are gone (SQLite ``VACUUM`` and a WAL checkpoint;
    PostgreSQL ``VACUUM FULL``). One transaction; idempotent (sealed rows are left alone).
    Returns the number of rows sealed.
    """
    check_custody(engine, key)
    r = _REC.c
    total = 0
    with Session(engine) as session:
        renamed: dict[tuple[int, bytes], bytes] = {}
        last_id = 0
        while True:
            rows = session.execute(
                sa.select(*record_columns()).where(r.sealed.is_(None), r.id > last_id)
                .order_by(r.id).limit(chunk)
            ).all()
            if not rows:
                break
            last_id = int(rows[-1].id)
            for row in rows:
                record = opened(key, row)
                values = seal_row(key, {
                    "source_id": int(row.source_id), "record_ref": record.record_ref,
                    "version": int(row.version), "clk": record.clk, "locator": record.locator,
                    **record.sections, **record.attributes,
                })
                renamed[(int(row.source_id), record.record_ref)] = values["record_ref"]
                session.execute(sa.update(_REC).where(r.id == row.id).values(
                    record_ref=values["record_ref"], sealed=values["sealed"], clk=b"",
                    locator=b"", **{name: None for name in RECORD_SECTIONS},
                    **{name: None for name in CONTENT_COLUMNS}))
            total += len(rows)
        _rename_references(session, renamed)
        session.commit()
    scrub_free_space(engine)
    return total


def _rename_references(session: Session, renamed: dict[tuple[int, bytes], bytes]) -> None:
    """Every other table that names a record by (source, reference) follows the rename."""
    from linkage_service.models.bank import Decision, Membership, ReviewPair

    if not renamed:
        return
    for model, pairs in ((Membership, (("source_id", "record_ref"),)),
                         (ReviewPair, (("source_a", "ref_a"), ("source_b", "ref_b"))),
                         (Decision, (("source_a", "ref_a"), ("source_b", "ref_b")))):
        table: sa.Table = model.__table__  # type: ignore[union-attr]
        columns = [c for pair in pairs for c in pair]
        rows = session.execute(sa.select(table.c.id, *[table.c[c] for c in columns])).all()
        for row in rows:
            values = {}
            for source_column, ref_column in pairs:
                new = renamed.get((int(getattr(row, source_column)),
                                   bytes(getattr(row, ref_column))))
                if new is not None:
                    values[ref_column] = new
            if values:
                session.execute(sa.update(table).where(table.c.id == row.id).values(**values))


def encrypt_bank_audited(engine: Engine, key: CustodyKey, *, actor: str) -> int:
    """``encrypt_bank`` with its audit entry (``custody.encrypt``: rows sealed, key id)."""
    from linkage_service.audit import record

    count = encrypt_bank(engine, key)
    with Session(engine) as session:
        record(session, actor=actor, action="custody.encrypt",
               objects=[f"count:{count}", f"custody_key:{key.key_id}"])
        session.commit()
    return count


def custody_status(engine: Engine) -> tuple[str | None, int, int]:
    """(key id that sealed the bank or None, rows in clear, rows sealed)."""
    with engine.connect() as conn:
        key_id = conn.execute(sa.select(_CHECK.c.key_id).order_by(_CHECK.c.id)).scalars().first()
        sealed = int(conn.execute(sa.select(sa.func.count()).select_from(_REC)
                                  .where(_REC.c.sealed.is_not(None))).scalar_one())
    return key_id, clear_row_count(engine), sealed


class ScrubBlocked(Conflict):
    """The rewrite could not take its lock in time: another connection holds the table (an
    open transaction, a running ``vinculo serve``). What was committed before it stands."""


def scrub_free_space(engine: Engine, *, tables: tuple[str, ...] = ("encoded_record",),
                     lock_timeout_s: float | None = None) -> None:
    """Rewrite the database so pages that held clear values (or old ciphertexts) are not left
    in the file: SQLite ``VACUUM`` and a WAL checkpoint that must reach the file; PostgreSQL
    ``VACUUM FULL`` of ``tables``. Waits at most ``lock_timeout_s`` for another connection's
    lock, then raises ``ScrubBlocked`` (the caller says what to repeat); never waits without
    limit, so a rewrite never holds the service's readers queued behind it (default
    ``SCRUB_LOCK_TIMEOUT_S``)."""
    if lock_timeout_s is None:
        lock_timeout_s = SCRUB_LOCK_TIMEOUT_S
    wait_ms = max(1, int(lock_timeout_s * 1000))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # The timeout is set on a pooled connection: restored before it goes back, so the
            # service's own statements keep theirs (SQLite's 10 s busy timeout, no limit).
            if engine.dialect.name == "sqlite":
                before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
                try:
                    conn.exec_driver_sql("PRAGMA secure_delete = ON")
                    conn.exec_driver_sql("VACUUM")
                    # (busy, log frames, checkpointed): busy while a reader holds an old
                    # snapshot, and then the file still has the pages VACUUM replaced.
                    busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
                finally:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(before)}")
                if busy is not None and int(busy[0]) != 0:
                    raise ScrubBlocked(_blocked_message(lock_timeout_s))
            elif engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET lock_timeout = {wait_ms}")
                try:
                    for table in tables:
                        conn.exec_driver_sql(f"VACUUM FULL {table}")
                finally:
                    conn.exec_driver_sql("RESET lock_timeout")
    except sa.exc.OperationalError as exc:
        if not _is_lock_wait(exc):
            raise
        raise ScrubBlocked(_blocked_message(lock_timeout_s)) from None


def _is_lock_wait(exc: sa.exc.OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code == "55P03" or "database is locked" in str(exc.orig)


def _blocked_message(wait_s: float) -> str:
    return (f"no se pudo reescribir el archivo de la base en {wait_s:g} s: otra conexión tiene "
            "una transacción abierta sobre sus tablas (p. ej. vinculo serve o una consulta); "
            "ciérrela y repita el comando (the database rewrite could not get its lock: another "
            "connection holds an open transaction)")
