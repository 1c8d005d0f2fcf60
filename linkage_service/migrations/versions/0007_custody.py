"""Custody: ``encoded_record.sealed`` (CLK, sections and content attributes under the custody
key, linkage_service.custody) and ``custody_check`` (the key's check value, never the key).

Existing rows keep their clear columns until ``vinculo admin custody encrypt`` seals them in
place (the migration cannot: the key is not in the database).

Revision ID: 0007_custody
Revises: 0006_review_votes
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_custody"
down_revision = "0006_review_votes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("encoded_record") as batch:
        batch.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
    op.create_table(
        "custody_check",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("custody_check")
    with op.batch_alter_table("encoded_record") as batch:
        batch.drop_column("sealed")
