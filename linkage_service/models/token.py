"""API tokens: ``vnc_<token_id>_<secret>``; only a hash of the secret is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow

__all__ = ["ROLES", "ApiToken", "ApiTokenBase", "ApiTokenPublic", "Role"]

Role = Literal[
    "uploader",
    "operator",
    "reviewer",
    "analyst",
    "reid_requester",
    "reid_approver",
    "auditor",
    "admin",
]
ROLES: tuple[str, ...] = get_args(Role)


class ApiTokenBase(SQLModel):
    token_id: str = Field(max_length=32, unique=True, index=True)
    role: str = Field(max_length=32)
    user_label: str | None = Field(default=None, max_length=100)


class ApiToken(ApiTokenBase, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(max_length=64)
    source_id: int | None = Field(default=None, foreign_key="source.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiTokenPublic(ApiTokenBase):
    source: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None
