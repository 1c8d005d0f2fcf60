"""Liveness and readiness: ``GET /api/v1/health`` (no token)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from linkage_service.api.deps import PublicRoute, SessionDep
from linkage_service.db import current_revision

__all__ = ["router"]

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", dependencies=[PublicRoute])
def health(session: SessionDep) -> dict[str, str]:
    """The service is up and its database answers.

    Example: ``curl http://127.0.0.1:8000/api/v1/health`` → ``{"status": "ok", ...}``
    """
    session.execute(text("SELECT 1"))
    bind = session.get_bind()
    revision = current_revision(bind) if hasattr(bind, "connect") else None  # type: ignore[arg-type]
    return {"status": "ok", "database": bind.dialect.name, "revision": revision or ""}
