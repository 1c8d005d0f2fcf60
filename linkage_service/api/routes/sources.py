"""Registered sources (institutions) with their key ids and linkage check value."""

from __future__ import annotations

from fastapi import APIRouter

from linkage_service.api.deps import AuditDep, RequireRole, SessionDep
from linkage_service.auth import Actor
from linkage_service.models import SourcePublic
from linkage_service.store.sources import list_sources, source_public

__all__ = ["router"]

router = APIRouter(prefix="/sources", tags=["sources"])


@router.get("")
def read_sources(
    session: SessionDep, audit: AuditDep, actor: Actor = RequireRole("operator", "admin")
) -> list[SourcePublic]:
    """Example: ``GET /api/v1/sources`` → ``[{"name": "reta", ...}]``"""
    rows = [source_public(row) for row in list_sources(session)]
    audit("sources.list", objects=[f"source:{r.name}" for r in rows])
    session.commit()
    return rows
