"""Storing encoding batches: checks, atomic and idempotent insertion, versions, withdrawal.

The caller owns the transaction: :func:`store_batch` only adds and flushes, so a failure at any
point (including in the database) rolls everything back and leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from linkage_service.audit import record
from linkage_service.auth import Actor
from linkage_service.custody import custody_key_for
from linkage_service.custody.records import seal_row
from linkage_service.models import EncodedRecord, Source, Upload, UploadPublic, utcnow
from linkage_service.store.sources import source_signing_key
from vinculo_common.batch import (
    AGE_RANGE,
    RECORD_REF_SIZE,
    RECORD_SECTIONS,
    YEAR_RANGE,
    Batch,
)
from vinculo_common.errors import InputError, NotFound, PermissionDenied

__all__ = [
    "EXPLOITATION_FORMS",
    "attributes_to_columns",
    "batch_refs",
    "check_batch",
    "find_upload",
    "get_upload",
    "in_chunks",
    "insert_rows",
    "new_upload",
    "read_upload",
    "read_uploads",
    "record_values",
    "source_of",
    "store_batch",
    "upload_public",
    "withdraw_for_source",
    "withdraw_records",
]

EXPLOITATION_FORMS = frozenset(
    {"sexual", "laboral", "mendicidad", "venta_ninos", "organos", "otra"}
)
_CHUNK = 500  # keeps IN (...) lists under SQLite's parameter limit
_UBIGEO = re.compile(r"^(\d{2}|\d{4}|\d{6})$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_NATIONALITY = re.compile(r"^[A-Z]{3}$")


def check_batch(batch: Batch, *, source: Source, schema_fingerprints: set[str]) -> None:
    """Raise unless ``source`` signed ``batch`` and it matches a known schema and the secret.

    Order matters for the answer: the source named in the batch first (PermissionDenied), then
    the signature (IntegrityError), then format, schema and secret check (SchemaMismatch).
    """
    if batch.source != source.name:
        raise PermissionDenied(
            "el lote pertenece a otra fuente que la del token (batch source does not match "
            "the token's source)"
        )
    batch.verify_signature(source_signing_key(source))
    batch.check_compatible(
        schema_fingerprints=schema_fingerprints, secret_check=source.secret_check
    )


def _text(value: Any, pattern: re.Pattern[str] | None, what: str, index: int) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise InputError(f"atributo {what} con formato inválido (registro {index})")
    return value


def _event_date(value: Any, index: int) -> str | None:
    """A real date (or month, or year): 2021-13-45 is refused like a malformed one."""
    text = _text(value, _DATE, "event_date", index)
    if text is None:
        return None
    parts = [int(p) for p in text.split("-")]
    try:
        date(parts[0], *[*parts[1:], 1, 1][:2])
    except ValueError:
        raise InputError(f"atributo event_date no es una fecha real (registro {index})") from None
    if not YEAR_RANGE[0] <= parts[0] <= YEAR_RANGE[1]:
        raise InputError(f"atributo event_date fuera de rango {YEAR_RANGE[0]}-{YEAR_RANGE[1]} "
                         f"(registro {index})")
    return text


def attributes_to_columns(attributes: dict[str, Any], *, index: int) -> dict[str, Any]:
    """Typed column values for one record's content attributes (empty → NULL).

    >>> columns = attributes_to_columns({"exploitation": ["sexual", "laboral"]}, index=0)
    >>> columns["exploitation"]
    'laboral;sexual'
    """
    sex = attributes.get("sex") or None
    if sex not in (None, "F", "M"):
        raise InputError(f"atributo sex inválido (registro {index})")
    forms = attributes.get("exploitation") or []
    if not all(isinstance(f, str) and f in EXPLOITATION_FORMS for f in forms):
        raise InputError(f"atributo exploitation inválido (registro {index})")
    years: dict[str, int | None] = {}
    for name in ("birth_year_min", "birth_year_max", "age_at_event"):
        value = attributes.get(name)
        low, high = AGE_RANGE if name == "age_at_event" else YEAR_RANGE
        if value is not None and not low <= value <= high:
            raise InputError(f"atributo {name} fuera de rango {low}-{high} (registro {index})")
        years[name] = value
    return {
        "sex": sex,
        **years,
        "nationality": _text(attributes.get("nationality"), _NATIONALITY, "nationality", index),
        "ubigeo_birth": _text(attributes.get("ubigeo_birth"), _UBIGEO, "ubigeo_birth", index),
        "ubigeo_residence": _text(
            attributes.get("ubigeo_residence"), _UBIGEO, "ubigeo_residence", index
        ),
        "ubigeo_event": _text(attributes.get("ubigeo_event"), _UBIGEO, "ubigeo_event", index),
        "event_date": _event_date(attributes.get("event_date"), index),
        "exploitation": ";".join(sorted(set(forms))) or None,
    }


def find_upload(session: OrmSession, *, source_id: int, body_sha256: str) -> Upload | None:
    return session.execute(
        select(Upload).where(Upload.source_id == source_id, Upload.body_sha256 == body_sha256)
    ).scalars().first()


def in_chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``items`` in slices short enough for an ``IN (...)`` list under SQLite's parameter limit."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def insert_rows(session: OrmSession, table: sa.Table, rows: Iterable[dict[str, Any]],
                *, batch: int = 5000) -> None:
    """Insert ``rows`` into ``table``, ``batch`` rows per statement, then flush."""
    pending: list[dict[str, Any]] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= batch:
            session.execute(table.insert(), pending)
            pending = []
    if pending:
        session.execute(table.insert(), pending)
    session.flush()


def batch_refs(batch: Batch) -> list[bytes]:
    """The batch's record references; InputError when one is repeated."""
    refs = [bytes(r) for r in batch.record_refs]
    if len(set(refs)) != len(refs):
        raise InputError("el lote repite una referencia de registro (duplicate record_ref)")
    return refs


