"""Capacity under a latency objective: studies, their steps and the runs of each step.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

A capacity study (kafkalab.analysis.capacity) probes, steps the target rate up, stops at
the first step that breaks its latency objective or saturates, and bisects. The study's
row holds its objective and its result; a step's row holds its figures over its
repetitions (percentiles from the merged histograms, 95% confidence intervals); the runs
of each step are ordinary runs, linked here. Views: v_capacity (one row a study),
v_latency_curve (one row a step), v_capacity_scaling (capacity per sweep cell).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from schema import execute_view_file

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CAPACITY_VIEWS = ("v_capacity", "v_latency_curve", "v_capacity_scaling")
_RESULT_COLUMNS = (
    ("probe_records_per_sec", "the unthrottled probe's window throughput; NULL when the study gave its rates"),
    ("max_sustainable_records_per_sec", ("achieved throughput (mean over its repetitions) of the highest step that "
                                         "met the objective without saturating")),
    ("ci95_low_max_sustainable_records_per_sec", "95% confidence interval of that mean (Student t); NULL for one run"),
    ("ci95_high_max_sustainable_records_per_sec", None),
    ("passed_target_records_per_sec", "the target of that step"),
    ("failed_target_records_per_sec", "the lowest target above it that broke the objective or saturated"),
    ("knee_records_per_sec", "the latency-throughput curve's knee (Kneedle), achieved throughput"),
    ("knee_latency_ms", "latency at the objective's percentile at the knee"),
)
_ESTIMATES = ("achieved_records_per_sec", "p50_ms", "p99_ms", "p999_ms", "objective_ms")


def upgrade() -> None:
    op.create_table(
        "capacity_studies",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("name", sa.Text, nullable=False, comment="the experiment's name: its runs are stored under it"),
        sa.Column("spec", JSONB, nullable=False, comment="the experiment spec the steps start from"),
        sa.Column("study", JSONB, nullable=False, comment="the study's settings (kafkalab.spec.models.CapacitySpec)"),
        sa.Column("fingerprint", sa.Text, nullable=False, comment="hash of spec and study: a resume must match it"),
        sa.Column("slo", sa.Text, nullable=False, comment="the objective as parsed, e.g. p99<20ms"),
        sa.Column("percentile", sa.Double, nullable=False),
        sa.Column("bound_ms", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False, comment="corrected | end_to_end"),
        sa.Column("repetitions", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("finding", sa.Text, comment="found | below_range | beyond_range; NULL until completed"),
        *(sa.Column(name, sa.Double, comment=comment) for name, comment in _RESULT_COLUMNS),
        sa.Column("sweep_id", sa.BigInteger, comment="a sweep's capacity cell: the sweep"),
        sa.Column("cell_index", sa.Integer, comment="and the cell's place in its plan"),
        sa.Column("cell", JSONB, comment="the cell's axis values"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("flow_run_id", sa.Text, comment="the Prefect flow run that last worked on the study"),
        sa.PrimaryKeyConstraint("id", name="pk_capacity_studies"),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweeps.id"], ondelete="CASCADE",
                                name="fk_capacity_studies_sweep_id_sweeps"),
        sa.CheckConstraint("status IN ('running', 'completed', 'failed', 'cancelled')",
                           name="ck_capacity_studies_status"),
        sa.CheckConstraint("kind IN ('corrected', 'end_to_end')", name="ck_capacity_studies_kind"),
    )
    op.create_index("ix_capacity_studies_sweep_cell", "capacity_studies", ["sweep_id", "cell_index"])
    estimate_columns = []
    for name in _ESTIMATES:
        estimate_columns += [sa.Column(name, sa.Double), sa.Column(f"ci95_low_{name}", sa.Double),
                             sa.Column(f"ci95_high_{name}", sa.Double)]
    op.create_table(
        "capacity_steps",
        sa.Column("study_id", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, comment="the step's place in the study (the probe is 0)"),
        sa.Column("phase", sa.Text, nullable=False, comment="probe | step | bisect"),
        sa.Column("target_records_per_sec", sa.Double, comment="all producers together; NULL: unthrottled (the probe)"),
        sa.Column("verdict", sa.Text, comment="probe | pass | breaks | saturated; NULL until its repetitions are done"),
        sa.Column("reason", sa.Text),
        sa.Column("n", sa.Integer, comment="repetitions measured"),
        *estimate_columns,
        sa.PrimaryKeyConstraint("study_id", "seq", name="pk_capacity_steps"),
        sa.ForeignKeyConstraint(["study_id"], ["capacity_studies.id"], ondelete="CASCADE",
                                name="fk_capacity_steps_study_id_capacity_studies"),
        sa.CheckConstraint("phase IN ('probe', 'step', 'bisect')", name="ck_capacity_steps_phase"),
    )
    op.create_table(
        "capacity_step_runs",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("study_id", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("repetition", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_capacity_step_runs"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_capacity_step_runs_run_id_runs"),
        sa.ForeignKeyConstraint(["study_id", "seq"], ["capacity_steps.study_id", "capacity_steps.seq"],
                                ondelete="CASCADE", name="fk_capacity_step_runs_study_id_capacity_steps"),
    )
    op.create_index("ix_capacity_step_runs_step", "capacity_step_runs", ["study_id", "seq", "repetition"])
    for view in CAPACITY_VIEWS:
        execute_view_file(f"{view}.sql")


def downgrade() -> None:
    for view in reversed(CAPACITY_VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_table("capacity_step_runs")
    op.drop_table("capacity_steps")
    op.drop_table("capacity_studies")
