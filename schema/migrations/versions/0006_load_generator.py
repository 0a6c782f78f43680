"""The load generator: interval histograms, one window per run, saturation, confidence intervals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

kafkalab's own load generator reports, per instance and interval, counts and HdrHistograms
(load_intervals, latency_histograms); a run's latency merged over its window is kept per
kind (run_latency, view v_run_latency). Runs gain the window their throughput is stated
over, their target and achieved rate and whether they were saturated. Consumer results
become one row per consumer instance. student_t_95 holds Student's t for the 95% confidence
intervals of v_cell_summary; v_scaling gains the scaling efficiency per setting.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schema import execute_view_file

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_RUN_COLUMNS = (
    ("producer_tool", sa.Text, "kafkalab (load generator) | kafka-perf (ProducerPerformance)"),
    ("consumer_tool", sa.Text, "kafkalab | kafka-perf (ConsumerPerformance); NULL: no consumers"),
    ("warmup_s", sa.Double, "seconds after the common start left out of the figures"),
    ("window_start", sa.DateTime(timezone=True), "start of the window every producer instance measured in, after the warm-up"),
    ("window_end", sa.DateTime(timezone=True), "end of that window"),
    ("window_records", sa.BigInteger, "records acknowledged in the window"),
    ("window_bytes", sa.BigInteger, "value bytes acknowledged in the window"),
    ("target_records_per_sec", sa.Double, "the rate asked of all producer instances together; NULL: unthrottled"),
    ("achieved_records_per_sec", sa.Double,
     "window_records / window length (kafka-perf: the sum of the instances' own averages)"),
    ("saturated", sa.Boolean, "the run did not keep its target rate (or had none): its latency measures queueing"),
    ("saturation_reason", sa.Text, None),
)
STUDENT_T_MAX_DF = 1000  # beyond it the views use the normal quantile
REPLACED_VIEWS = ("v_run_totals", "v_cell_summary", "v_scaling")


def upgrade() -> None:
    for name, type_, comment in _RUN_COLUMNS:
        op.add_column("runs", sa.Column(name, type_, comment=comment))
    op.add_column("producer_results", sa.Column("tool", sa.Text, server_default="kafka-perf", nullable=False,
                                                comment="kafka-perf | kafkalab"))
    op.add_column("producer_results", sa.Column("stopped_by", sa.Text,
                                                comment="kafkalab: records | bytes (the byte budget) | duration"))
    op.add_column("consumer_results", sa.Column("instance", sa.Integer, server_default="0", nullable=False))
    op.add_column("consumer_results", sa.Column("tool", sa.Text, server_default="kafka-perf", nullable=False,
                                                comment="kafka-perf | kafkalab"))
    op.add_column("consumer_results", sa.Column("group_id", sa.Text, comment="the consumer (or share) group it read in"))
    op.drop_constraint("uq_consumer_results_run_id", "consumer_results", type_="unique")
    op.create_unique_constraint("uq_consumer_results_run_id_instance", "consumer_results", ["run_id", "instance"])

    op.create_table(
        "load_intervals",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("instance", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.BigInteger, nullable=False),
        sa.Column("acked", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False, comment="value bytes acknowledged (producers) or received"),
        sa.PrimaryKeyConstraint("run_id", "role", "instance", "seq", name="pk_load_intervals"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_load_intervals_run_id_runs"),
        sa.CheckConstraint("role IN ('producer', 'consumer')", name="ck_load_intervals_role"),
    )
    op.create_table(
        "latency_histograms",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("instance", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("total_count", sa.BigInteger, nullable=False),
        sa.Column("encoded", sa.Text, nullable=False, comment="HdrHistogram's compressed encoding, base64 (HISTFAAA...)"),
        sa.PrimaryKeyConstraint("run_id", "role", "instance", "seq", "kind", name="pk_latency_histograms"),
        sa.ForeignKeyConstraint(
            ["run_id", "role", "instance", "seq"],
            ["load_intervals.run_id", "load_intervals.role", "load_intervals.instance", "load_intervals.seq"],
            ondelete="CASCADE", name="fk_latency_histograms_run_id_load_intervals",
        ),
        sa.CheckConstraint("kind IN ('send', 'corrected', 'schedule_delay', 'end_to_end')",
                           name="ck_latency_histograms_kind"),
    )
    op.create_table(
        "run_latency",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        *(sa.Column(name, sa.Double, nullable=False)
          for name in ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "p9999_ms", "max_ms")),
        sa.PrimaryKeyConstraint("run_id", "kind", name="pk_run_latency"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_run_latency_run_id_runs"),
    )
    op.create_table(
        "student_t_95",
        sa.Column("df", sa.Integer, nullable=False),
        sa.Column("t", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("df", name="pk_student_t_95"),
    )
    from scipy import stats

    op.bulk_insert(
        sa.table("student_t_95", sa.column("df", sa.Integer), sa.column("t", sa.Double)),
        [{"df": df, "t": float(stats.t.ppf(0.975, df))} for df in range(1, STUDENT_T_MAX_DF + 1)],
    )
    for view in REPLACED_VIEWS:
        execute_view_file(f"{view}.0006.sql")
    execute_view_file("v_run_latency.sql")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_run_latency")
    # Views cannot lose columns with CREATE OR REPLACE: drop them and replay their 0003 state.
    op.execute("DROP VIEW IF EXISTS v_scaling, v_cell_summary, v_reference_check, v_reference_cells")
    op.execute("DROP VIEW IF EXISTS v_run_totals")
    for view in ("v_run_totals.0003", "v_cell_summary", "v_scaling", "v_reference_cells", "v_reference_check"):
        execute_view_file(f"{view}.sql")
    for table in ("student_t_95", "run_latency", "latency_histograms", "load_intervals"):
        op.drop_table(table)
    op.drop_constraint("uq_consumer_results_run_id_instance", "consumer_results", type_="unique")
    op.execute("DELETE FROM consumer_results WHERE instance > 0")
    op.create_unique_constraint("uq_consumer_results_run_id", "consumer_results", ["run_id"])
    for column in ("group_id", "tool", "instance"):
        op.drop_column("consumer_results", column)
    for column in ("stopped_by", "tool"):
        op.drop_column("producer_results", column)
    for name, _, _ in reversed(_RUN_COLUMNS):
        op.drop_column("runs", name)
