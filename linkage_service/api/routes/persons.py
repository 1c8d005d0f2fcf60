"""Persons of the bank: ``GET /api/v1/persons/{pseudonym}``, following lineage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from linkage_service.api.deps import RequireRole, SessionDep
from linkage_service.api.openapi import PSEUDONYM_PATTERN, errors
from linkage_service.auth import Actor
from linkage_service.bank.persons import read_person

__all__ = ["router"]

router = APIRouter(prefix="/persons", tags=["persons"])


@router.get("/{pseudonym}", responses=errors(404))
def person(
    pseudonym: Annotated[str, Path(pattern=PSEUDONYM_PATTERN, description="seudónimo P-…")],
    session: SessionDep,
    actor: Actor = RequireRole("operator", "analyst"),
) -> dict[str, Any]:
    """A pseudonym's status and lineage, and the active person(s) it stands for today with
    their records' sources and content attributes (never references or identities).

    Example: ``GET /api/v1/persons/P-7KQ2M4XZ3A``
    """
    view = read_person(session, actor=actor, pseudonym=pseudonym)
    session.commit()
    return view
