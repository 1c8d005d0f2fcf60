"""Results for a source: ``GET /api/v1/results``, for the calling uploader's OWN records only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from linkage_service.api.deps import RequireRole, SessionDep
from linkage_service.api.openapi import OffsetQuery, limit_query
from linkage_service.auth import Actor
from linkage_service.bank.results import MAX_PAGE, read_results

__all__ = ["router"]

router = APIRouter(prefix="/results", tags=["results"])


@router.get("")
def results(
    session: SessionDep,
    offset: OffsetQuery = 0,
    limit: int = limit_query(10_000, MAX_PAGE),
    actor: Actor = RequireRole("uploader"),
) -> dict[str, Any]:
    """One page of the token's source's records with their person pseudonym and the other
    registries where that person appears (event dates and places). Follow ``next_offset``.

    Example: ``GET /api/v1/results?offset=0&limit=10000``
    """
    page = read_results(session, actor=actor, offset=offset, limit=limit)
    session.commit()
    return page
