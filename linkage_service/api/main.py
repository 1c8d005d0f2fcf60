"""The ``/api/v1`` router: every resource router is included here."""

from __future__ import annotations

from fastapi import APIRouter

from linkage_service.api.routes import health, records, service, sources, uploads

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api/v1")
for _module in (health, service, sources, uploads, records):
    api_router.include_router(_module.router)
