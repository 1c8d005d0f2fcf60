"""Published statistics: ``GET /api/v1/stats/tables?min_cell=K`` for the ``analyst`` role.

Only suppressed (and, when configured, noised) tables leave the service
(``linkage_service.stats.publish``); ``min_cell`` below the service's floor
(``stats_min_cell_floor``) is refused with a 422 that says why.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from linkage_service.api.deps import RequireRole, ServiceKeyDep, SessionDep, SettingsDep
from linkage_service.api.openapi import DB_INT_MAX
from linkage_service.auth import Actor
from linkage_service.stats.publish import publish_tables

__all__ = ["router"]

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get("/tables")
def tables(
    session: SessionDep, settings: SettingsDep, service_key: ServiceKeyDep,
    min_cell: int | None = Query(default=None, ge=1, le=DB_INT_MAX,
                                 description="celda mínima (≥ el piso del servicio, que el "
                                 "documento OpenAPI del servicio declara como mínimo)"),
    actor: Actor = RequireRole("analyst"),
) -> dict[str, Any]:
    """Every statistics table, suppressed (and noised if configured), ready to publish.

    Example: ``GET /api/v1/stats/tables?min_cell=15``
    """
    answer = publish_tables(session, actor=actor, min_cell=min_cell,
                            floor=settings.stats_min_cell_floor,
                            dp_epsilon=settings.stats_dp_epsilon, signer=service_key)
    session.commit()
    return answer
