"""A source: one institution's registry (RETA, SISTRA, a care service), with its public keys."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow

__all__ = ["Source", "SourceBase", "SourceCreate", "SourcePublic"]


class SourceBase(SQLModel):
    name: str = Field(max_length=32, unique=True, index=True)
    secret_check: str = Field(max_length=64)


class SourceCreate(SourceBase):
    """What registering a source needs: its public keys as PEM and the linkage KCV."""

    signing_public_key_pem: str
    box_public_key_pem: str


class Source(SourceBase, table=True):
    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    signing_public_key_pem: str = Field(max_length=1000)
    box_public_key_pem: str = Field(max_length=1000)
    signing_key_id: str = Field(max_length=16)
    box_key_id: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SourcePublic(SourceBase):
    id: int
    signing_key_id: str
    box_key_id: str
    created_at: datetime
