"""The ``family`` and ``doc_near`` sections of an encoded record (schema vinculo-v3: keyed
family hash and per-family given-name filters; keyed halves of a DNI that show consecutive
numbers; client_sdk/family.py); NULL for schemas without them.

Revision ID: 0004_family
Revises: 0003_bank
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_family"
down_revision = "0003_bank"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("encoded_record") as batch:
        batch.add_column(sa.Column("family", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("doc_near", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("encoded_record") as batch:
        batch.drop_column("doc_near")
        batch.drop_column("family")
