"""Statistics and audit in the console, through the JSON endpoints' use cases
(``linkage_service.stats.publish``, ``linkage_service.audit.auditor``): the pages show the same
suppressed tables and the same verification, recorded the same way.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from linkage_service.api.deps import SessionDep, SettingsDep
from linkage_service.api.openapi import DB_INT_MAX
from linkage_service.audit import auditor
from linkage_service.auth import Actor
from linkage_service.bank.review import read_agreement
from linkage_service.stats.publish import bank_version, publish_tables, record_tables_read
from linkage_service.web.access import ConsolePage
from linkage_service.web.charts import table_chart
from linkage_service.web.common import page, refusal_message
from vinculo_common.errors import VinculoError

__all__ = ["LATEST_ENTRIES", "router"]

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
        record_tables_read(session, actor=actor, min_cell=chosen, tables=len(cached[0]))
        session.commit()
        tables, dp_epsilon = cached
        return page(request, actor, "stats.html", tables=tables, min_cell=chosen,
                    dp_epsilon=dp_epsilon)
    try:
        answer = publish_tables(session, actor=actor, min_cell=min_cell,
                                floor=settings.stats_min_cell_floor,
                                dp_epsilon=settings.stats_dp_epsilon,
                                signer=request.app.state.service_key)
        session.commit()
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
    check = auditor.verify_log(session, actor=actor.label,
                               public_key=request.app.state.service_key.public_key())
    session.commit()
    entries = auditor.read_entries(session, actor=actor.label,
                                   after_seq=max(0, check.last_seq + 1 - LATEST_ENTRIES),
                                   limit=LATEST_ENTRIES + 1)
    session.commit()
    agreement = read_agreement(session, actor=actor)
    session.commit()
    return page(request, actor, "audit.html", check=check, entries=list(reversed(entries)),
                agreement=agreement)
