"""Re-identification: ``/api/v1/reid`` (docs/reid.md).

Requests are made by ``reid_requester`` tokens and decided by ``reid_approver`` tokens of
another person; packages are fetched only by an ``uploader`` token of the holding source. The
use cases (``linkage_service.reid``) record both the changes and the refusals.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from linkage_service import reid
from linkage_service.api.deps import RequireRole, ServiceKeyDep, SessionDep, SettingsDep
from linkage_service.api.openapi import REQUEST_ID_PATTERN, SOURCE_PATTERN, errors, limit_query
from linkage_service.auth import Actor
from linkage_service.models.reid import ReidRequestCreate, ReidRequestPublic
from linkage_service.reid import policy_from_settings, request_public

__all__ = ["Decision", "DenyDecision", "router"]

router = APIRouter(prefix="/reid", tags=["reid"])
PACKAGE_MEDIA_TYPE = "application/vnd.vinculo.reid-package"

RequestId = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, description="rq-… (16 hex)")]
SourceName = Annotated[str, Path(pattern=SOURCE_PATTERN, description="fuente: reta, sistra…")]


class Decision(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class DenyDecision(BaseModel):
    """A denial always says why (at least one character that is not a space)."""

    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


@router.post("/requests", status_code=201, responses=errors(404, 413, 429))
def create(
    body: ReidRequestCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: Actor = RequireRole("reid_requester"),
) -> ReidRequestPublic:
    """Ask to re-identify persons (pseudonyms) for a legal basis and purpose.

    Example: ``POST /api/v1/reid/requests {"persons": ["P-7KQ2M4XZ3A"], "legal_basis":
    "Ley 28950", "purpose": "Carpeta fiscal 123-2025"}``
    """
    req = reid.submit_request(session, requester=actor, persons=body.persons,
                              sources=body.sources, legal_basis=body.legal_basis,
                              purpose=body.purpose, policy=policy_from_settings(settings))
    session.commit()
    return request_public(session, req)


@router.get("/requests")
def list_all(
    session: SessionDep,
    status: Literal["pending", "approved", "denied", "expired"] | None = None,
    limit: int = limit_query(100, 1000),
    actor: Actor = RequireRole("reid_requester", "reid_approver", "auditor"),
) -> list[ReidRequestPublic]:
    """Requests, newest first (a requester sees only their own); ``?status=pending``.

    Example: ``GET /api/v1/reid/requests?status=pending``
    """
    rows = reid.list_visible(session, actor=actor, status=status, limit=limit)
    session.commit()
    return [request_public(session, r) for r in rows]


@router.get("/requests/{request_id}", responses=errors(404))
def read(
    request_id: RequestId,
    session: SessionDep,
    actor: Actor = RequireRole("reid_requester", "reid_approver", "auditor"),
) -> ReidRequestPublic:
    """One request with its approvals and released packages (metadata only).

    Example: ``GET /api/v1/reid/requests/rq-3f2a9c0d11e4b7a8``
    """
    req = reid.read_request(session, actor=actor, request_id=request_id)
    session.commit()
    return request_public(session, req)


@router.post("/requests/{request_id}/approve", responses=errors(404, 409))
def approve_request(
    request_id: RequestId,
    body: Decision,
    session: SessionDep,
    service_key: ServiceKeyDep,
    actor: Actor = RequireRole("reid_approver"),
) -> ReidRequestPublic:
    """Approve (the requester never can); the last approval releases the packages.

    Example: ``POST /api/v1/reid/requests/rq-3f2a…/approve {"reason": "procede"}``
    """
    req = reid.approve_request(session, request_id=request_id, approver=actor,
                               reason=body.reason, signer=service_key)
    session.commit()
    return request_public(session, req)


@router.post("/requests/{request_id}/deny", responses=errors(404, 409))
def deny_request(
    request_id: RequestId,
    body: DenyDecision,
    session: SessionDep,
    actor: Actor = RequireRole("reid_approver"),
) -> ReidRequestPublic:
    """Deny with a reason (required).

    Example: ``POST /api/v1/reid/requests/rq-3f2a…/deny {"reason": "sin base legal"}``
    """
    req = reid.deny_request(session, request_id=request_id, approver=actor,
                            reason=body.reason or "")
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
    actor: Actor = RequireRole("uploader"),
) -> list[PackageInfo]:
    """Packages waiting for the token's own source (approved, not expired).

    Example: ``GET /api/v1/reid/packages``
    """
    out = [PackageInfo(request_id=req.id, source=pkg.source, record_count=pkg.record_count,
                       sha256=pkg.sha256, expires_at=req.expires_at.isoformat())
           for pkg, req in reid.packages_waiting(session, caller=actor)]
    session.commit()
    return out


@router.get("/requests/{request_id}/packages/{source}", responses={
    200: {"description": "El paquete sellado y firmado",
          "content": {PACKAGE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
    **errors(404, 409)})
def fetch(
    request_id: RequestId,
    source: SourceName,
    session: SessionDep,
    actor: Actor = RequireRole("uploader"),
) -> Response:
    """The sealed, signed package of ``source`` (only that source's uploader token; only after
    approval and before expiry). Open it with ``vinculo reid open``.

    Example: ``GET /api/v1/reid/requests/rq-3f2a…/packages/reta``
    """
    pkg = reid.download_package(session, request_id=request_id, source=source, caller=actor)
    content = bytes(pkg.content)
    session.commit()
    return Response(
        content=content, media_type=PACKAGE_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{request_id}.{source}.vrp"'},
    )
