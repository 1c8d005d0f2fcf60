"""The ``/api/v1`` router: one explicit list of the resource routers, in the order the
OpenAPI document lists them. A new resource is added here (tests/test_layers.py fails on a
route module missing from the list).
"""

from __future__ import annotations

from fastapi import APIRouter

from linkage_service.api.routes import (
    audit,
    health,
    jobs,
    persons,
    records,
    reid,
    results,
    review,
    service,
    sources,
    stats,
    uploads,
)

__all__ = ["ROUTE_MODULES", "api_router"]

ROUTE_MODULES = (audit, health, jobs, persons, records, reid, results, review, service, sources,
                 stats, uploads)

api_router = APIRouter(prefix="/api/v1")
for _module in ROUTE_MODULES:
    api_router.include_router(_module.router)