def record_values(batch: Batch) -> list[dict[str, Any]]:
    """Per record of ``batch``: its CLK, locator, keyed sections (None where the batch has none)
    and content columns, as the bank's record columns."""
    columns = [attributes_to_columns(a, index=i) for i, a in enumerate(batch.attributes)]
    sections = {name: batch.extras.get(name) for name in RECORD_SECTIONS}  # None: not declared
    return [{"clk": batch.clks[i].tobytes(), "locator": batch.locators[i].tobytes(),
             **{name: None if items is None else items[i].tobytes()
                for name, items in sections.items()},
             **columns[i]} for i in range(len(columns))]


def new_upload(session: OrmSession, batch: Batch, *, source_id: int, uploaded_by: str,
               now: datetime, status: str, new_count: int, updated_count: int) -> Upload:
    """The upload row of ``batch``, added and flushed (it has its id)."""
    upload = Upload(
        source_id=source_id,
        body_sha256=str(batch.header["body_sha256"]),
        schema_id=str(batch.header.get("schema_id", ""))[:100],
        schema_fingerprint=str(batch.header.get("schema_fingerprint", ""))[:100],
        format_version=int(batch.header["format_version"]),
        clk_bits=int(batch.header["clk_bits"]),
        batch_created_at=str(batch.header.get("created_at", ""))[:40],
        record_count=len(batch.record_refs),
        new_count=new_count,
        updated_count=updated_count,
        status=status,
        uploaded_by=uploaded_by,
        created_at=now,
    )
    session.add(upload)
    session.flush()
    return upload


def _latest_versions(
    session: Session, *, source_id: int, refs: Sequence[bytes]
) -> dict[bytes, int]:
    latest: dict[bytes, int] = {}
    for chunk in in_chunks(refs):
        rows = session.execute(
            sa.select(EncodedRecord.record_ref, sa.func.max(EncodedRecord.version))  # type: ignore[call-overload]
            .where(EncodedRecord.source_id == source_id, col(EncodedRecord.record_ref).in_(chunk))
            .group_by(EncodedRecord.record_ref)
        ).all()
        latest.update({bytes(ref): int(version) for ref, version in rows})
    return latest


def store_batch(
    session: Session,
    *,
    batch: Batch,
    source: Source,
    uploaded_by: str,
    now: datetime | None = None,
) -> tuple[Upload, bool]:
    """Store a checked batch; return (upload, created).

    The same body again returns the existing upload and changes nothing (created=False). A
    record reference seen before becomes a new version and the older one stops being current.
    Nothing is committed here.
    """
    assert source.id is not None
    now = now or utcnow()
    body_sha256 = str(batch.header["body_sha256"])
    existing = find_upload(session, source_id=source.id, body_sha256=body_sha256)
    if existing is not None:
        return existing, False
    refs = batch_refs(batch)
    values = record_values(batch)
    custody = custody_key_for(session)
    # The bank names a record by its stored reference (custody.CustodyKey.stored_ref).
    stored = [custody.stored_ref(source.id, ref) for ref in refs]
    latest = _latest_versions(session, source_id=source.id, refs=stored)
    updated = sum(1 for r in stored if r in latest)
    upload = new_upload(session, batch, source_id=source.id, uploaded_by=uploaded_by, now=now,
                        status="stored", new_count=len(refs) - updated, updated_count=updated)
    for chunk in in_chunks([r for r in stored if r in latest]):
        session.execute(
            sa.update(EncodedRecord)
            .where(
                col(EncodedRecord.source_id) == source.id,
                col(EncodedRecord.record_ref).in_(chunk),
                col(EncodedRecord.is_current).is_(True),
            )
            .values(is_current=False)
        )
    table: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, (seal_row(custody, {
        "source_id": source.id,
        "record_ref": ref,
        "version": latest.get(stored[i], 0) + 1,
        **values[i],
        "upload_id": upload.id,
        "created_at": now,
        "is_current": True,
        "withdrawn_at": None,
    }) for i, ref in enumerate(refs)))
    return upload, True


