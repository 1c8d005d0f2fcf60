"""Registered sources (institutions) with their key ids and linkage check value."""

from __future__ import annotations

from fastapi import APIRouter

from linkage_service.api.deps import RequireRole, SessionDep
from linkage_service.auth import Actor
from linkage_service.models import SourcePublic
from linkage_service.store import sources as source_store

__all__ = ["router"]

router = APIRouter(prefix="/sources", tags=["sources"])


@router.get("")
def read_sources(
    session: SessionDep, actor: Actor = RequireRole("operator", "admin")
) -> list[SourcePublic]:
    """Example: ``GET /api/v1/sources`` → ``[{"name": "reta", ...}]``"""
    rows = source_store.read_sources(session, actor=actor)
    session.commit()
    return rows
