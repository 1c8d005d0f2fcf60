"""Changing the bank's linkage schema: ``schema_migration`` (one per change of schema: target,
state, the re-link job and its measured overlap; one open at a time, by a unique partial index
as ``link_job``) and ``schema_migration_record`` (each record's re-encoding under the target
schema, sealed under the custody key, held until the cut-over). See
``linkage_service.bank.migration`` and docs/operations.md.

Revision ID: 0008_schema_migration
Revises: 0007_custody
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_schema_migration"
down_revision = "0007_custody"
branch_labels = None
depends_on = None

_OPEN = sa.text("status IN ('open', 'switched')")


def _ts(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "schema_migration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_schema", sa.String(length=100), nullable=False),
        sa.Column("from_fingerprint", sa.String(length=100), nullable=False),
        sa.Column("to_schema", sa.String(length=100), nullable=False),
        sa.Column("to_fingerprint", sa.String(length=100), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        _ts("started_at"),
        _ts("switched_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("relink_job_id", sa.Integer(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("lane", sa.Integer(), nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_schema_migration"),
        sa.ForeignKeyConstraint(["relink_job_id"], ["link_job.id"],
                                name="fk_schema_migration_relink_job_id_link_job"),
    )
    op.create_index("ix_schema_migration_status", "schema_migration", ["status"])
    op.create_index("uq_schema_migration_one_open", "schema_migration", ["lane"], unique=True,
                    sqlite_where=_OPEN, postgresql_where=_OPEN)
    op.create_table(
        "schema_migration_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("migration_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("record_ref", sa.LargeBinary(), nullable=False),
        sa.Column("record_row_id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_schema_migration_record"),
        sa.ForeignKeyConstraint(["migration_id"], ["schema_migration.id"],
                                name="fk_schema_migration_record_migration_id_schema_migration"),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"],
                                name="fk_schema_migration_record_source_id_source"),
        sa.ForeignKeyConstraint(["record_row_id"], ["encoded_record.id"],
                                name="fk_schema_migration_record_record_row_id_encoded_record"),
        sa.ForeignKeyConstraint(["upload_id"], ["upload.id"],
                                name="fk_schema_migration_record_upload_id_upload"),
        sa.UniqueConstraint("migration_id", "source_id", "record_ref",
                            name="uq_schema_migration_record_key"),
    )


def downgrade() -> None:
    op.drop_table("schema_migration_record")
    op.drop_index("uq_schema_migration_one_open", table_name="schema_migration")
    op.drop_index("ix_schema_migration_status", table_name="schema_migration")
    op.drop_table("schema_migration")
