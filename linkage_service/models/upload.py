"""An upload: one encoding batch a source sent, identified by the SHA-256 of its body."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow

__all__ = ["Upload", "UploadBase", "UploadPublic"]


class UploadBase(SQLModel):
    body_sha256: str = Field(max_length=64)
    schema_id: str = Field(max_length=100)
    schema_fingerprint: str = Field(max_length=100)
    format_version: int
    clk_bits: int
    batch_created_at: str = Field(default="", max_length=40)
    record_count: int = 0
    new_count: int = 0
    updated_count: int = 0
    status: str = Field(default="stored", max_length=20)


class Upload(UploadBase, table=True):
    __tablename__ = "upload"
    __table_args__ = (UniqueConstraint("source_id", "body_sha256", name="uq_upload_source_body"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    uploaded_by: str = Field(default="", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UploadPublic(UploadBase):
    id: int
    source: str
    created_at: datetime
