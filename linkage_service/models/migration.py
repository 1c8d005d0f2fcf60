"""A change of the bank's linkage schema (``vinculo admin schema-migrate``) and the re-encoded
records it holds until the cut-over (docs/operations.md, "Cambiar el esquema de enlace").

``schema_migration``: one row per migration. ``status``: ``open`` (target declared; sources
upload their re-encoded exports), ``switched`` (the bank's records now hold the target schema's
encodings; the re-link under it is pending), ``done`` (re-linked, ``report`` holds the measured
overlap), ``cancelled``. One migration at a time is the database's rule: a unique index over
``lane`` for the open and switched ones (as ``link_job``). The latest switched or done one names
the bank's schema.

``schema_migration_record``: a record's re-encoding under the target schema, named like every
other table names a record (source, stored reference), pinned to the version it re-encodes
(``record_row_id``), sealed under the custody key with its row's own associated data (a negative
version: it never opens as an ``encoded_record`` row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow

__all__ = ["MIGRATION_STATUSES", "OPEN_MIGRATION_STATUSES", "MigrationRecord", "SchemaMigration"]

MIGRATION_STATUSES: tuple[str, ...] = ("open", "switched", "done", "cancelled")
OPEN_MIGRATION_STATUSES: tuple[str, ...] = ("open", "switched")
_OPEN = sa.text("status IN ('open', 'switched')")


class SchemaMigration(SQLModel, table=True):
    __tablename__ = "schema_migration"
    __table_args__ = (
        Index("uq_schema_migration_one_open", "lane", unique=True,
              sqlite_where=_OPEN, postgresql_where=_OPEN),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="open", max_length=16, index=True)
    from_schema: str = Field(max_length=100)
    from_fingerprint: str = Field(max_length=100)
    to_schema: str = Field(max_length=100)
    to_fingerprint: str = Field(max_length=100)
    started_by: str = Field(default="", max_length=200)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    switched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    relink_job_id: int | None = Field(default=None, foreign_key="link_job.id")
    report: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    lane: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class MigrationRecord(SQLModel, table=True):
    __tablename__ = "schema_migration_record"
    __table_args__ = (
        UniqueConstraint("migration_id", "source_id", "record_ref",
                         name="uq_schema_migration_record_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    migration_id: int = Field(foreign_key="schema_migration.id")
    source_id: int = Field(foreign_key="source.id")
    record_ref: bytes = Field(sa_type=LargeBinary)  # the stored reference (custody)
    record_row_id: int = Field(foreign_key="encoded_record.id")
    upload_id: int = Field(foreign_key="upload.id")
    sealed: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
