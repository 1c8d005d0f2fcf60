"""Audit log (hash-chained entries, signed checkpoints) and re-identification tables.

Revision ID: 0002_audit
Revises: 0001_core
Create Date: 2025-01-02

Portable types only, every constraint named (as the models' naming convention names them).
``audit_entry.seq`` is assigned by the application (not autoincrement): it is part of the hash.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        _ts("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("objects", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])

    op.create_table(
        "audit_checkpoint",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        _ts("at"),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_audit_checkpoint"),
        sa.UniqueConstraint("seq", name="uq_audit_checkpoint_seq"),
    )

    op.create_table(
        "reid_request",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("requester_token_id", sa.String(length=32), nullable=False),
        sa.Column("requester_user", sa.String(length=100), nullable=True),
        sa.Column("requester_label", sa.String(length=200), nullable=False),
        sa.Column("persons_json", sa.Text(), nullable=False),
        sa.Column("sources_json", sa.Text(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("decided_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reid_request"),
    )
    op.create_index(
        "ix_reid_request_requester_token_id", "reid_request", ["requester_token_id"]
    )
    op.create_index("ix_reid_request_created_at", "reid_request", ["created_at"])

    op.create_table(
        "reid_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("approver_token_id", sa.String(length=32), nullable=False),
        sa.Column("approver_user", sa.String(length=100), nullable=True),
        sa.Column("approver_label", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_reid_approval"),
        sa.ForeignKeyConstraint(
            ["request_id"], ["reid_request.id"], name="fk_reid_approval_request_id_reid_request"
        ),
        sa.UniqueConstraint("request_id", "approver_token_id", name="uq_reid_approval_token"),
    )
    op.create_index("ix_reid_approval_request_id", "reid_approval", ["request_id"])

    op.create_table(
        "reid_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        _ts("issued_at"),
        sa.Column("fetch_count", sa.Integer(), nullable=False),
        _ts("first_fetched_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reid_package"),
        sa.ForeignKeyConstraint(
            ["request_id"], ["reid_request.id"], name="fk_reid_package_request_id_reid_request"
        ),
        sa.UniqueConstraint("request_id", "source", name="uq_reid_package_request_source"),
    )
    op.create_index("ix_reid_package_request_id", "reid_package", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_reid_package_request_id", table_name="reid_package")
    op.drop_table("reid_package")
    op.drop_index("ix_reid_approval_request_id", table_name="reid_approval")
    op.drop_table("reid_approval")
    op.drop_index("ix_reid_request_created_at", table_name="reid_request")
    op.drop_index("ix_reid_request_requester_token_id", table_name="reid_request")
    op.drop_table("reid_request")
    op.drop_table("audit_checkpoint")
    op.drop_index("ix_audit_entry_action", table_name="audit_entry")
    op.drop_index("ix_audit_entry_actor", table_name="audit_entry")
    op.drop_index("ix_audit_entry_at", table_name="audit_entry")
    op.drop_table("audit_entry")
