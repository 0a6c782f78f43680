"""Sweeps: a study of many cells, each run linked to its sweep and cell; v_cell_summary, v_scaling.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from schema import execute_view_file

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SWEEP_VIEWS = ("v_cell_summary", "v_scaling")


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("spec", JSONB, nullable=False, comment="the sweep spec as first run (a resume must match it)"),
        sa.Column("fingerprint", sa.Text, nullable=False, comment="hash of the plan: cells and their specs"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("cells", sa.Integer, nullable=False),
        sa.Column("repetitions", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("flow_run_id", sa.Text, comment="the Prefect flow run that last worked on the sweep"),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
        sa.CheckConstraint("status IN ('running', 'completed', 'failed', 'cancelled')", name="ck_sweeps_status"),
    )
    op.add_column("runs", sa.Column("sweep_id", sa.BigInteger, nullable=True))
    op.add_column("runs", sa.Column("cell_index", sa.Integer, nullable=True, comment="the cell's place in the sweep plan"))
    op.add_column("runs", sa.Column("cell", JSONB, nullable=True, comment="the cell's axis values, e.g. {\"cluster.brokers\": 6}"))
    op.add_column("runs", sa.Column("profile", sa.Text, nullable=True, comment="tuning profile the run's settings started from"))
    op.add_column(
        "runs",
        sa.Column("cluster_origin", sa.Text, nullable=True,
                  comment="how the cluster got to this run: fresh | scaled from N | ... reassigned"),
    )
    op.add_column("runs", sa.Column("attempt", sa.Integer, nullable=False, server_default="1"))
    op.create_foreign_key("fk_runs_sweep_id_sweeps", "runs", "sweeps", ["sweep_id"], ["id"], ondelete="CASCADE")
    op.create_index("ix_runs_sweep_cell", "runs", ["sweep_id", "cell_index", "repetition"])
    for view in SWEEP_VIEWS:
        execute_view_file(f"{view}.sql")


def downgrade() -> None:
    for view in reversed(SWEEP_VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_index("ix_runs_sweep_cell", table_name="runs")
    op.drop_constraint("fk_runs_sweep_id_sweeps", "runs", type_="foreignkey")
    for column in ("attempt", "cluster_origin", "profile", "cell", "cell_index", "sweep_id"):
        op.drop_column("runs", column)
    op.drop_table("sweeps")
