"""Statistics and audit in the console, through the JSON endpoints' own functions
(``linkage_service.api.routes.stats.tables`` → ``build_tables``; ``.audit.verify_log`` and
``.audit.entries``): the page shows the same suppressed tables and the same verification.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from linkage_service.api.deps import Auditor, SessionDep, SettingsDep
from linkage_service.api.openapi import DB_INT_MAX
from linkage_service.api.routes import audit as audit_api
from linkage_service.api.routes import review as review_api
from linkage_service.api.routes import stats as stats_api
from linkage_service.auth import Actor
from linkage_service.models import EncodedRecord
from linkage_service.models.bank import LinkJob
from linkage_service.web.access import ConsolePage
from linkage_service.web.charts import table_chart
from linkage_service.web.common import call_endpoint, page, refusal_message
from vinculo_common.errors import VinculoError

__all__ = ["LATEST_ENTRIES", "bank_version", "router"]

router = APIRouter(prefix="/consola", include_in_schema=False)
LATEST_ENTRIES = 50
# The statistics page's published tables and charts, by (database, min_cell, ε, bank version):
# building them reads the whole bank (seconds at national scale), and they change only when a
# job finishes, records arrive or are withdrawn. Only suppressed tables are kept, never records.
_CACHE: dict[tuple[Any, ...], tuple[list[dict[str, Any]], float | None]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


@router.get("/estadisticas")
def statistics(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    min_cell: int | None = Query(default=None, ge=1, le=DB_INT_MAX),
    actor: Actor = ConsolePage("analyst"),
) -> Response:
    """Every published table as HTML with its chart beside it (inline SVG), suppressed cells
    as "—" in tables and hatched «suprimida» bars in charts (same tables as
    ``GET /api/v1/stats/tables``).

    Example: ``GET /consola/estadisticas?min_cell=15``
    """
    chosen = settings.stats_min_cell_floor if min_cell is None else min_cell
    key = (str(request.app.state.engine.url), chosen, settings.stats_dp_epsilon,
           *bank_version(session))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        # The same audit entry as the endpoint writes: reading the tables is audited each time.
        Auditor(session, actor)("stats.tables",
                                objects=[f"min_cell:{chosen}", f"tables:{len(cached[0])}"])
        session.commit()
        tables, dp_epsilon = cached
        return page(request, actor, "stats.html", tables=tables, min_cell=chosen,
                    dp_epsilon=dp_epsilon)
    try:
        answer = call_endpoint(stats_api.tables, request=request, session=session, actor=actor,
                               min_cell=min_cell)
    except VinculoError as exc:
        message = refusal_message(request, session, exc)
        return page(request, actor, "stats.html", status=exc.http_status, error=message,
                    tables=[], min_cell=settings.stats_min_cell_floor, dp_epsilon=None)
    tables = []
    for table in answer["tables"].values():
        chart = table_chart(table)
        # table_chart escapes every text it places in the SVG it builds.
        tables.append({**table, "chart": Markup(chart) if chart else None})  # noqa: S704
    with _CACHE_LOCK:
        _CACHE[key] = (tables, answer["dp_epsilon"])
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
    return page(request, actor, "stats.html", tables=tables,
                min_cell=answer["min_cell"], dp_epsilon=answer["dp_epsilon"])


def bank_version(session: Session) -> tuple[Any, ...]:
    """What the published tables depend on, read cheaply: the last finished job (persons and
    memberships change only there), the newest record row (uploads) and the withdrawals."""
    job, rec = LinkJob.__table__.c, EncodedRecord.__table__.c  # type: ignore[attr-defined]
    return (
        session.execute(sa.select(sa.func.max(job.id)).where(job.status == "done")).scalar(),
        session.execute(sa.select(sa.func.max(job.finished_at))).scalar(),
        session.execute(sa.select(sa.func.max(rec.id))).scalar(),
        session.execute(sa.select(sa.func.count()).select_from(EncodedRecord.__table__)  # type: ignore[attr-defined]
                        .where(rec.withdrawn_at.is_not(None))).scalar(),
    )


@router.get("/auditoria")
def audit_log(
    request: Request,
    session: SessionDep,
    actor: Actor = ConsolePage("auditor"),
) -> Response:
    """The chain's verification, reviewer agreement (Cohen's κ) and the latest entries, newest
    first (same as ``GET /api/v1/audit/verify``, ``/api/v1/review/agreement`` and
    ``/api/v1/audit/entries``).

    Example: ``GET /consola/auditoria``
    """
    check = call_endpoint(audit_api.verify_log, request=request, session=session, actor=actor)
    entries = call_endpoint(audit_api.entries, request=request, session=session, actor=actor,
                            after_seq=max(0, check.last_seq + 1 - LATEST_ENTRIES),
                            limit=LATEST_ENTRIES + 1, action=None)
    agreement = call_endpoint(review_api.agreement, request=request, session=session,
                              actor=actor)
    return page(request, actor, "audit.html", check=check, entries=list(reversed(entries)),
                agreement=agreement)
