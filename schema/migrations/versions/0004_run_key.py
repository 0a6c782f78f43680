"""runs.run_key: the uuid the engine gives a run when it records it, unique.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

A run spooled to its run directory while the database was down is loaded later with
INSERT ... ON CONFLICT (run_key) DO NOTHING, so loading it twice stores it once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("run_key", UUID(as_uuid=False), comment="set by the engine when it records the run; stores it once"),
    )
    op.create_index("uq_runs_run_key", "runs", ["run_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_runs_run_key", table_name="runs")
    op.drop_column("runs", "run_key")
