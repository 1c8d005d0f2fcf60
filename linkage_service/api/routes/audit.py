"""The audit log for auditors: ``/api/v1/audit`` (docs/audit.md).

Reading and exporting the log are themselves audited. ``verify`` checks the chain and the
signed checkpoints on the server with the service's own public key; ``vinculo audit verify``
does the same offline, which is the check to trust when the server itself is in doubt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from linkage_service.api.deps import AuditDep, RequireRole, ServiceKeyDep, SessionDep
from linkage_service.api.openapi import DB_INT_MAX, limit_query
from linkage_service.audit import checkpoint, verify
from linkage_service.audit.export import export_lines, iter_entries
from linkage_service.auth import Actor
from linkage_service.models.audit import (
    AuditCheckpoint,
    AuditCheckpointPublic,
    AuditEntry,
    AuditEntryPublic,
)

__all__ = ["VerifyResult", "router"]

router = APIRouter(prefix="/audit", tags=["audit"])
_ENTRY: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]
_CP: sa.Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]


class VerifyResult(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    last_seq: int
    last_checkpoint_seq: int
    first_bad_seq: int | None
    problem: str | None
    notes: list[str]


@router.get("/entries")
def entries(
    session: SessionDep,
    audit: AuditDep,
    after_seq: Annotated[int, Query(ge=0, le=DB_INT_MAX,
                                    description="último seq recibido (0: desde el inicio)")] = 0,
    limit: int = limit_query(100, 1000),
    action: Annotated[str | None, Query(max_length=100, pattern=r"^[a-z0-9_.]+$",
                                        description="solo esta acción")] = None,
    _actor: Actor = RequireRole("auditor"),
) -> list[AuditEntryPublic]:
    """Entries after ``after_seq`` in order (page with the last seq you got).

    Example: ``GET /api/v1/audit/entries?after_seq=0&limit=100&action=reid.request.approve``
    """
    query = sa.select(AuditEntry).where(_ENTRY.c.seq > after_seq)
    if action:
        query = query.where(_ENTRY.c.action == action)
    rows = session.execute(query.order_by(_ENTRY.c.seq).limit(limit)).scalars().all()
    out = [AuditEntryPublic(seq=r.seq, at=r.at, actor=r.actor, action=r.action,
                            objects=r.object_ids, reason=r.reason, outcome=r.outcome,
                            prev_hash=r.prev_hash, entry_hash=r.entry_hash) for r in rows]
    audit("audit.read", objects=[f"after:{after_seq}", f"count:{len(out)}"])
    session.commit()
    return out


@router.get("/checkpoints")
def checkpoints(
    session: SessionDep,
    audit: AuditDep,
    _actor: Actor = RequireRole("auditor"),
) -> list[AuditCheckpointPublic]:
    """All signed checkpoints (keep the last one elsewhere: it is an external anchor).

    Example: ``GET /api/v1/audit/checkpoints``
    """
    rows = session.execute(sa.select(AuditCheckpoint).order_by(_CP.c.number)).scalars().all()
    audit("audit.checkpoints.read", objects=[f"count:{len(rows)}"])
    session.commit()
    return [AuditCheckpointPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("/checkpoint")
def make_checkpoint(
    session: SessionDep,
    audit: AuditDep,
    service_key: ServiceKeyDep,
    _actor: Actor = RequireRole("auditor", "admin"),
) -> AuditCheckpointPublic:
    """Sign a checkpoint of the log as it stands now (after recording this call).

    Example: ``POST /api/v1/audit/checkpoint``
    """
    audit("audit.checkpoint", objects=[])
    cp = checkpoint(session, signer=service_key)
    assert cp is not None  # the entry just written makes the log non-empty
    session.commit()
    return AuditCheckpointPublic.model_validate(cp, from_attributes=True)


@router.get("/verify")
def verify_log(
    request: Request,
    session: SessionDep,
    audit: AuditDep,
    service_key: ServiceKeyDep,
    _actor: Actor = RequireRole("auditor"),
) -> VerifyResult:
    """Check the whole chain and every checkpoint signature on the server.

    Example: ``GET /api/v1/audit/verify``
    """
    report = verify(request.app.state.engine, service_key.public_key())
    audit("audit.verify", objects=[f"first_bad:{report.first_bad_seq or 0}"],
          outcome="ok" if report.ok else "failed")
    session.commit()
    return VerifyResult(ok=report.ok, entries=report.entries, checkpoints=report.checkpoints,
                        last_seq=report.last_seq, last_checkpoint_seq=report.last_checkpoint_seq,
                        first_bad_seq=report.first_bad_seq, problem=report.problem,
                        notes=report.notes)


@router.get("/export", responses={200: {"description": "La bitácora completa", "content": {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}}}}})
def export(
    request: Request,
    session: SessionDep,
    audit: AuditDep,
    format: Literal["jsonl", "csv"] = "jsonl",
    _actor: Actor = RequireRole("auditor"),
) -> StreamingResponse:
    """The whole log as JSON lines or CSV, in ``seq`` order.

    Example: ``GET /api/v1/audit/export?format=csv``
    """
    audit("audit.export", objects=[f"format:{format}"])
    session.commit()
    engine = request.app.state.engine

    def stream() -> Iterator[str]:
        with engine.connect() as conn:
            yield from export_lines(iter_entries(conn), fmt=format)

    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    return StreamingResponse(stream(), media_type=f"{media}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="vinculo-audit.{format}"'})
