"""The review queue: ``GET /api/v1/review`` lists the queue a page at a time (filters: queue,
source pair, score band, job), ``GET /api/v1/review/next`` and ``GET /api/v1/review/{pair_id}``
give one pair with its neighbours, ``GET /api/v1/review/summary`` the counts,
``POST /api/v1/review/{pair_id}`` records a link / not-link vote kept for every later job, and
``GET /api/v1/review/agreement`` gives the auditor Cohen's κ between reviewers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from linkage_service.api.deps import RequireRole, SessionDep
from linkage_service.api.openapi import IdPath, OffsetQuery, errors, id_query, limit_query
from linkage_service.auth import Actor
from linkage_service.bank import review
from linkage_service.bank.review import QueueFilter
from linkage_service.models.common import utcnow

__all__ = ["ReviewDecision", "queue_filter", "router"]

router = APIRouter(prefix="/review", tags=["review"])


class ReviewDecision(BaseModel):
    decision: Literal["link", "not_link"]
    reason: str | None = Field(default=None, max_length=500)
    expected_votes: int | None = Field(
        default=None, ge=0, description="votos que el par tenía al leerlo; si otro revisor votó "
        "entretanto, la decisión se rechaza con 409 y nada cambia")


def queue_filter(
    queue: Literal["pending", "second"] = Query(default="pending", description=(
        "pending: pares sin decidir; second: pares en segunda revisión que usted no votó")),
    sources: str | None = Query(default=None, max_length=81, pattern=r"^[^:]+:[^:]+$",
                                description="par de fuentes, p. ej. reta:care"),
    score_min: float | None = Query(default=None, ge=0.0, le=1.0),
    score_max: float | None = Query(default=None, ge=0.0, le=1.0),
    job_id: int | None = id_query("solo los pares de este trabajo"),
) -> QueueFilter:
    """The queue's filters from query parameters (422 when malformed)."""
    pair = tuple(sources.split(":", 1)) if sources else None
    return QueueFilter(queue=queue, sources=pair,  # type: ignore[arg-type]
                       score_min=score_min, score_max=score_max, job_id=job_id)


FilterDep = Annotated[QueueFilter, Depends(queue_filter)]


@router.get("")
def pending(
    session: SessionDep,
    where: FilterDep,
    limit: int = limit_query(50, 1000),
    offset: OffsetQuery = 0,
    actor: Actor = RequireRole("reviewer"),
) -> dict[str, Any]:
    """A page of the queue, most similar first: similarity, the job's evidence, content
    attributes side by side and which agree, and ``total`` pairs matching the filters. No names,
    documents, birth dates, references or locators.

    Example: ``GET /api/v1/review?limit=20&offset=40&sources=reta:care&score_min=0.8``
    """
    answer = review.read_queue(session, actor=actor, where=where, limit=limit, offset=offset)
    session.commit()
    return {**answer, "filters": where.query()}


@router.get("/summary")
def summary(
    session: SessionDep, actor: Actor = RequireRole("reviewer"),
) -> dict[str, Any]:
    """Counts of the queue (pending, in second review, decided today, by me) and the source
    pairs that have pairs waiting (for the filter).

    Example: ``GET /api/v1/review/summary`` → ``{"counts": {"pending": 812, …}, …}``
    """
    answer = review.read_summary(session, actor=actor, now=utcnow())
    session.commit()
    return answer


@router.get("/agreement")
def agreement(
    session: SessionDep, actor: Actor = RequireRole("auditor"),
) -> dict[str, Any]:
    """Agreement between reviewers on double-reviewed pairs: Cohen's κ, raw agreement, 2×2 table.

    Example: ``GET /api/v1/review/agreement`` → ``{"pairs": 40, "kappa": 0.81, …}``
    """
    answer = review.read_agreement(session, actor=actor)
    session.commit()
    return answer


@router.get("/next")
def next_pair(
    session: SessionDep,
    where: FilterDep,
    after: int | None = id_query("el par que sigue a este"),
    actor: Actor = RequireRole("reviewer"),
) -> dict[str, Any]:
    """The queue's first pair (or the one after pair ``after``), with ``previous``/``next`` ids,
    ``position`` and ``total``; ``pair`` is null when the queue is empty.

    Example: ``GET /api/v1/review/next?after=12&queue=second``
    """
    answer = review.read_pair(session, actor=actor, where=where, after=after)
    session.commit()
    return {**answer, "filters": where.query()}


@router.get("/{pair_id}", responses=errors(404, 409))
def read_pair(
    pair_id: IdPath,
    session: SessionDep,
    where: FilterDep,
    actor: Actor = RequireRole("reviewer"),
) -> dict[str, Any]:
    """One pair, whatever its status (with its votes by decision, never by whom), and its
    neighbours in the filtered queue. 409 when one of its records was withdrawn.

    Example: ``GET /api/v1/review/12`` → ``{"pair": {"id": 12, "status": "pending", …}, …}``
    """
    answer = review.read_pair(session, actor=actor, where=where, pair_id=pair_id)
    session.commit()
    return {**answer, "filters": where.query()}


@router.post("/{pair_id}", responses=errors(404, 409))
def decide(
    pair_id: IdPath,
    body: ReviewDecision,
    session: SessionDep,
    actor: Actor = RequireRole("reviewer"),
) -> dict[str, Any]:
    """Vote on a pair: ``link`` (must-link) or ``not_link`` (cannot-link). ``status`` says what
    happened: decided (``linked`` / ``not_linked``) or sent to ``second_review``
    (``second_reason``: ``merge`` or ``disagree``). 409 when another reviewer voted since
    ``expected_votes`` (nothing changes).

    Example: ``POST /api/v1/review/12 {"decision": "not_link", "reason": "sexo distinto",
    "expected_votes": 0}``
    """
    pair = review.vote(session, actor=actor, pair_id=pair_id, decision=body.decision,
                       reason=body.reason, expected_votes=body.expected_votes, now=utcnow())
    session.commit()
    return {"id": pair.id, "status": pair.status, "decided_at": pair.decided_at,
            "votes": pair.votes, "second_reason": pair.second_reason}
