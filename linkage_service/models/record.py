"""An encoded record: one version of one record of a source, as the linkage job reads it.

The CLK and the sealed locator are stored as raw bytes (128 bytes for 1024 bits), never as
base64 text. ``record_ref`` is the source's keyed hash of its record id (32 bytes). Re-uploading a
known ``record_ref`` adds a version and clears ``is_current`` on the older one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow
from vinculo_common.batch import ATTRIBUTE_FIELDS

__all__ = ["CONTENT_COLUMNS", "EncodedRecord", "EncodedRecordPublic", "RecordAttributes"]

# The content attributes of the batch format, one typed column each (same names, same order).
CONTENT_COLUMNS: tuple[str, ...] = tuple(ATTRIBUTE_FIELDS)


class RecordAttributes(SQLModel):
    """Content attributes in clear (canonical spec); empty values are stored as NULL.

    ``exploitation`` holds the forms joined by ``;`` in sorted order (``laboral;sexual``).
    """

    sex: str | None = Field(default=None, max_length=1)
    birth_year_min: int | None = None
    birth_year_max: int | None = None
    age_at_event: int | None = None
    nationality: str | None = Field(default=None, max_length=3)
    ubigeo_birth: str | None = Field(default=None, max_length=6)
    ubigeo_residence: str | None = Field(default=None, max_length=6)
    ubigeo_event: str | None = Field(default=None, max_length=6)
    event_date: str | None = Field(default=None, max_length=10)
    exploitation: str | None = Field(default=None, max_length=100)


class EncodedRecord(RecordAttributes, table=True):
    __tablename__ = "encoded_record"
    __table_args__ = (
        UniqueConstraint("source_id", "record_ref", "version", name="uq_record_source_ref_version"),
        Index("ix_encoded_record_current_source", "is_current", "source_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id")
    record_ref: bytes = Field(sa_type=LargeBinary)
    version: int = 1
    clk: bytes = Field(sa_type=LargeBinary)
    locator: bytes = Field(sa_type=LargeBinary)
    doc_hash: bytes | None = Field(default=None, sa_type=LargeBinary)
    family: bytes | None = Field(default=None, sa_type=LargeBinary)  # schema section "family"
    doc_near: bytes | None = Field(default=None, sa_type=LargeBinary)  # section "doc_near"
    # CLK, sections and content attributes sealed under the custody key (linkage_service.custody);
    # when set, ``clk`` is empty and the clear columns are NULL. NULL: a row from before custody.
    sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    upload_id: int = Field(foreign_key="upload.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    is_current: bool = True
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EncodedRecordPublic(RecordAttributes):
    """A record as the API may show it: no CLK, no locator; the reference in hex."""

    id: int
    source: str
    record_ref: str
    version: int
    upload_id: int
    created_at: datetime
    is_current: bool
    withdrawn_at: datetime | None = None
