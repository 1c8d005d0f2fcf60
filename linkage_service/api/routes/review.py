"""The review queue: ``GET /api/v1/review`` lists pending pairs with identity-free evidence,
``POST /api/v1/review/{pair_id}`` records a link / not-link decision kept for every later job.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from linkage_service.api.deps import AuditDep, RequireRole, SessionDep
from linkage_service.api.openapi import IdPath, OffsetQuery, errors, limit_query
from linkage_service.auth import Actor
from linkage_service.bank.review import decide_pair, list_pending
from linkage_service.models.common import utcnow

__all__ = ["ReviewDecision", "router"]

router = APIRouter(prefix="/review", tags=["review"])


class ReviewDecision(BaseModel):
    decision: Literal["link", "not_link"]
    reason: str | None = Field(default=None, max_length=500)


@router.get("")
def pending(
    session: SessionDep,
    audit: AuditDep,
    limit: int = limit_query(50, 1000),
    offset: OffsetQuery = 0,
    actor: Actor = RequireRole("reviewer"),
) -> dict[str, Any]:
    """Pending pairs, most similar first: similarity, the job's evidence, content attributes
    side by side and which agree. No names, documents, birth dates, references or locators.

    Example: ``GET /api/v1/review?limit=20``
    """
    pairs = list_pending(session, limit=limit, offset=offset)
    audit("review.list", objects=[f"review:{p['id']}" for p in pairs][:200] or ["review:none"])
    session.commit()
    return {"pairs": pairs, "offset": offset, "limit": limit}


@router.post("/{pair_id}", responses=errors(404, 409))
def decide(
    pair_id: IdPath,
    body: ReviewDecision,
    session: SessionDep,
    audit: AuditDep,
    actor: Actor = RequireRole("reviewer"),
) -> dict[str, Any]:
    """Decide a pair: ``link`` (must-link) or ``not_link`` (cannot-link).

    Example: ``POST /api/v1/review/12 {"decision": "not_link", "reason": "sexo distinto"}``
    """
    pair = decide_pair(session, pair_id=pair_id, decision=body.decision,
                       decided_by=actor.label, now=utcnow())
    audit(f"review.{body.decision}", objects=[f"review:{pair_id}"], reason=body.reason)
    session.commit()
    return {"id": pair.id, "status": pair.status, "decided_at": pair.decided_at}
