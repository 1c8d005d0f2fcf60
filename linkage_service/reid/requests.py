"""Reading a re-identification request and its status, shared by the workflow (decisions) and
the release of packages (fetching)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from linkage_service.models.reid import ReidRequest
from vinculo_common.errors import NotFound

__all__ = ["effective_status", "get_request"]


def get_request(session: Session, *, request_id: str) -> ReidRequest:
    req = session.get(ReidRequest, request_id)
    if req is None:
        raise NotFound("solicitud de reidentificación desconocida (unknown request)")
    return req


def effective_status(req: ReidRequest, *, now: datetime | None = None) -> str:
    """``pending`` / ``approved`` / ``denied``, or ``expired`` once ``expires_at`` has passed
    (a denied request stays denied)."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    if req.status != "denied" and at >= req.expires_at.astimezone(UTC):
        return "expired"
    return req.status
