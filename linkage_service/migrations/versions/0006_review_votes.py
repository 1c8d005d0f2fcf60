"""Review votes and second review: every reviewer's vote on a review pair is kept
(``review_vote``: agreement between reviewers is measured on them), a pair carries the number
of votes it has received (``votes``: a decision names the version it saw, so two reviewers on one
pair cannot overwrite each other) and why it waits for a second review (``second_reason``). The
queue indexes (status, score, id) and (status, source_a, source_b) serve the console's paged,
filtered queue.

Revision ID: 0006_review_votes
Revises: 0005_job_lane
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_review_votes"
down_revision = "0005_job_lane"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_pair") as batch:
        batch.add_column(sa.Column("votes", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("second_reason", sa.String(length=16), nullable=True))
    op.create_index("ix_review_pair_queue", "review_pair", ["status", "score", "id"])
    op.create_index("ix_review_pair_sources", "review_pair", ["status", "source_a", "source_b"])
    op.create_table(
        "review_vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_pair_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("token_id", sa.String(length=16), nullable=False),
        sa.Column("user_label", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_vote"),
        sa.ForeignKeyConstraint(["review_pair_id"], ["review_pair.id"],
                                name="fk_review_vote_review_pair_id_review_pair"),
    )
    op.create_index("ix_review_vote_review_pair_id", "review_vote", ["review_pair_id"])
    op.create_index("ix_review_vote_reviewer", "review_vote", ["reviewer"])
    op.create_index("ix_review_vote_decided_at", "review_vote", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_review_vote_decided_at", table_name="review_vote")
    op.drop_index("ix_review_vote_reviewer", table_name="review_vote")
    op.drop_index("ix_review_vote_review_pair_id", table_name="review_vote")
    op.drop_table("review_vote")
    op.drop_index("ix_review_pair_sources", table_name="review_pair")
    op.drop_index("ix_review_pair_queue", table_name="review_pair")
    with op.batch_alter_table("review_pair") as batch:
        batch.drop_column("second_reason")
        batch.drop_column("votes")
