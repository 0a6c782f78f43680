"""History: runs.source / hardware / reference_key, the guide's printed figures, reference views, indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The documented views get columns appended (source, profile, sweep_id, cell_index, attempt;
v_run_totals also hardware and reference_key) with CREATE OR REPLACE from
views/<view>.0003.sql, which keeps every view built on them. New views: v_reference_check,
v_reference_cells, v_reference_match. Indexes for the cookbook (schema/queries) on a long
history: runs by experiment and time, runs by time, and the reference runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from schema import execute_view_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REPLACED_VIEWS = ("v_producer_results", "v_run_totals", "v_consumer_results")
NEW_VIEWS = ("v_reference_check", "v_reference_cells")  # v_reference_cells.sql also makes v_reference_match
NEW_VIEW_NAMES = ("v_reference_check", "v_reference_cells", "v_reference_match")


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column(
            "source", sa.Text, nullable=False, server_default="measured",
            comment="measured: run by kafkalab; reference: published results (kafkalab reference load)",
        ),
    )  # fmt: skip
    op.create_check_constraint("ck_runs_source", "runs", "source IN ('measured', 'reference')")
    op.add_column(
        "runs", sa.Column("hardware", JSONB, comment="where a reference run was measured (platform, instances, brokers)")
    )
    op.add_column(
        "runs", sa.Column("reference_key", sa.Text, comment="stable key of a reference run: source:experiment:repetition")
    )
    op.create_index("uq_runs_reference_key", "runs", ["reference_key"], unique=True)

    op.create_table(
        "reference_figures",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("experiment_id", sa.BigInteger, nullable=False),
        sa.Column("statistic", sa.Text, nullable=False, comment="average: over the experiment's runs; total: over one run's producers"),
        sa.Column("metric", sa.Text, nullable=False, comment="the v_run_totals column the figure corresponds to"),
        sa.Column("printed", sa.Numeric, nullable=False, comment="the figure as printed"),
        sa.Column("decimals", sa.Integer, nullable=False, comment="decimals printed"),
        sa.Column("printed_text", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False, comment="the printed line it comes from"),
        sa.PrimaryKeyConstraint("id", name="pk_reference_figures"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], ondelete="CASCADE", name="fk_reference_figures_experiment_id_experiments"
        ),
        sa.UniqueConstraint("experiment_id", "metric", name="uq_reference_figures_experiment_id_metric"),
        sa.CheckConstraint("statistic IN ('average', 'total')", name="ck_reference_figures_statistic"),
    )

    # The cookbook's access paths on a long history.
    op.create_index("ix_runs_experiment_id_started_at", "runs", ["experiment_id", "started_at"])
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_index(
        "ix_runs_reference_cell", "runs", ["brokers", "producer_instances", "record_size"],
        postgresql_where=sa.text("source = 'reference'"),
    )  # fmt: skip

    for view in REPLACED_VIEWS:
        execute_view_file(f"{view}.0003.sql")
    for view in NEW_VIEWS:
        execute_view_file(f"{view}.sql")


def downgrade() -> None:
    for view in reversed(NEW_VIEW_NAMES):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    # Views cannot lose columns with CREATE OR REPLACE; drop the dependents, restore, recreate.
    op.execute("DROP VIEW IF EXISTS v_scaling, v_cell_summary")
    for view in REPLACED_VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
        execute_view_file(f"{view}.sql")
    execute_view_file("v_cell_summary.sql")
    execute_view_file("v_scaling.sql")
    for index in ("ix_runs_reference_cell", "ix_runs_started_at", "ix_runs_experiment_id_started_at", "uq_runs_reference_key"):
        op.drop_index(index, table_name="runs")
    op.drop_table("reference_figures")
    op.drop_constraint("ck_runs_source", "runs", type_="check")
    for column in ("reference_key", "hardware", "source"):
        op.drop_column("runs", column)
