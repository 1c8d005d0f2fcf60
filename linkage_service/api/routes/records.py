"""Records of a source: withdrawal (``POST /api/v1/records/withdraw``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from linkage_service.api.deps import RequireRole, SessionDep
from linkage_service.api.openapi import HEX64_PATTERN
from linkage_service.auth import Actor
from linkage_service.store.uploads import withdraw_for_source
from vinculo_common.errors import InputError

__all__ = ["WithdrawRequest", "WithdrawResult", "router"]

router = APIRouter(prefix="/records", tags=["records"])


class WithdrawRequest(BaseModel):
    record_refs: list[Annotated[str, StringConstraints(pattern=HEX64_PATTERN)]] = Field(
        min_length=1, max_length=100_000,
                                   description="referencias de registro en hex (64 dígitos)")
    reason: str | None = Field(default=None, max_length=500)


class WithdrawResult(BaseModel):
    withdrawn: int
    not_found: int


@router.post("/withdraw")
def withdraw(
    body: WithdrawRequest,
    session: SessionDep,
    actor: Actor = RequireRole("uploader"),
) -> WithdrawResult:
    """Withdraw records of the token's own source from linkage and the bank.

    Example: ``POST /api/v1/records/withdraw {"record_refs": ["9f…"], "reason": "duplicado"}``
    """
    try:
        refs = [bytes.fromhex(r) for r in body.record_refs]
    except ValueError:
        raise InputError("record_refs: cada referencia debe ser hexadecimal") from None
    withdrawn, not_found = withdraw_for_source(session, actor=actor, record_refs=refs,
                                               reason=body.reason)
    session.commit()
    return WithdrawResult(withdrawn=withdrawn, not_found=not_found)
