"""Uploads of encoding batches: ``POST /api/v1/uploads`` (raw batch body) and their status."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from linkage_service.api.deps import RequireRole, SessionDep, SettingsDep
from linkage_service.api.openapi import IdPath, errors
from linkage_service.auth import Actor
from linkage_service.models import UploadPublic
from linkage_service.store.intake import receive_batch
from linkage_service.store.uploads import read_upload as read_one
from linkage_service.store.uploads import read_uploads
from vinculo_common.errors import InputError, LimitExceeded

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
        lambda: receive_batch(session, actor=actor, body=body,
                              max_records=settings.max_upload_records,
                              schema_fingerprints=fingerprints)
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
    return read_uploads(session, actor=actor)


@router.get("/{upload_id}", responses=errors(404))
def read_upload(
    upload_id: IdPath,
    session: SessionDep,
    actor: Actor = RequireRole("uploader", "operator", "admin"),
) -> UploadPublic:
    """Status and counts of one upload (an uploader sees only its own source's).

    Example: ``GET /api/v1/uploads/3`` → ``{"id": 3, "status": "stored", ...}``
    """
    return read_one(session, actor=actor, upload_id=upload_id)
