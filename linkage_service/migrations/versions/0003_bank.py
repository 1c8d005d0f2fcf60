"""The historical bank: linkage jobs, persons, memberships, lineage, review queue, decisions.

Revision ID: 0003_bank
Revises: 0002_audit
Create Date: 2025-01-03

Portable types only (JSON is TEXT on SQLite, JSON on PostgreSQL), every constraint named after
``NAMING_CONVENTION`` so the models and this script describe the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.schema import SchemaItem

revision = "0003_bank"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _record_pair(table: str) -> list[SchemaItem]:
    return [
        sa.Column("source_a", sa.Integer(), nullable=False),
        sa.Column("ref_a", sa.LargeBinary(), nullable=False),
        sa.Column("source_b", sa.Integer(), nullable=False),
        sa.Column("ref_b", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["source_a"], ["source.id"], name=f"fk_{table}_source_a_source"),
        sa.ForeignKeyConstraint(["source_b"], ["source.id"], name=f"fk_{table}_source_b_source"),
    ]


def upgrade() -> None:
    op.create_table(
        "link_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=60), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_link_job"),
    )
    op.create_index("ix_link_job_status", "link_job", ["status"])

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_job_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_person"),
        sa.ForeignKeyConstraint(
            ["created_job_id"], ["link_job.id"], name="fk_person_created_job_id_link_job"
        ),
    )
    op.create_index("ix_person_pseudonym", "person", ["pseudonym"], unique=True)
    op.create_index("ix_person_status", "person", ["status"])

    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("record_ref", sa.LargeBinary(), nullable=False),
        sa.Column("record_row_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        _ts("since"),
        _ts("until", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_membership"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name="fk_membership_person_id_person"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["source.id"], name="fk_membership_source_id_source"
        ),
        sa.ForeignKeyConstraint(
            ["record_row_id"], ["encoded_record.id"],
            name="fk_membership_record_row_id_encoded_record",
        ),
        sa.ForeignKeyConstraint(["job_id"], ["link_job.id"], name="fk_membership_job_id_link_job"),
    )
    op.create_index(
        "ix_membership_current_record", "membership", ["current", "source_id", "record_ref"]
    )
    op.create_index("ix_membership_person_current", "membership", ["person_id", "current"])

    op.create_table(
        "person_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("old_pseudonym", sa.String(length=16), nullable=False),
        sa.Column("new_pseudonym", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        _ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_person_lineage"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["link_job.id"], name="fk_person_lineage_job_id_link_job"
        ),
    )
    op.create_index("ix_person_lineage_old_pseudonym", "person_lineage", ["old_pseudonym"])
    op.create_index("ix_person_lineage_new_pseudonym", "person_lineage", ["new_pseudonym"])

    op.create_table(
        "review_pair",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        *_record_pair("review_pair"),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        _ts("decided_at", nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_review_pair"),
        sa.ForeignKeyConstraint(["job_id"], ["link_job.id"], name="fk_review_pair_job_id_link_job"),
        sa.UniqueConstraint(
            "source_a", "ref_a", "source_b", "ref_b", name="uq_review_pair_records"
        ),
    )
    op.create_index("ix_review_pair_status", "review_pair", ["status"])

    op.create_table(
        "link_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        *_record_pair("link_decision"),
        sa.Column("review_pair_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        _ts("decided_at"),
        sa.PrimaryKeyConstraint("id", name="pk_link_decision"),
        sa.ForeignKeyConstraint(
            ["review_pair_id"], ["review_pair.id"],
            name="fk_link_decision_review_pair_id_review_pair",
        ),
        sa.UniqueConstraint(
            "source_a", "ref_a", "source_b", "ref_b", name="uq_link_decision_records"
        ),
    )


def downgrade() -> None:
    op.drop_table("link_decision")
    op.drop_table("review_pair")
    op.drop_table("person_lineage")
    op.drop_table("membership")
    op.drop_table("person")
    op.drop_index("ix_link_job_status", table_name="link_job")
    op.drop_table("link_job")
