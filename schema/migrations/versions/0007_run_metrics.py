"""Run metrics: the brokers' JMX, the host and the load generator's clients, sampled per interval.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Three long tables of (run, source, metric, time, value), written with COPY: broker_metrics
(source "broker-<id>"), host_metrics ("host", "cpu<N>", "disk:<dev>", "net:<if>",
"process:<name>") and client_metrics ("producer-<i>", "consumer-<i>"); the names are those
of kafkalab/metrics/names.py. A NULL value is a sample the source did not answer: missing,
never zero. run_metrics holds, per run, the sampling interval, when sampling began (the
views' seconds_from_start count from it) and what could not be sampled, in words. Views
v_broker_metrics, v_host_metrics, v_client_metrics and v_metrics_missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from schema import execute_view_file

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SERIES_TABLES = ("broker_metrics", "host_metrics", "client_metrics")
VIEWS = ("v_broker_metrics", "v_host_metrics", "v_client_metrics", "v_metrics_missing")


def upgrade() -> None:
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("interval_s", sa.Double, nullable=False, comment="the sampling interval (the reporting interval)"),
        sa.Column("started_at", sa.DateTime(timezone=True), comment="when sampling began, just before the load"),
        sa.Column("missing", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}",
                  comment="what could not be sampled, in words (its samples are NULL or absent)"),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_metrics"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_run_metrics_run_id_runs"),
    )
    for table in SERIES_TABLES:
        op.create_table(
            table,
            sa.Column("run_id", sa.BigInteger, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("metric", sa.Text, nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("value", sa.Double, comment="NULL: the source did not answer (missing, never zero)"),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name=f"fk_{table}_run_id_runs"),
        )
        op.create_index(f"ix_{table}_run_id_metric", table, ["run_id", "metric"])
    for view in VIEWS:
        execute_view_file(f"{view}.sql")


def downgrade() -> None:
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for table in (*SERIES_TABLES, "run_metrics"):
        op.drop_table(table)
