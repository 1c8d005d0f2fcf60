"""Reading a re-identification request and its status, and recording a refused call; shared by
the workflow (decisions) and the release of packages (fetching)."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from linkage_service.audit.log import refusal_recorded
from linkage_service.auth import Actor
from linkage_service.models.reid import ReidRequest
from vinculo_common.errors import NotFound

__all__ = ["effective_status", "get_request", "refusals_recorded"]

# Only ids of a known shape reach the log (a request id from a URL or a form can hold any text).
_LOGGABLE = re.compile(r"^(rq-[0-9a-f]{16}|source:[a-z][a-z0-9_]{1,31})$")


def refusals_recorded(session: Session, actor: Actor, action: str, objects: list[str]
                      ) -> AbstractContextManager[None]:
    """Roll back and record a refused use case on its own (``audit.log.refusal_recorded``),
    naming only the well-formed ids among ``objects``."""
    safe = [o for o in objects if _LOGGABLE.match(o)]
    return refusal_recorded(session, actor=actor.label, action=action, objects=safe)


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
