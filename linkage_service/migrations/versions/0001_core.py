"""Core tables: sources, API tokens, uploads, encoded records.

Revision ID: 0001_core
Revises:
Create Date: 2025-01-01

Hand-checked to run on SQLite and PostgreSQL: portable types only, every constraint named.
Timestamps are ``TIMESTAMP WITH TIME ZONE`` (SQLite keeps them as text; the models read them
back as UTC). CLKs, record references and locators are raw bytes (``BYTEA`` / ``BLOB``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("secret_check", sa.String(length=64), nullable=False),
        sa.Column("signing_public_key_pem", sa.String(length=1000), nullable=False),
        sa.Column("box_public_key_pem", sa.String(length=1000), nullable=False),
        sa.Column("signing_key_id", sa.String(length=16), nullable=False),
        sa.Column("box_key_id", sa.String(length=16), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_source"),
    )
    op.create_index("ix_source_name", "source", ["name"], unique=True)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_label", sa.String(length=100), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.ForeignKeyConstraint(
            ["source_id"], ["source.id"], name="fk_api_token_source_id_source"
        ),
    )
    op.create_index("ix_api_token_token_id", "api_token", ["token_id"], unique=True)
    op.create_index("ix_api_token_source_id", "api_token", ["source_id"])

    op.create_table(
        "upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("schema_id", sa.String(length=100), nullable=False),
        sa.Column("schema_fingerprint", sa.String(length=100), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("clk_bits", sa.Integer(), nullable=False),
        sa.Column("batch_created_at", sa.String(length=40), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("new_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("uploaded_by", sa.String(length=32), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_upload"),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"], name="fk_upload_source_id_source"),
        sa.UniqueConstraint("source_id", "body_sha256", name="uq_upload_source_body"),
    )
    op.create_index("ix_upload_source_id", "upload", ["source_id"])

    op.create_table(
        "encoded_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("record_ref", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("clk", sa.LargeBinary(), nullable=False),
        sa.Column("locator", sa.LargeBinary(), nullable=False),
        sa.Column("doc_hash", sa.LargeBinary(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("birth_year_min", sa.Integer(), nullable=True),
        sa.Column("birth_year_max", sa.Integer(), nullable=True),
        sa.Column("age_at_event", sa.Integer(), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=True),
        sa.Column("ubigeo_birth", sa.String(length=6), nullable=True),
        sa.Column("ubigeo_residence", sa.String(length=6), nullable=True),
        sa.Column("ubigeo_event", sa.String(length=6), nullable=True),
        sa.Column("event_date", sa.String(length=10), nullable=True),
        sa.Column("exploitation", sa.String(length=100), nullable=True),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        _ts("created_at"),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        _ts("withdrawn_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_encoded_record"),
        sa.ForeignKeyConstraint(
            ["source_id"], ["source.id"], name="fk_encoded_record_source_id_source"
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["upload.id"], name="fk_encoded_record_upload_id_upload"
        ),
        sa.UniqueConstraint(
            "source_id", "record_ref", "version", name="uq_record_source_ref_version"
        ),
    )
    op.create_index(
        "ix_encoded_record_current_source", "encoded_record", ["is_current", "source_id"]
    )
    op.create_index("ix_encoded_record_upload_id", "encoded_record", ["upload_id"])


def downgrade() -> None:
    op.drop_table("encoded_record")
    op.drop_table("upload")
    op.drop_table("api_token")
    op.drop_table("source")
