"""Results for a source: ``GET /api/v1/results``, for the calling uploader's OWN records only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from linkage_service.api.deps import AuditDep, RequireRole, SessionDep
from linkage_service.api.openapi import OffsetQuery, limit_query
from linkage_service.auth import Actor
from linkage_service.bank.results import MAX_PAGE, results_for_source
from vinculo_common.errors import PermissionDenied

__all__ = ["router"]

router = APIRouter(prefix="/results", tags=["results"])


@router.get("")
def results(
    session: SessionDep,
    audit: AuditDep,
    offset: OffsetQuery = 0,
    limit: int = limit_query(10_000, MAX_PAGE),
    actor: Actor = RequireRole("uploader"),
) -> dict[str, Any]:
    """One page of the token's source's records with their person pseudonym and the other
    registries where that person appears (event dates and places). Follow ``next_offset``.

    Example: ``GET /api/v1/results?offset=0&limit=10000``
    """
    if actor.source_id is None:
        raise PermissionDenied("el token no está vinculado a una fuente registrada")
    page = results_for_source(session, source_id=actor.source_id, offset=offset, limit=limit)
    audit("results.read", objects=[f"source:{page['source']}", f"offset:{offset}",
                                   f"count:{len(page['results'])}"])
    session.commit()
    return page