def get_upload(session: Session, *, upload_id: int) -> Upload:
    row = session.get(Upload, upload_id)
    if row is None:
        raise NotFound("carga desconocida (unknown upload)")
    return row


def upload_public(row: Upload, *, source_name: str) -> UploadPublic:
    return UploadPublic.model_validate({**row.model_dump(), "source": source_name})


def withdraw_records(
    session: Session,
    *,
    source_id: int,
    record_refs: Sequence[bytes],
    now: datetime | None = None,
) -> tuple[int, int]:
    """Withdraw the current version of each reference; return (withdrawn, not_found).

    A withdrawn record leaves the linkage (``is_current`` false, ``withdrawn_at`` set); a later
    upload of the same reference brings it back as a new version.
    """
    refs = list(dict.fromkeys(record_refs))
    if any(len(r) != RECORD_REF_SIZE for r in refs):
        raise InputError(f"cada referencia debe tener {RECORD_REF_SIZE} bytes (64 hex)")
    custody = custody_key_for(session)
    refs = [custody.stored_ref(source_id, ref) for ref in refs]
    now = now or utcnow()
    withdrawn = 0
    for chunk in in_chunks(refs):
        result = session.execute(
            sa.update(EncodedRecord)
            .where(
                col(EncodedRecord.source_id) == source_id,
                col(EncodedRecord.record_ref).in_(chunk),
                col(EncodedRecord.is_current).is_(True),
            )
            .values(is_current=False, withdrawn_at=now)
        )
        withdrawn += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.flush()
    return withdrawn, len(refs) - withdrawn


# The use cases of an institution's uploader token (and the operators who follow uploads), for
# the API; each records its change in the log in the same transaction.

def source_of(session: Session, actor: Actor) -> Source:
    """The registered source of an uploader token (PermissionDenied for a token without one)."""
    source = session.get(Source, actor.source_id) if actor.source_id is not None else None
    if source is None:
        raise PermissionDenied("el token no está vinculado a una fuente registrada")
    return source


def read_uploads(session: Session, *, actor: Actor, limit: int = 1000) -> list[UploadPublic]:
    """Uploads newest first; an uploader sees only its own source's."""
    query = select(Upload, Source.name).join(Source, col(Upload.source_id) == col(Source.id))
    if actor.role == "uploader":
        query = query.where(Upload.source_id == actor.source_id)
    rows = session.exec(query.order_by(col(Upload.id).desc()).limit(limit)).all()
    return [upload_public(upload, source_name=name) for upload, name in rows]


def read_upload(session: Session, *, actor: Actor, upload_id: int) -> UploadPublic:
    """One upload (NotFound for another source's, to an uploader)."""
    upload = get_upload(session, upload_id=upload_id)
    if actor.role == "uploader" and upload.source_id != actor.source_id:
        raise NotFound("carga desconocida (unknown upload)")
    source = session.get(Source, upload.source_id)
    return upload_public(upload, source_name=source.name if source else "")


def withdraw_for_source(session: Session, *, actor: Actor, record_refs: Sequence[bytes],
                        reason: str | None) -> tuple[int, int]:
    """Withdraw records of the token's own source (``withdraw_records``); ``records.withdraw``
    with the count and the reason. Returns (withdrawn, not_found)."""
    if actor.source_id is None:
        raise PermissionDenied("el token no está vinculado a una fuente registrada")
    withdrawn, not_found = withdraw_records(session, source_id=actor.source_id,
                                            record_refs=record_refs)
    record(session, actor=actor.label, action="records.withdraw",
           objects=[f"source:{actor.source}", f"count:{withdrawn}"], reason=reason)
    return withdrawn, not_found
