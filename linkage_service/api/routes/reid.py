"""Re-identification: ``/api/v1/reid`` (docs/reid.md).

Requests are made by ``reid_requester`` tokens and decided by ``reid_approver`` tokens of
another person; packages are fetched only by an ``uploader`` token of the holding source. The
workflow functions write the audit entries of state changes in the request's transaction;
refusals are written here in their own transaction, since the request's is rolled back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from linkage_service.api.deps import (
    AuditDep,
    RequireRole,
    ServiceKeyDep,
    SessionDep,
    SettingsDep,
    record_outside_request,
)
from linkage_service.api.openapi import REQUEST_ID_PATTERN, SOURCE_PATTERN, errors, limit_query
from linkage_service.auth import Actor
from linkage_service.models.reid import ReidRequestCreate, ReidRequestPublic
from linkage_service.reid import (
    approve,
    create_request,
    deny,
    effective_status,
    fetch_package,
    get_request,
    list_requests,
    policy_from_settings,
    request_public,
    same_person,
)
from vinculo_common.errors import (
    AuthError,
    Conflict,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    VinculoError,
)

__all__ = ["Decision", "DenyDecision", "router"]

router = APIRouter(prefix="/reid", tags=["reid"])
PACKAGE_MEDIA_TYPE = "application/vnd.vinculo.reid-package"
# Only ids of a known shape from the URL reach the log (a path can hold any text).
_LOGGABLE = re.compile(r"^(rq-[0-9a-f]{16}|source:[a-z][a-z0-9_]{1,31})$")


RequestId = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, description="rq-… (16 hex)")]
SourceName = Annotated[str, Path(pattern=SOURCE_PATTERN, description="fuente: reta, sistra…")]


class Decision(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class DenyDecision(BaseModel):
    """A denial always says why (at least one character that is not a space)."""

    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


@contextmanager
def _audited_refusal(
    request: Request, session: Session, actor: Actor, action: str, objects: list[str]
) -> Iterator[None]:
    """On a refusal, roll back and log it (401/403 are logged by the error handler)."""
    try:
        yield
    except VinculoError as exc:
        session.rollback()
        if not isinstance(exc, AuthError | PermissionDenied):
            outcome = "denied" if isinstance(exc, Conflict | LimitExceeded) else "failed"
            safe = [o for o in objects if _LOGGABLE.match(o)]
            record_outside_request(request.app.state.engine, actor=actor.label, action=action,
                                   objects=safe, reason=str(exc)[:500], outcome=outcome)
        raise


def _visible(actor: Actor, req_token: str, req_user: str | None) -> bool:
    """Requesters see their own requests; approvers and auditors see all."""
    return actor.role != "reid_requester" or same_person(
        req_token, req_user, actor.token_id, actor.user_label)


@router.post("/requests", status_code=201, responses=errors(404, 413, 429))
def create(
    body: ReidRequestCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: Actor = RequireRole("reid_requester"),
) -> ReidRequestPublic:
    """Ask to re-identify persons (pseudonyms) for a legal basis and purpose.

    Example: ``POST /api/v1/reid/requests {"persons": ["P-7KQ2M4XZ3A"], "legal_basis":
    "Ley 28950", "purpose": "Carpeta fiscal 123-2025"}``
    """
    with _audited_refusal(request, session, actor, "reid.request.create", []):
        req = create_request(
            session, requester=actor, persons=body.persons, sources=body.sources,
            legal_basis=body.legal_basis, purpose=body.purpose,
            policy=policy_from_settings(settings),
        )
        session.commit()
        return request_public(session, req)


@router.get("/requests")
def list_all(
    session: SessionDep,
    audit: AuditDep,
    status: Literal["pending", "approved", "denied", "expired"] | None = None,
    limit: int = limit_query(100, 1000),
    actor: Actor = RequireRole("reid_requester", "reid_approver", "auditor"),
) -> list[ReidRequestPublic]:
    """Requests, newest first (a requester sees only their own); ``?status=pending``.

    Example: ``GET /api/v1/reid/requests?status=pending``
    """
    rows = [r for r in list_requests(session, status=status, limit=limit)
            if _visible(actor, r.requester_token_id, r.requester_user)]
    audit("reid.request.list", objects=[r.id for r in rows][:100])
    session.commit()
    return [request_public(session, r) for r in rows]


@router.get("/requests/{request_id}", responses=errors(404))
def read(
    request_id: RequestId,
    request: Request,
    session: SessionDep,
    audit: AuditDep,
    actor: Actor = RequireRole("reid_requester", "reid_approver", "auditor"),
) -> ReidRequestPublic:
    """One request with its approvals and released packages (metadata only).

    Example: ``GET /api/v1/reid/requests/rq-3f2a9c0d11e4b7a8``
    """
    with _audited_refusal(request, session, actor, "reid.request.read", [request_id]):
        req = get_request(session, request_id=request_id)
        if not _visible(actor, req.requester_token_id, req.requester_user):
            raise NotFound("solicitud de reidentificación desconocida (unknown request)")
        audit("reid.request.read", objects=[req.id])
        session.commit()
        return request_public(session, req)


@router.post("/requests/{request_id}/approve", responses=errors(404, 409))
def approve_request(
    request_id: RequestId,
    body: Decision,
    request: Request,
    session: SessionDep,
    service_key: ServiceKeyDep,
    actor: Actor = RequireRole("reid_approver"),
) -> ReidRequestPublic:
    """Approve (the requester never can); the last approval releases the packages.

    Example: ``POST /api/v1/reid/requests/rq-3f2a…/approve {"reason": "procede"}``
    """
    with _audited_refusal(request, session, actor, "reid.request.approve", [request_id]):
        req = approve(session, request_id=request_id, approver=actor, reason=body.reason,
                      signer=service_key)
        session.commit()
        return request_public(session, req)


@router.post("/requests/{request_id}/deny", responses=errors(404, 409))
def deny_request(
    request_id: RequestId,
    body: DenyDecision,
    request: Request,
    session: SessionDep,
    actor: Actor = RequireRole("reid_approver"),
) -> ReidRequestPublic:
    """Deny with a reason (required).

    Example: ``POST /api/v1/reid/requests/rq-3f2a…/deny {"reason": "sin base legal"}``
    """
    with _audited_refusal(request, session, actor, "reid.request.deny", [request_id]):
        req = deny(session, request_id=request_id, approver=actor, reason=body.reason or "")
        session.commit()
        return request_public(session, req)


class PackageInfo(BaseModel):
    request_id: str
    source: str
    record_count: int
    sha256: str
    expires_at: str


@router.get("/packages")
def packages_for_source(
    session: SessionDep,
    audit: AuditDep,
    actor: Actor = RequireRole("uploader"),
) -> list[PackageInfo]:
    """Packages waiting for the token's own source (approved, not expired).

    Example: ``GET /api/v1/reid/packages``
    """
    import sqlalchemy as sa

    from linkage_service.models.reid import ReidPackage, ReidRequest

    rows = session.execute(
        sa.select(ReidPackage, ReidRequest)
        .join(ReidRequest, ReidRequest.id == ReidPackage.request_id)  # type: ignore[arg-type]
        .where(ReidPackage.source == (actor.source or ""))  # type: ignore[arg-type]
    ).all()
    out = [
        PackageInfo(request_id=req.id, source=pkg.source, record_count=pkg.record_count,
                    sha256=pkg.sha256, expires_at=req.expires_at.isoformat())
        for pkg, req in rows if effective_status(req) == "approved"
    ]
    audit("reid.package.list", objects=[f"source:{actor.source}"])
    session.commit()
    return out


@router.get("/requests/{request_id}/packages/{source}", responses={
    200: {"description": "El paquete sellado y firmado",
          "content": {PACKAGE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
    **errors(404, 409)})
def fetch(
    request_id: RequestId,
    source: SourceName,
    request: Request,
    session: SessionDep,
    actor: Actor = RequireRole("uploader"),
) -> Response:
    """The sealed, signed package of ``source`` (only that source's uploader token; only after
    approval and before expiry). Open it with ``vinculo reid open``.

    Example: ``GET /api/v1/reid/requests/rq-3f2a…/packages/reta``
    """
    objects = [request_id, f"source:{source}"]
    with _audited_refusal(request, session, actor, "reid.package.fetch", objects):
        pkg = fetch_package(session, request_id=request_id, source=source, caller=actor)
        content = bytes(pkg.content)
        session.commit()
    return Response(
        content=content, media_type=PACKAGE_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{request_id}.{source}.vrp"'},
    )
