"""Comparisons with confidence: the run-to-run noise floor and change points over history.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

noise_floors keeps what `kafkalab noise SPEC --runs N` measured: the spread of N identical
runs (coefficient of variation of window throughput and of the merged p99) on one host;
`compare` and `check` do not call a difference below it a change. change_points keeps what
`kafkalab check` found in each experiment's series with Apache Otava (E-divisive means),
replaced whole on every check of the experiment. Views v_noise_floor (the newest floor per
spec and host) and v_change_points (with the experiment's name).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from schema import execute_view_file

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

VIEWS = ("v_noise_floor", "v_change_points")


def upgrade() -> None:
    op.create_table(
        "noise_floors",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("spec_name", sa.Text, nullable=False, comment="the experiment spec the identical runs ran"),
        sa.Column("experiment", sa.Text, nullable=False, comment="the experiment name the runs are stored under"),
        sa.Column("host", sa.Text, nullable=False, comment="the machine that ran them (its host name)"),
        sa.Column("measured_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("runs", sa.Integer, nullable=False, comment="ok runs the spread is over"),
        sa.Column("run_ids", postgresql.ARRAY(sa.BigInteger), nullable=False),
        sa.Column("latency_kind", sa.Text, comment="the kind of the p99 figures: corrected, else send"),
        *(sa.Column(name, sa.Double, comment=comment) for name, comment in (
            ("mean_records_per_sec", "mean window throughput over the runs"),
            ("stddev_records_per_sec", "sample standard deviation of the runs' window throughput"),
            ("cv_records_per_sec", "stddev / mean of the window throughput: the run-to-run noise, a share"),
            ("mean_p99_ms", "mean of the runs' merged p99"),
            ("stddev_p99_ms", "sample standard deviation of the runs' merged p99"),
            ("cv_p99_ms", "stddev / mean of the merged p99, a share"),
        )),
        sa.PrimaryKeyConstraint("id", name="pk_noise_floors"),
        sa.CheckConstraint("runs >= 2", name="ck_noise_floors_runs"),
    )
    op.create_index("ix_noise_floors_spec_name_host", "noise_floors", ["spec_name", "host", "measured_at"])
    op.create_table(
        "change_points",
        sa.Column("experiment_id", sa.BigInteger, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False, comment="the first run after the change"),
        sa.Column("position", sa.Integer, nullable=False, comment="index of that run in the series, from 0"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mean_before", sa.Double, nullable=False),
        sa.Column("mean_after", sa.Double, nullable=False),
        sa.Column("stddev_before", sa.Double, nullable=False),
        sa.Column("stddev_after", sa.Double, nullable=False),
        sa.Column("change_share", sa.Double, nullable=False, comment="mean_after / mean_before - 1"),
        sa.Column("pvalue", sa.Double, nullable=False, comment="Otava's t-test of the two sides"),
        sa.Column("regression", sa.Boolean, nullable=False,
                  comment="throughput fell, or p99 rose: the change is for the worse"),
        sa.Column("detected_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "metric", "run_id", name="pk_change_points"),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE",
                                name="fk_change_points_experiment_id_experiments"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_change_points_run_id_runs"),
        sa.CheckConstraint("metric IN ('window_records_per_sec', 'p99_ms')", name="ck_change_points_metric"),
    )
    for view in VIEWS:
        execute_view_file(f"{view}.sql")


def downgrade() -> None:
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_table("change_points")
    op.drop_index("ix_noise_floors_spec_name_host", "noise_floors")
    op.drop_table("noise_floors")
