"""Statistics and audit in the console, through the JSON endpoints' own functions
(``linkage_service.api.routes.stats.tables`` → ``build_tables``; ``.audit.verify_log`` and
``.audit.entries``): the page shows the same suppressed tables and the same verification.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from linkage_service.api.deps import SessionDep, SettingsDep
from linkage_service.api.openapi import DB_INT_MAX
from linkage_service.api.routes import audit as audit_api
from linkage_service.api.routes import stats as stats_api
from linkage_service.auth import Actor
from linkage_service.web.access import ConsolePage
from linkage_service.web.common import call_endpoint, page, refusal_message
from vinculo_common.errors import VinculoError

__all__ = ["LATEST_ENTRIES", "router"]

router = APIRouter(prefix="/consola", include_in_schema=False)
LATEST_ENTRIES = 50


@router.get("/estadisticas")
def statistics(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    min_cell: int | None = Query(default=None, ge=1, le=DB_INT_MAX),
    actor: Actor = ConsolePage("analyst"),
) -> Response:
    """Every published table as HTML, suppressed cells as "—" (same tables as
    ``GET /api/v1/stats/tables``).

    Example: ``GET /consola/estadisticas?min_cell=15``
    """
    try:
        answer = call_endpoint(stats_api.tables, request=request, session=session, actor=actor,
                               min_cell=min_cell)
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return page(request, actor, "stats.html", status=exc.http_status, error=message,
                    tables=[], min_cell=settings.stats_min_cell_floor, dp_epsilon=None)
    return page(request, actor, "stats.html", tables=list(answer["tables"].values()),
                min_cell=answer["min_cell"], dp_epsilon=answer["dp_epsilon"])


@router.get("/auditoria")
def audit_log(
    request: Request,
    session: SessionDep,
    actor: Actor = ConsolePage("auditor"),
) -> Response:
    """The chain's verification and the latest entries, newest first (same as
    ``GET /api/v1/audit/verify`` and ``GET /api/v1/audit/entries``).

    Example: ``GET /consola/auditoria``
    """
    check = call_endpoint(audit_api.verify_log, request=request, session=session, actor=actor)
    entries = call_endpoint(audit_api.entries, request=request, session=session, actor=actor,
                            after_seq=max(0, check.last_seq + 1 - LATEST_ENTRIES),
                            limit=LATEST_ENTRIES + 1, action=None)
    return page(request, actor, "audit.html", check=check, entries=list(reversed(entries)))
