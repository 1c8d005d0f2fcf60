"""The audit log for auditors: ``/api/v1/audit`` (docs/audit.md).

Reading and exporting the log are themselves audited. ``verify`` checks the chain and the
signed checkpoints on the server with the service's own public key; ``vinculo audit verify``
does the same offline, which is the check to trust when the server itself is in doubt.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from linkage_service.api.deps import RequireRole, ServiceKeyDep, SessionDep
from linkage_service.api.openapi import DB_INT_MAX, limit_query
from linkage_service.audit import auditor
from linkage_service.audit.verify import VerifyReport
from linkage_service.auth import Actor
from linkage_service.models.audit import AuditCheckpointPublic, AuditEntryPublic

__all__ = ["VerifyResult", "router"]

router = APIRouter(prefix="/audit", tags=["audit"])


class VerifyResult(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    last_seq: int
    last_checkpoint_seq: int
    first_bad_seq: int | None
    problem: str | None
    notes: list[str]

    @classmethod
    def of(cls, report: VerifyReport) -> VerifyResult:
        return cls(ok=report.ok, entries=report.entries, checkpoints=report.checkpoints,
                   last_seq=report.last_seq, last_checkpoint_seq=report.last_checkpoint_seq,
                   first_bad_seq=report.first_bad_seq, problem=report.problem,
                   notes=report.notes)


@router.get("/entries")
def entries(
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0, le=DB_INT_MAX,
                                    description="último seq recibido (0: desde el inicio)")] = 0,
    limit: int = limit_query(100, 1000),
    action: Annotated[str | None, Query(max_length=100, pattern=r"^[a-z0-9_.]+$",
                                        description="solo esta acción")] = None,
    actor: Actor = RequireRole("auditor"),
) -> list[AuditEntryPublic]:
    """Entries after ``after_seq`` in order (page with the last seq you got).

    Example: ``GET /api/v1/audit/entries?after_seq=0&limit=100&action=reid.request.approve``
    """
    out = auditor.read_entries(session, actor=actor.label, after_seq=after_seq, limit=limit,
                               action=action)
    session.commit()
    return out


@router.get("/checkpoints")
def checkpoints(
    session: SessionDep,
    actor: Actor = RequireRole("auditor"),
) -> list[AuditCheckpointPublic]:
    """All signed checkpoints (keep the last one elsewhere: it is an external anchor).

    Example: ``GET /api/v1/audit/checkpoints``
    """
    out = auditor.read_checkpoints(session, actor=actor.label)
    session.commit()
    return out


@router.post("/checkpoint")
def make_checkpoint(
    session: SessionDep,
    service_key: ServiceKeyDep,
    actor: Actor = RequireRole("auditor", "admin"),
) -> AuditCheckpointPublic:
    """Sign a checkpoint of the log as it stands now (after recording this call).

    Example: ``POST /api/v1/audit/checkpoint``
    """
    cp = auditor.sign_checkpoint(session, actor=actor.label, signer=service_key)
    session.commit()
    return AuditCheckpointPublic.model_validate(cp, from_attributes=True)


@router.get("/verify")
def verify_log(
    session: SessionDep,
    service_key: ServiceKeyDep,
    actor: Actor = RequireRole("auditor"),
) -> VerifyResult:
    """Check the whole chain and every checkpoint signature on the server.

    Example: ``GET /api/v1/audit/verify``
    """
    report = auditor.verify_log(session, actor=actor.label, public_key=service_key.public_key())
    session.commit()
    return VerifyResult.of(report)


@router.get("/export", responses={200: {"description": "La bitácora completa", "content": {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}}}}})
def export(
    session: SessionDep,
    format: Literal["jsonl", "csv"] = "jsonl",
    actor: Actor = RequireRole("auditor"),
) -> StreamingResponse:
    """The whole log as JSON lines or CSV, in ``seq`` order.

    Example: ``GET /api/v1/audit/export?format=csv``
    """
    lines = auditor.export_log(session, actor=actor.label, fmt=format)
    session.commit()
    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    return StreamingResponse(lines, media_type=f"{media}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="vinculo-audit.{format}"'})
