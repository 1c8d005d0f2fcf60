"""Re-identification requests, their approvals and the packages released for them.

A request names pseudonyms (never identities); a package is sealed to the holding source's
box key, so the service stores it without being able to read it (see docs/reid.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow

__all__ = [
    "REID_STATUSES",
    "ReidApproval",
    "ReidApprovalPublic",
    "ReidPackage",
    "ReidPackagePublic",
    "ReidRequest",
    "ReidRequestCreate",
    "ReidRequestPublic",
]

# Stored statuses; "expired" is computed from expires_at when a request is read.
REID_STATUSES = ("pending", "approved", "denied")


class ReidRequestCreate(SQLModel):
    """What a requester sends."""

    persons: list[Annotated[str, StringConstraints(pattern=r"^P-[A-Z2-7]{10}$")]] = Field(
        min_length=1, description="seudónimos P-… (a lo más VINCULO_REID_MAX_PERSONS)")
    sources: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]] | None = \
        Field(default=None, max_length=64)
    # At least three characters once surrounding spaces are removed (the workflow's rule).
    legal_basis: Annotated[str, StringConstraints(pattern=r"\S[\s\S]+\S")] = Field(
        min_length=3, max_length=500)
    purpose: Annotated[str, StringConstraints(pattern=r"\S[\s\S]+\S")] = Field(
        min_length=3, max_length=1000)


class ReidRequest(SQLModel, table=True):
    __tablename__ = "reid_request"

    id: str = Field(primary_key=True, max_length=40)
    requester_token_id: str = Field(max_length=32, index=True)
    requester_user: str | None = Field(default=None, max_length=100)
    requester_label: str = Field(max_length=200)
    persons_json: str = Field(sa_type=sa.Text)
    sources_json: str | None = Field(default=None, sa_type=sa.Text)
    legal_basis: str = Field(sa_type=sa.Text)
    purpose: str = Field(sa_type=sa.Text)
    status: str = Field(default="pending", max_length=16)
    approvals_required: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def persons(self) -> list[str]:
        return [str(p) for p in json.loads(self.persons_json)]

    @property
    def sources(self) -> list[str] | None:
        return None if self.sources_json is None else list(json.loads(self.sources_json))


class ReidApproval(SQLModel, table=True):
    """One approver's decision on one request (approve or deny, with a reason)."""

    __tablename__ = "reid_approval"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "approver_token_id", name="uq_reid_approval_token"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="reid_request.id", index=True, max_length=40)
    approver_token_id: str = Field(max_length=32)
    approver_user: str | None = Field(default=None, max_length=100)
    approver_label: str = Field(max_length=200)
    decision: str = Field(max_length=16)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReidPackage(SQLModel, table=True):
    """A released package: sealed to ``source``'s box key and signed by the service."""

    __tablename__ = "reid_package"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "source", name="uq_reid_package_request_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="reid_request.id", index=True, max_length=40)
    source: str = Field(max_length=32)
    record_count: int
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_type=sa.LargeBinary)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    fetch_count: int = 0
    first_fetched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReidApprovalPublic(SQLModel):
    approver: str
    decision: str
    reason: str | None
    at: datetime


class ReidPackagePublic(SQLModel):
    source: str
    record_count: int
    sha256: str
    issued_at: datetime
    fetch_count: int


class ReidRequestPublic(SQLModel):
    id: str
    requester: str
    persons: list[str]
    sources: list[str] | None
    legal_basis: str
    purpose: str
    status: str
    approvals_required: int
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    approvals: list[ReidApprovalPublic] = []
    packages: list[ReidPackagePublic] = []
