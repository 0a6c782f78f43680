"""Initial results schema: experiments, runs, producer/consumer results, windows, steps, views.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from schema import VIEWS, execute_view_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_STATUS_CHECK = "status IN ('ok', 'failed', 'cancelled')"


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _parent(name: str, table: str, target: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    column = sa.Column(name, sa.BigInteger, nullable=False)
    fk = sa.ForeignKeyConstraint(
        [name], [f"{target}.id"], ondelete="CASCADE", name=f"fk_{table}_{name}_{target}"
    )
    return column, fk


def _doubles(*names: str, nullable: bool = True) -> list[sa.Column]:
    return [sa.Column(name, sa.Double, nullable=nullable) for name in names]


_PERCENTILES = ("p50_ms", "p95_ms", "p99_ms", "p999_ms")
_PRODUCER_METRICS = ("records_per_sec", "mb_per_sec", "avg_latency_ms", "max_latency_ms")


def upgrade() -> None:
    op.create_table(
        "experiments",
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("spec", JSONB, nullable=False, comment="the spec of the latest run saved"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )

    experiment_id, experiment_fk = _parent("experiment_id", "runs", "experiments")
    op.create_table(
        "runs",
        _id(),
        experiment_id,
        sa.Column("repetition", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("kafka_version", sa.Text, nullable=False),
        sa.Column("brokers", sa.Integer, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partitions", sa.Integer, nullable=False),
        sa.Column("replication_factor", sa.Integer, nullable=False),
        sa.Column("record_size", sa.Integer, nullable=False),
        sa.Column("num_records", sa.BigInteger, nullable=False),
        sa.Column("throughput", sa.Double, nullable=False, comment="producer throughput cap, records/s; -1 = none"),
        sa.Column("producer_instances", sa.Integer, nullable=False),
        sa.Column("producer_props", JSONB, nullable=False),
        sa.Column("consumer_props", JSONB, nullable=False),
        sa.Column("broker_config", JSONB, nullable=False),
        sa.Column("topic_config", JSONB, nullable=False),
        sa.Column("spec", JSONB, nullable=False, comment="this run's full spec"),
        sa.Column("acks", sa.Text, nullable=False),
        sa.Column("batch_size", sa.Integer),
        sa.Column("linger_ms", sa.BigInteger),
        sa.Column("compression_type", sa.Text, nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("flow_run_id", sa.Text),
        sa.Column("run_dir", sa.Text),
        sa.Column("records_in_topic", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        experiment_fk,
        sa.CheckConstraint(_STATUS_CHECK, name="ck_runs_status"),
        sa.CheckConstraint("repetition >= 0", name="ck_runs_repetition"),
        sa.CheckConstraint(
            "brokers > 0 AND partitions > 0 AND replication_factor > 0", name="ck_runs_cluster"
        ),
        sa.CheckConstraint("producer_instances >= 0", name="ck_runs_producer_instances"),
    )
    op.create_index("ix_runs_experiment_id", "runs", ["experiment_id"])

    run_id, run_fk = _parent("run_id", "producer_results", "runs")
    op.create_table(
        "producer_results",
        _id(),
        run_id,
        sa.Column("instance", sa.Integer, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("records_requested", sa.BigInteger, nullable=False),
        sa.Column("records", sa.BigInteger),
        *_doubles(*_PRODUCER_METRICS, *_PERCENTILES),
        sa.Column("steady_state_records", sa.BigInteger),
        *_doubles(*(f"steady_state_{name}" for name in (*_PRODUCER_METRICS, *_PERCENTILES))),
        sa.Column("error", sa.Text),
        sa.Column("raw_output", sa.Text, nullable=False, comment="the tool's whole output"),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.PrimaryKeyConstraint("id", name="pk_producer_results"),
        run_fk,
        sa.UniqueConstraint("run_id", "instance", name="uq_producer_results_run_id_instance"),
        sa.CheckConstraint(_STATUS_CHECK, name="ck_producer_results_status"),
    )

    producer_result_id, producer_result_fk = _parent(
        "producer_result_id", "producer_windows", "producer_results"
    )
    op.create_table(
        "producer_windows",
        producer_result_id,
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        *_doubles(*_PRODUCER_METRICS, nullable=False),
        sa.PrimaryKeyConstraint("producer_result_id", "seq", name="pk_producer_windows"),
        producer_result_fk,
    )

    run_id, run_fk = _parent("run_id", "consumer_results", "runs")
    op.create_table(
        "consumer_results",
        _id(),
        run_id,
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("messages_requested", sa.BigInteger, nullable=False),
        sa.Column("start_time", sa.Text, comment="as the tool printed it"),
        sa.Column("end_time", sa.Text, comment="as the tool printed it"),
        sa.Column("messages", sa.BigInteger),
        *_doubles(
            "mb", "mb_per_sec", "msgs_per_sec", "rebalance_ms", "fetch_ms",
            "fetch_mb_per_sec", "fetch_msgs_per_sec",
        ),  # fmt: skip
        sa.Column("error", sa.Text),
        sa.Column("raw_output", sa.Text, nullable=False, comment="the tool's whole output"),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.PrimaryKeyConstraint("id", name="pk_consumer_results"),
        run_fk,
        sa.UniqueConstraint("run_id", name="uq_consumer_results_run_id"),
        sa.CheckConstraint(_STATUS_CHECK, name="ck_consumer_results_status"),
    )

    run_id, run_fk = _parent("run_id", "step_timings", "runs")
    op.create_table(
        "step_timings",
        _id(),
        run_id,
        sa.Column("step", sa.Text, nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.Column("seconds", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_timings"),
        run_fk,
    )
    op.create_index("ix_step_timings_run_id", "step_timings", ["run_id"])

    for view in VIEWS:
        execute_view_file(f"{view}.sql")


def downgrade() -> None:
    for view in reversed(VIEWS):
        op.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
    for table in ("step_timings", "consumer_results", "producer_windows", "producer_results", "runs", "experiments"):
        op.drop_table(table)
