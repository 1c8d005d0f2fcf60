"""Migration batches: uploads that re-encode the bank's records under the target schema of an
open schema migration (``vinculo admin schema-migrate``; docs/operations.md). Each record is held
beside the record it re-encodes, matched by stored reference, sealed under the custody key; the
cut-over itself is ``bank.migration``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.custody import CustodyKey, custody_key_for, seal_record
from linkage_service.models import EncodedRecord, Source, Upload
from linkage_service.models.common import utcnow
from linkage_service.models.migration import (
    OPEN_MIGRATION_STATUSES,
    MigrationRecord,
    SchemaMigration,
)
from linkage_service.models.record import CONTENT_COLUMNS
from linkage_service.store.uploads import (
    batch_refs,
    find_upload,
    in_chunks,
    insert_rows,
    new_upload,
    record_values,
)
from vinculo_common.batch import RECORD_SECTIONS, Batch
from vinculo_common.errors import Conflict, InputError

__all__ = ["UploadTarget", "bank_schema", "open_migration", "store_migration_batch",
           "upload_target"]

_MIG: sa.Table = SchemaMigration.__table__  # type: ignore[attr-defined]
_HELD: sa.Table = MigrationRecord.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_UP: sa.Table = Upload.__table__  # type: ignore[attr-defined]
_OPEN = _MIG.c.status.in_(OPEN_MIGRATION_STATUSES)


def bank_schema(session: Session) -> tuple[str, str] | None:
    """(schema id, fingerprint) a switched migration (bank.migration) left the bank in; None: the
    bank is in the schema the service is configured with (``VINCULO_LINKAGE_SCHEMA``)."""
    row = session.execute(
        sa.select(_MIG.c.to_schema, _MIG.c.to_fingerprint)
        .where(_MIG.c.status.in_(("switched", "done"))).order_by(_MIG.c.id.desc()).limit(1)
    ).first()
    return (str(row[0]), str(row[1])) if row is not None else None


def open_migration(session: Session, *, lock: bool = False) -> SchemaMigration | None:
    query = sa.select(SchemaMigration).where(_OPEN).order_by(_MIG.c.id.desc()).limit(1)
    if lock:  # PostgreSQL: serialises uploads and the cut-over; SQLite's write lock does it
        query = query.with_for_update()
    return session.execute(query).scalars().first()


@dataclass(frozen=True)
class UploadTarget:
    """Which schema fingerprints an upload may carry now, and whether it is a migration batch
    (``migration_id``: the open migration whose target schema it carries)."""

    fingerprints: frozenset[str]
    migration_id: int | None = None


def upload_target(session: Session, *, fingerprint: str | None,
                  configured: Iterable[str]) -> UploadTarget:
    """The fingerprints a batch may carry (the bank's schema: the configured ones until a
    migration switched it) and whether a batch of ``fingerprint`` is a migration batch.

    Call it before storing and again after (inside the same transaction): a different answer
    means the bank's schema changed meanwhile and the upload must be refused.
    """
    current = bank_schema(session)
    accepted = frozenset({current[1]}) if current is not None else frozenset(configured)
    migration = open_migration(session, lock=True)
    if migration is not None and migration.status == "open" and \
            fingerprint == migration.to_fingerprint:
        return UploadTarget(frozenset({migration.to_fingerprint}), migration.id)
    return UploadTarget(accepted)


def _current_rows(session: Session, *, source_id: int, refs: Sequence[bytes]) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    r = _REC.c
    for chunk in in_chunks(refs):
        found.update((bytes(ref), int(i)) for i, ref in session.execute(
            sa.select(r.id, r.record_ref).where(r.source_id == source_id,
                                                r.record_ref.in_(chunk), r.is_current.is_(True))
        ).all())
    return found


def _seal_held(key: CustodyKey, *, migration_id: int, source_id: int, stored: bytes,
               record: dict[str, Any]) -> bytes:
    """A held re-encoding, sealed to its (migration, source, stored ref): version ``-id`` never
    exists in ``encoded_record``, so it cannot be moved into a bank row and open."""
    return seal_record(key, source_id=source_id, record_ref=stored, version=-migration_id,
                       clk=record["clk"], sections={n: record.get(n) for n in RECORD_SECTIONS},
                       attributes={n: record.get(n) for n in CONTENT_COLUMNS},
                       original_ref=record["record_ref"], locator=record["locator"])


def store_migration_batch(
    session: Session, *, batch: Batch, source: Source, migration_id: int, uploaded_by: str,
    now: datetime | None = None,
) -> tuple[Upload, bool]:
    """Hold a checked migration batch's re-encodings beside the records they re-encode; return
    (upload, created). Flushes, does not commit (the caller audits and commits).

    Every record must be a current record of the source in the bank (matched by stored
    reference); otherwise InputError naming how many and which positions of the batch, and
    nothing is written. A later migration batch of the same record replaces the earlier one.
    """
    assert source.id is not None
    now = now or utcnow()
    refs = batch_refs(batch)
    custody = custody_key_for(session)
    stored = [custody.stored_ref(source.id, ref) for ref in refs]
    existing = find_upload(session, source_id=source.id,
                           body_sha256=str(batch.header["body_sha256"]))
    if existing is not None and (existing.status != "migration" or session.execute(
            sa.select(sa.func.count()).select_from(_HELD).where(
                _HELD.c.migration_id == migration_id, _HELD.c.upload_id == existing.id)
    ).scalar_one()):
        return existing, False
    current = _current_rows(session, source_id=source.id, refs=stored)
    unknown = [i + 1 for i, s in enumerate(stored) if s not in current]
    if unknown:
        shown = ", ".join(str(i) for i in unknown[:10]) + (", …" if len(unknown) > 10 else "")
        raise InputError(
            f"el lote de migración trae {len(unknown)} registro(s) que el banco no tiene como "
            f"actuales (posiciones {shown} del lote): cargue primero esos registros con el "
            "esquema vigente y vuelva a cargar este lote; no se guardó nada (migration batch "
            "holds records the bank does not hold; nothing stored)"
        )
    values = record_values(batch)
    # The same file again after a cancelled migration: held again under this one.
    upload = existing or new_upload(session, batch, source_id=source.id, uploaded_by=uploaded_by,
                                    now=now, status="migration", new_count=0,
                                    updated_count=len(refs))
    # With the write lock held (SQLite) or the migration row locked (PostgreSQL): still open?
    status = session.execute(sa.select(_MIG.c.status).where(_MIG.c.id == migration_id)).scalar()
    if status != "open":
        raise Conflict("la migración de esquema ya no está abierta: no se guardó nada "
                       "(the schema migration is no longer open)")
    for chunk in in_chunks(stored):
        session.execute(sa.delete(_HELD).where(
            _HELD.c.migration_id == migration_id, _HELD.c.source_id == source.id,
            _HELD.c.record_ref.in_(chunk)))
    insert_rows(session, _HELD, ({
        "migration_id": migration_id, "source_id": source.id, "record_ref": stored[i],
        "record_row_id": current[stored[i]], "upload_id": upload.id, "created_at": now,
        "sealed": _seal_held(custody, migration_id=migration_id, source_id=source.id,
                             stored=stored[i], record={"record_ref": ref, **values[i]}),
    } for i, ref in enumerate(refs)))
    return upload, True
