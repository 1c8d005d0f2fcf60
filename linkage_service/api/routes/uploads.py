"""Uploads of encoding batches: ``POST /api/v1/uploads`` (raw batch body) and their status."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlmodel import Session, col, select

from linkage_service.api.deps import AuditDep, Auditor, RequireRole, SessionDep, SettingsDep
from linkage_service.api.openapi import IdPath, errors
from linkage_service.auth import Actor
from linkage_service.bank.migration import store_migration_batch, upload_target
from linkage_service.logs import log_event
from linkage_service.models import Source, Upload, UploadPublic
from linkage_service.settings import Settings
from linkage_service.store.uploads import (
    check_batch,
    find_upload,
    get_upload,
    store_batch,
    upload_public,
)
from vinculo_common.batch import read_batch
from vinculo_common.errors import Conflict, InputError, LimitExceeded, NotFound, PermissionDenied

__all__ = ["read_limited_body", "router"]

router = APIRouter(prefix="/uploads", tags=["uploads"])


async def read_limited_body(request: Request, *, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InputError("cabecera Content-Length inválida") from None
        if size > limit:
            raise LimitExceeded(
                f"el lote supera el tamaño máximo de {limit} bytes (batch too large)"
            )
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise LimitExceeded(
                f"el lote supera el tamaño máximo de {limit} bytes (batch too large)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _source_of(session: Session, actor: Actor) -> Source:
    source = session.get(Source, actor.source_id) if actor.source_id is not None else None
    if source is None:
        raise PermissionDenied("el token no está vinculado a una fuente registrada")
    return source


def _store(
    *, session: Session, body: bytes, actor: Actor, settings: Settings,
    fingerprints: set[str], audit: Auditor,
) -> tuple[UploadPublic, bool]:
    source = _source_of(session, actor)
    batch = read_batch(body, max_records=settings.max_upload_records)
    # The bank's schema (a migration may have changed it) or, while a schema migration is open,
    # its target schema: a migration batch (bank.migration).
    fingerprint = str(batch.header.get("schema_fingerprint", ""))
    target = upload_target(session, fingerprint=fingerprint, configured=fingerprints)
    check_batch(batch, source=source, schema_fingerprints=set(target.fingerprints))
    try:
        if target.migration_id is not None:
            upload, created = store_migration_batch(
                session, batch=batch, source=source, migration_id=target.migration_id,
                uploaded_by=actor.token_id)
        else:
            upload, created = store_batch(session, batch=batch, source=source,
                                          uploaded_by=actor.token_id)
        if upload_target(session, fingerprint=fingerprint, configured=fingerprints) != target:
            raise Conflict("el esquema de enlace del banco cambió durante la carga: no se guardó "
                           "nada, vuelva a cargar (the bank's schema changed meanwhile)")
        assert upload.id is not None
        migration = [f"schema_migration:{target.migration_id}"] if target.migration_id else []
        audit(("upload.migration" if migration else "upload.store") if created
              else "upload.repeat",
              objects=[f"upload:{upload.id}", f"source:{source.name}", *migration])
        session.commit()
    except DBIntegrityError:
        # The same batch arrived twice at once: the other request stored it first.
        session.rollback()
        assert source.id is not None
        again = find_upload(session, source_id=source.id,
                            body_sha256=str(batch.header["body_sha256"]))
        if again is None:
            raise
        upload, created = again, False
    log_event("upload.stored" if created else "upload.repeated", upload_id=upload.id,
              source=source.name, record_count=upload.record_count, new_count=upload.new_count,
              updated_count=upload.updated_count, level=logging.INFO)
    return upload_public(upload, source_name=source.name), created


@router.post(
    "",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                "format": "binary"}}},
        }
    },
    responses={200: {"description": "El mismo lote ya estaba cargado: nada cambió"},
               **errors(409, 413)},
)
async def upload_batch(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    audit: AuditDep,
    actor: Actor = RequireRole("uploader"),
) -> UploadPublic:
    """Store an encoding batch of the token's own source (201), or find it again (200).

    Refused with 4xx and the reason: size (413), format or truncation (422), another source's
    batch (403), signature (422), schema fingerprint or linkage secret (422).

    Example: ``curl -H "Authorization: Bearer $T" --data-binary @reta.vnb
    -H "Content-Type: application/octet-stream" $URL/api/v1/uploads``
    """
    body = await read_limited_body(request, limit=settings.max_upload_bytes)
    fingerprints: set[str] = request.app.state.schema_fingerprints
    public, created = await run_in_threadpool(
        lambda: _store(session=session, body=body, actor=actor, settings=settings,
                       fingerprints=fingerprints, audit=audit)
    )
    response.status_code = 201 if created else 200
    return public


@router.get("")
def list_uploads(
    session: SessionDep, actor: Actor = RequireRole("uploader", "operator", "admin")
) -> list[UploadPublic]:
    """Uploads, newest first; an uploader sees only its own source's.

    Example: ``GET /api/v1/uploads``
    """
    query = select(Upload, Source.name).join(Source, col(Upload.source_id) == col(Source.id))
    if actor.role == "uploader":
        query = query.where(Upload.source_id == actor.source_id)
    rows = session.exec(query.order_by(col(Upload.id).desc()).limit(1000)).all()
    return [upload_public(upload, source_name=name) for upload, name in rows]


@router.get("/{upload_id}", responses=errors(404))
def read_upload(
    upload_id: IdPath,
    session: SessionDep,
    actor: Actor = RequireRole("uploader", "operator", "admin"),
) -> UploadPublic:
    """Status and counts of one upload (an uploader sees only its own source's).

    Example: ``GET /api/v1/uploads/3`` → ``{"id": 3, "status": "stored", ...}``
    """
    upload = get_upload(session, upload_id=upload_id)
    if actor.role == "uploader" and upload.source_id != actor.source_id:
        raise NotFound("carga desconocida (unknown upload)")
    source = session.get(Source, upload.source_id)
    return upload_public(upload, source_name=source.name if source else "")
