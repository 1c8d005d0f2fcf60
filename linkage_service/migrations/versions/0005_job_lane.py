"""One linkage job at a time, enforced by the database: ``link_job.lane`` (always 1) with a
unique index over the queued and running jobs, plus ``owner`` and ``heartbeat_at`` so a job
left by a dead process can be told apart and marked ``interrupted``.

Jobs already queued or running when this migration runs are marked ``interrupted`` first (the
process that ran them is gone: the service migrates on start), so the index can be built.

Revision ID: 0005_job_lane
Revises: 0004_family
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_job_lane"
down_revision = "0004_family"
branch_labels = None
depends_on = None

_OPEN = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    op.execute(
        "UPDATE link_job SET status = 'interrupted', "
        "error = 'interrumpido: el servicio se detuvo durante el trabajo (interrupted)' "
        "WHERE status IN ('queued', 'running')"
    )
    with op.batch_alter_table("link_job") as batch:
        batch.add_column(sa.Column("lane", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("owner", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("uq_link_job_one_open", "link_job", ["lane"], unique=True,
                    sqlite_where=_OPEN, postgresql_where=_OPEN)


def downgrade() -> None:
    op.drop_index("uq_link_job_one_open", table_name="link_job")
    with op.batch_alter_table("link_job") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
        batch.drop_column("lane")
