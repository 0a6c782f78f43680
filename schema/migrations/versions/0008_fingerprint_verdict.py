"""The fingerprint and the bottleneck verdict of every run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Runs gain their fingerprint (the machine, software, platform and effective settings they ran
on and with, kafkalab.metrics.fingerprint) and its short id, and the bottleneck verdict
(kafkalab.metrics.bottleneck) with its one-line summary and its evidence. v_environment shows
the fingerprint flattened, one row per run; v_run_totals gains fingerprint_id and bottleneck.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from schema import execute_view_file

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen here (kafkalab.metrics.names.VERDICTS may grow; a later migration then widens this).
VERDICTS = ("generator-bound", "broker-cpu-bound", "network-threads-bound", "disk-bound", "replication-bound",
            "machine-bound", "none", "unknown")
_RUN_COLUMNS = (
    ("fingerprint", JSONB, ("what the run ran on and with: machine, software, platform, effective settings, "
                           "load before the run (kafkalab.metrics.fingerprint)")),
    ("fingerprint_id", sa.Text, "short hash of the fingerprint's machine, software, platform and settings"),
    ("bottleneck", sa.Text, "where the run's limit was (docs/measuring.md, Where the limit was)"),
    ("bottleneck_summary", sa.Text, "the verdict in one line, with the figure that decided it"),
    ("bottleneck_evidence", JSONB, ("which figure crossed which threshold, and when: "
                                   "[{figure, value, threshold, comparison, at}]")),
)


def upgrade() -> None:
    for name, type_, comment in _RUN_COLUMNS:
        op.add_column("runs", sa.Column(name, type_, comment=comment))
    op.create_check_constraint("ck_runs_bottleneck", "runs",
                               "bottleneck IS NULL OR bottleneck IN (" + ", ".join(f"'{v}'" for v in VERDICTS) + ")")
    op.create_index("ix_runs_fingerprint_id", "runs", ["fingerprint_id"])
    execute_view_file("v_run_totals.0008.sql")  # CREATE OR REPLACE: columns appended
    execute_view_file("v_environment.sql")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_environment")
    # Views cannot lose columns with CREATE OR REPLACE: drop them and replay their 0006 state.
    op.execute("DROP VIEW IF EXISTS v_scaling, v_cell_summary, v_reference_check, v_reference_match, v_reference_cells")
    op.execute("DROP VIEW IF EXISTS v_run_totals")
    for view in ("v_run_totals.0006", "v_cell_summary.0006", "v_scaling.0006", "v_reference_cells",
                 "v_reference_check"):
        execute_view_file(f"{view}.sql")
    op.drop_index("ix_runs_fingerprint_id", "runs")
    op.drop_constraint("ck_runs_bottleneck", "runs", type_="check")
    for name, _, _ in reversed(_RUN_COLUMNS):
        op.drop_column("runs", name)
