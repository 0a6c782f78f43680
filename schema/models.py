"""The results tables as typed SQLAlchemy models.

Migrations are written out by hand (schema/migrations/versions) so that history never
changes when these models do; tests/test_store.py checks that both describe the same
tables. Views are plain SQL in schema/views/.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("ok", "failed", "cancelled")
_STATUS_CHECK = "status IN ('ok', 'failed', 'cancelled')"

# Deterministic constraint names, so a later migration can name what it alters.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        float: Double,
        str: Text,
    }


def _id() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(), primary_key=True)


def _parent(target: str, *, index: bool = False) -> Mapped[int]:
    return mapped_column(BigInteger, ForeignKey(target, ondelete="CASCADE"), index=index)


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(comment="the spec of the latest run saved")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Sweep(Base):
    """A study of many cells (the product of its axes), each cell repeated."""

    __tablename__ = "sweeps"
    __table_args__ = (CheckConstraint("status IN ('running', 'completed', 'failed', 'cancelled')", name="status"),)

    id: Mapped[int] = _id()
    name: Mapped[str]
    spec: Mapped[dict[str, Any]] = mapped_column(comment="the sweep spec as first run (a resume must match it)")
    fingerprint: Mapped[str] = mapped_column(comment="hash of the plan: cells and their specs")
    status: Mapped[str]
    cells: Mapped[int] = mapped_column(Integer)
    repetitions: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    flow_run_id: Mapped[str | None] = mapped_column(comment="the Prefect flow run that last worked on the sweep")


class Run(Base):
    """One repetition of an experiment on one cluster."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="status"),
        CheckConstraint("repetition >= 0", name="repetition"),
        CheckConstraint("brokers > 0 AND partitions > 0 AND replication_factor > 0", name="cluster"),
        CheckConstraint("producer_instances >= 0", name="producer_instances"),
        Index("ix_runs_sweep_cell", "sweep_id", "cell_index", "repetition"),
        CheckConstraint("source IN ('measured', 'reference')", name="source"),
        CheckConstraint("bottleneck IS NULL OR bottleneck IN ('generator-bound', 'broker-cpu-bound', "
                        "'network-threads-bound', 'disk-bound', 'replication-bound', 'machine-bound', 'none', "
                        "'unknown')", name="bottleneck"),
        Index("uq_runs_reference_key", "reference_key", unique=True),
        Index("uq_runs_run_key", "run_key", unique=True),
        # The cookbook's access paths (schema/queries) on a long history.
        Index("ix_runs_experiment_id_started_at", "experiment_id", "started_at"),
        Index("ix_runs_started_at", "started_at"),
        Index(
            "ix_runs_reference_cell", "brokers", "producer_instances", "record_size",
            postgresql_where=text("source = 'reference'"),
        ),
    )

    id: Mapped[int] = _id()
    experiment_id: Mapped[int] = _parent("experiments.id", index=True)
    repetition: Mapped[int] = mapped_column(Integer)
    status: Mapped[str]
    error: Mapped[str | None]
    platform: Mapped[str]
    kafka_version: Mapped[str]
    brokers: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str]
    partitions: Mapped[int] = mapped_column(Integer)
    replication_factor: Mapped[int] = mapped_column(Integer)
    record_size: Mapped[int] = mapped_column(Integer)
    num_records: Mapped[int] = mapped_column(BigInteger)
    throughput: Mapped[float] = mapped_column(comment="producer throughput cap, records/s; -1 = none")
    producer_instances: Mapped[int] = mapped_column(Integer)
    producer_props: Mapped[dict[str, Any]]
    consumer_props: Mapped[dict[str, Any]]
    broker_config: Mapped[dict[str, Any]]
    topic_config: Mapped[dict[str, Any]]
    spec: Mapped[dict[str, Any]] = mapped_column(comment="this run's full spec")
    # Producer settings pulled out of producer_props (Kafka 4 defaults when absent) so
    # queries can group by them without JSON operators.
    acks: Mapped[str]
    batch_size: Mapped[int | None] = mapped_column(Integer)
    linger_ms: Mapped[int | None] = mapped_column(BigInteger)
    compression_type: Mapped[str]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    flow_run_id: Mapped[str | None]
    run_dir: Mapped[str | None]
    records_in_topic: Mapped[int | None] = mapped_column(BigInteger)
    # Sweep runs: which sweep and cell, and how the cluster got to this run.
    sweep_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("sweeps.id", ondelete="CASCADE"))
    cell_index: Mapped[int | None] = mapped_column(Integer, comment="the cell's place in the sweep plan")
    cell: Mapped[dict[str, Any] | None] = mapped_column(comment='the cell\'s axis values, e.g. {"cluster.brokers": 6}')
    profile: Mapped[str | None] = mapped_column(comment="tuning profile the run's settings started from")
    cluster_origin: Mapped[str | None] = mapped_column(
        comment="how the cluster got to this run: fresh | scaled from N | ... reassigned"
    )
    attempt: Mapped[int] = mapped_column(Integer, server_default="1")
    # Where the numbers come from (kafkalab.reference loads published results as runs).
    source: Mapped[str] = mapped_column(
        server_default="measured",
        comment="measured: run by kafkalab; reference: published results (kafkalab reference load)",
    )
    hardware: Mapped[dict[str, Any] | None] = mapped_column(
        comment="where a reference run was measured (platform, instances, brokers)"
    )
    reference_key: Mapped[str | None] = mapped_column(
        comment="stable key of a reference run: source:experiment:repetition"
    )
    run_key: Mapped[str | None] = mapped_column(
        UUID(as_uuid=False), comment="set by the engine when it records the run; stores it once"
    )
    # Integrity (schema 0005): acknowledged by the producers against what the topic holds.
    integrity_check: Mapped[str | None] = mapped_column(
        comment="how records_lost was counted: end_offsets (records_in_topic) | consume (records_consumed)"
    )
    records_acknowledged: Mapped[int | None] = mapped_column(
        BigInteger, comment="records the producer instances report acknowledged (failed instances included)"
    )
    records_consumed: Mapped[int | None] = mapped_column(
        BigInteger, comment="records read back from the topic (integrity check consume only)"
    )
    records_lost: Mapped[int | None] = mapped_column(
        BigInteger, comment="records_acknowledged minus what the topic holds; < 0: more held than acknowledged"
    )
    # The load generator (schema 0006): which tools ran, and the figures over one window.
    producer_tool: Mapped[str | None] = mapped_column(comment="kafkalab (load generator) | kafka-perf (ProducerPerformance)")
    consumer_tool: Mapped[str | None] = mapped_column(comment="kafkalab | kafka-perf (ConsumerPerformance); NULL: no consumers")
    warmup_s: Mapped[float | None] = mapped_column(comment="seconds after the common start left out of the figures")
    window_start: Mapped[datetime | None] = mapped_column(
        comment="start of the window every producer instance measured in, after the warm-up"
    )
    window_end: Mapped[datetime | None] = mapped_column(comment="end of that window")
    window_records: Mapped[int | None] = mapped_column(BigInteger, comment="records acknowledged in the window")
    window_bytes: Mapped[int | None] = mapped_column(BigInteger, comment="value bytes acknowledged in the window")
    target_records_per_sec: Mapped[float | None] = mapped_column(
        comment="the rate asked of all producer instances together; NULL: unthrottled"
    )
    achieved_records_per_sec: Mapped[float | None] = mapped_column(
        comment="window_records / window length (kafka-perf: the sum of the instances' own averages)"
    )
    saturated: Mapped[bool | None] = mapped_column(
        comment="the run did not keep its target rate (or had none): its latency measures queueing"
    )
    saturation_reason: Mapped[str | None]
    # Where the limit was (schema 0008): what the run ran on and with, and the bottleneck verdict.
    fingerprint: Mapped[dict[str, Any] | None] = mapped_column(
        comment="what the run ran on and with: machine, software, platform, effective settings, "
                "load before the run (kafkalab.metrics.fingerprint)"
    )
    fingerprint_id: Mapped[str | None] = mapped_column(
        index=True, comment="short hash of the fingerprint's machine, software, platform and settings"
    )
    bottleneck: Mapped[str | None] = mapped_column(
        comment="where the run's limit was (docs/measuring.md, Where the limit was)"
    )
    bottleneck_summary: Mapped[str | None] = mapped_column(
        comment="the verdict in one line, with the figure that decided it"
    )
    bottleneck_evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSONB, comment="which figure crossed which threshold, and when: [{figure, value, threshold, comparison, at}]"
    )


class ProducerResult(Base):
    """One producer instance of a run (ProducerPerformance or kafkalab's load generator)."""

    __tablename__ = "producer_results"
    __table_args__ = (
        UniqueConstraint("run_id", "instance"),
        CheckConstraint(_STATUS_CHECK, name="status"),
    )

    id: Mapped[int] = _id()
    run_id: Mapped[int] = _parent("runs.id")
    instance: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str]
    status: Mapped[str]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    records_requested: Mapped[int] = mapped_column(BigInteger)
    # The tool's final summary line; NULL when the instance printed none.
    records: Mapped[int | None] = mapped_column(BigInteger)
    records_per_sec: Mapped[float | None]
    mb_per_sec: Mapped[float | None]
    avg_latency_ms: Mapped[float | None]
    max_latency_ms: Mapped[float | None]
    p50_ms: Mapped[float | None]
    p95_ms: Mapped[float | None]
    p99_ms: Mapped[float | None]
    p999_ms: Mapped[float | None]
    # The summary after warm-up records (--warmup-records), when the tool printed one.
    steady_state_records: Mapped[int | None] = mapped_column(BigInteger)
    steady_state_records_per_sec: Mapped[float | None]
    steady_state_mb_per_sec: Mapped[float | None]
    steady_state_avg_latency_ms: Mapped[float | None]
    steady_state_max_latency_ms: Mapped[float | None]
    steady_state_p50_ms: Mapped[float | None]
    steady_state_p95_ms: Mapped[float | None]
    steady_state_p99_ms: Mapped[float | None]
    steady_state_p999_ms: Mapped[float | None]
    error: Mapped[str | None]
    raw_output: Mapped[str] = mapped_column(comment="the tool's whole output")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    tool: Mapped[str] = mapped_column(server_default="kafka-perf", comment="kafka-perf | kafkalab")
    stopped_by: Mapped[str | None] = mapped_column(comment="kafkalab: records | bytes (the byte budget) | duration")


class ProducerWindow(Base):
    """One periodic progress line of a producer instance; written with COPY."""

    __tablename__ = "producer_windows"

    # Keyed by (instance, seq) rather than an identity: these are the many rows.
    producer_result_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("producer_results.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    records_per_sec: Mapped[float]
    mb_per_sec: Mapped[float]
    avg_latency_ms: Mapped[float]
    max_latency_ms: Mapped[float]


class FaultEvent(Base):
    """A broker fault injected during a run's producer test (spec `faults:`); offsets in
    seconds from the producers' common start."""

    __tablename__ = "fault_events"
    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        CheckConstraint("action IN ('kill', 'stop')", name="action"),
        CheckConstraint("outcome IN ('restarted', 'down', 'skipped', 'failed')", name="outcome"),
    )

    id: Mapped[int] = _id()
    run_id: Mapped[int] = _parent("runs.id")
    seq: Mapped[int] = mapped_column(Integer, comment="the fault's place in the spec's faults list")
    action: Mapped[str] = mapped_column(comment="kill: SIGKILL / pod deleted at once; stop: clean shutdown")
    broker: Mapped[int] = mapped_column(Integer, comment="broker node id")
    planned_at_s: Mapped[float] = mapped_column(comment="the spec's at_s")
    planned_restart_after_s: Mapped[float | None] = mapped_column(comment="the spec's restart_after_s; NULL: stays down")
    at_s: Mapped[float | None] = mapped_column(comment="when it was injected, s from the producers' start")
    down_at: Mapped[datetime | None] = mapped_column(comment="when it was injected, wall clock")
    restarted_at_s: Mapped[float | None] = mapped_column(comment="when the broker was started again, s from the producers' start")
    ready_at_s: Mapped[float | None] = mapped_column(comment="when it served again, s from the producers' start")
    outcome: Mapped[str] = mapped_column(
        comment="restarted | down (left down, as asked) | skipped (producers finished first) | failed"
    )
    error: Mapped[str | None]


class ConsumerResult(Base):
    """One consumer instance of a run (ConsumerPerformance, or kafkalab's load generator)."""

    __tablename__ = "consumer_results"
    __table_args__ = (CheckConstraint(_STATUS_CHECK, name="status"), UniqueConstraint("run_id", "instance"))

    id: Mapped[int] = _id()
    run_id: Mapped[int] = _parent("runs.id")
    instance: Mapped[int] = mapped_column(Integer, server_default="0")
    tool: Mapped[str] = mapped_column(server_default="kafka-perf", comment="kafka-perf | kafkalab")
    group_id: Mapped[str | None] = mapped_column(comment="the consumer (or share) group it read in")
    status: Mapped[str]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    messages_requested: Mapped[int] = mapped_column(BigInteger)
    start_time: Mapped[str | None] = mapped_column(comment="as the tool printed it")
    end_time: Mapped[str | None] = mapped_column(comment="as the tool printed it")
    messages: Mapped[int | None] = mapped_column(BigInteger)
    mb: Mapped[float | None]
    mb_per_sec: Mapped[float | None]
    msgs_per_sec: Mapped[float | None]
    rebalance_ms: Mapped[float | None]
    fetch_ms: Mapped[float | None]
    fetch_mb_per_sec: Mapped[float | None]
    fetch_msgs_per_sec: Mapped[float | None]
    error: Mapped[str | None]
    raw_output: Mapped[str] = mapped_column(comment="the tool's whole output")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class LoadIntervalRow(Base):
    """One reporting interval of a load-generator instance; written with COPY."""

    __tablename__ = "load_intervals"
    __table_args__ = (CheckConstraint("role IN ('producer', 'consumer')", name="role"),)

    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(primary_key=True)
    instance: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    sent: Mapped[int] = mapped_column(BigInteger)
    acked: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger, comment="value bytes acknowledged (producers) or received")


class LatencyHistogram(Base):
    """One HdrHistogram of one interval of one instance, in microseconds; written with COPY."""

    __tablename__ = "latency_histograms"
    __table_args__ = (
        CheckConstraint("kind IN ('send', 'corrected', 'schedule_delay', 'end_to_end')", name="kind"),
        ForeignKeyConstraint(["run_id", "role", "instance", "seq"],
                             ["load_intervals.run_id", "load_intervals.role", "load_intervals.instance",
                              "load_intervals.seq"], ondelete="CASCADE"),
    )

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    role: Mapped[str] = mapped_column(primary_key=True)
    instance: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(primary_key=True)
    total_count: Mapped[int] = mapped_column(BigInteger)
    encoded: Mapped[str] = mapped_column(comment="HdrHistogram's compressed encoding, base64 (HISTFAAA...)")


class RunLatency(Base):
    """A run's latency of one kind, merged from every instance's histograms over its window."""

    __tablename__ = "run_latency"

    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    mean_ms: Mapped[float]
    p50_ms: Mapped[float]
    p90_ms: Mapped[float]
    p99_ms: Mapped[float]
    p999_ms: Mapped[float]
    p9999_ms: Mapped[float]
    max_ms: Mapped[float]


class RunMetricsRow(Base):
    """Per run: how its metrics were sampled, and what could not be (schema 0007)."""

    __tablename__ = "run_metrics"

    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    interval_s: Mapped[float] = mapped_column(comment="the sampling interval (the reporting interval)")
    started_at: Mapped[datetime | None] = mapped_column(comment="when sampling began, just before the load")
    missing: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default="{}",
        comment="what could not be sampled, in words (its samples are NULL or absent)",
    )


def _series_table(name: str) -> Table:
    """A run's samples of one kind of source (kafkalab.metrics.names): no key, written with COPY."""
    return Table(
        name, Base.metadata,
        Column("run_id", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        Column("source", Text, nullable=False),
        Column("metric", Text, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("value", Double, comment="NULL: the source did not answer (missing, never zero)"),
        Index(f"ix_{name}_run_id_metric", "run_id", "metric"),
    )


BROKER_METRICS = _series_table("broker_metrics")
HOST_METRICS = _series_table("host_metrics")
CLIENT_METRICS = _series_table("client_metrics")


class StudentT(Base):
    """The two-sided 95% Student t critical value by degrees of freedom (from scipy), for the
    confidence intervals the views compute."""

    __tablename__ = "student_t_95"

    df: Mapped[int] = mapped_column(Integer, primary_key=True)
    t: Mapped[float]


class StepTiming(Base):
    """How long each step of a run took (deploy, create topic, produce, consume, ...)."""

    __tablename__ = "step_timings"

    id: Mapped[int] = _id()
    run_id: Mapped[int] = _parent("runs.id", index=True)
    step: Mapped[str]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    seconds: Mapped[float]


class ReferenceFigure(Base):
    """A total or average printed in a reference document, kept beside the computed one
    (view v_reference_check)."""

    __tablename__ = "reference_figures"
    __table_args__ = (
        UniqueConstraint("experiment_id", "metric"),
        CheckConstraint("statistic IN ('average', 'total')", name="statistic"),
    )

    id: Mapped[int] = _id()
    experiment_id: Mapped[int] = _parent("experiments.id")
    statistic: Mapped[str] = mapped_column(comment="average: over the experiment's runs; total: over one run's producers")
    metric: Mapped[str] = mapped_column(comment="the v_run_totals column the figure corresponds to")
    printed: Mapped[Decimal] = mapped_column(Numeric, comment="the figure as printed")
    decimals: Mapped[int] = mapped_column(Integer, comment="decimals printed")
    printed_text: Mapped[str]
    line: Mapped[str] = mapped_column(comment="the printed line it comes from")


class NoiseFloorRow(Base):
    """The spread of N identical runs of a spec on one host (schema 0010, `kafkalab noise`)."""

    __tablename__ = "noise_floors"
    __table_args__ = (
        CheckConstraint("runs >= 2", name="runs"),
        Index("ix_noise_floors_spec_name_host", "spec_name", "host", "measured_at"),
    )

    id: Mapped[int] = _id()
    spec_name: Mapped[str] = mapped_column(comment="the experiment spec the identical runs ran")
    experiment: Mapped[str] = mapped_column(comment="the experiment name the runs are stored under")
    host: Mapped[str] = mapped_column(comment="the machine that ran them (its host name)")
    measured_at: Mapped[datetime] = mapped_column(server_default=func.now())
    runs: Mapped[int] = mapped_column(Integer, comment="ok runs the spread is over")
    run_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    latency_kind: Mapped[str | None] = mapped_column(comment="the kind of the p99 figures: corrected, else send")
    mean_records_per_sec: Mapped[float | None] = mapped_column(comment="mean window throughput over the runs")
    stddev_records_per_sec: Mapped[float | None] = mapped_column(
        comment="sample standard deviation of the runs' window throughput")
    cv_records_per_sec: Mapped[float | None] = mapped_column(
        comment="stddev / mean of the window throughput: the run-to-run noise, a share")
    mean_p99_ms: Mapped[float | None] = mapped_column(comment="mean of the runs' merged p99")
    stddev_p99_ms: Mapped[float | None] = mapped_column(comment="sample standard deviation of the runs' merged p99")
    cv_p99_ms: Mapped[float | None] = mapped_column(comment="stddev / mean of the merged p99, a share")


class ChangePointRow(Base):
    """A change point of an experiment's series found by `kafkalab check` (schema 0010)."""

    __tablename__ = "change_points"
    __table_args__ = (CheckConstraint("metric IN ('window_records_per_sec', 'p99_ms')", name="metric"),)

    experiment_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("experiments.id", ondelete="CASCADE"),
                                               primary_key=True)
    metric: Mapped[str] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True,
                                        comment="the first run after the change")
    position: Mapped[int] = mapped_column(Integer, comment="index of that run in the series, from 0")
    started_at: Mapped[datetime]
    mean_before: Mapped[float]
    mean_after: Mapped[float]
    stddev_before: Mapped[float]
    stddev_after: Mapped[float]
    change_share: Mapped[float] = mapped_column(comment="mean_after / mean_before - 1")
    pvalue: Mapped[float] = mapped_column(comment="Otava's t-test of the two sides")
    regression: Mapped[bool] = mapped_column(comment="throughput fell, or p99 rose: the change is for the worse")
    detected_at: Mapped[datetime] = mapped_column(server_default=func.now())



class CapacityStudyRow(Base):
    """One `kafkalab capacity` study (schema 0009): its objective, settings and finding."""

    __tablename__ = "capacity_studies"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'failed', 'cancelled')", name="status"),
        CheckConstraint("kind IN ('corrected', 'end_to_end')", name="kind"),
        Index("ix_capacity_studies_sweep_cell", "sweep_id", "cell_index"),
    )

    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(comment="the experiment's name: its runs are stored under it")
    spec: Mapped[dict[str, Any]] = mapped_column(comment="the experiment spec the steps start from")
    study: Mapped[dict[str, Any]] = mapped_column(comment="the study's settings (kafkalab.spec.models.CapacitySpec)")
    fingerprint: Mapped[str] = mapped_column(comment="hash of spec and study: a resume must match it")
    slo: Mapped[str] = mapped_column(comment="the objective as parsed, e.g. p99<20ms")
    percentile: Mapped[float]
    bound_ms: Mapped[float]
    kind: Mapped[str] = mapped_column(comment="corrected | end_to_end")
    repetitions: Mapped[int] = mapped_column(Integer)
    status: Mapped[str]
    finding: Mapped[str | None] = mapped_column(comment="found | below_range | beyond_range; NULL until completed")
    probe_records_per_sec: Mapped[float | None] = mapped_column(
        comment="the unthrottled probe's window throughput; NULL when the study gave its rates")
    max_sustainable_records_per_sec: Mapped[float | None] = mapped_column(
        comment="achieved throughput (mean over its repetitions) of the highest step that met the objective without saturating")
    ci95_low_max_sustainable_records_per_sec: Mapped[float | None] = mapped_column(
        comment="95% confidence interval of that mean (Student t); NULL for one run")
    ci95_high_max_sustainable_records_per_sec: Mapped[float | None]
    passed_target_records_per_sec: Mapped[float | None] = mapped_column(comment="the target of that step")
    failed_target_records_per_sec: Mapped[float | None] = mapped_column(
        comment="the lowest target above it that broke the objective or saturated")
    knee_records_per_sec: Mapped[float | None] = mapped_column(
        comment="the latency-throughput curve's knee (Kneedle), achieved throughput")
    knee_latency_ms: Mapped[float | None] = mapped_column(comment="latency at the objective's percentile at the knee")
    sweep_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("sweeps.id", ondelete="CASCADE"),
                                                 comment="a sweep's capacity cell: the sweep")
    cell_index: Mapped[int | None] = mapped_column(Integer, comment="and the cell's place in its plan")
    cell: Mapped[dict[str, Any] | None] = mapped_column(comment="the cell's axis values")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    flow_run_id: Mapped[str | None] = mapped_column(comment="the Prefect flow run that last worked on the study")


class CapacityStepRow(Base):
    """One step of a capacity study (schema 0009): its target, verdict and estimates with CIs."""

    __tablename__ = "capacity_steps"
    __table_args__ = (CheckConstraint("phase IN ('probe', 'step', 'bisect')", name="phase"),)

    study_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("capacity_studies.id", ondelete="CASCADE"),
                                          primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, comment="the step's place in the study (the probe is 0)")
    phase: Mapped[str] = mapped_column(comment="probe | step | bisect")
    target_records_per_sec: Mapped[float | None] = mapped_column(
        comment="all producers together; NULL: unthrottled (the probe)")
    verdict: Mapped[str | None] = mapped_column(
        comment="probe | pass | breaks | saturated; NULL until its repetitions are done")
    reason: Mapped[str | None]
    n: Mapped[int | None] = mapped_column(Integer, comment="repetitions measured")
    # each estimate over the step's repetitions, with its 95% confidence interval
    achieved_records_per_sec: Mapped[float | None]
    ci95_low_achieved_records_per_sec: Mapped[float | None]
    ci95_high_achieved_records_per_sec: Mapped[float | None]
    p50_ms: Mapped[float | None]
    ci95_low_p50_ms: Mapped[float | None]
    ci95_high_p50_ms: Mapped[float | None]
    p99_ms: Mapped[float | None]
    ci95_low_p99_ms: Mapped[float | None]
    ci95_high_p99_ms: Mapped[float | None]
    p999_ms: Mapped[float | None]
    ci95_low_p999_ms: Mapped[float | None]
    ci95_high_p999_ms: Mapped[float | None]
    objective_ms: Mapped[float | None]
    ci95_low_objective_ms: Mapped[float | None]
    ci95_high_objective_ms: Mapped[float | None]


class CapacityStepRunRow(Base):
    """Which run measured which repetition of a capacity step (schema 0009)."""

    __tablename__ = "capacity_step_runs"
    __table_args__ = (
        ForeignKeyConstraint(["study_id", "seq"], ["capacity_steps.study_id", "capacity_steps.seq"],
                             ondelete="CASCADE"),
        Index("ix_capacity_step_runs_step", "study_id", "seq", "repetition"),
    )

    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    study_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    repetition: Mapped[int] = mapped_column(Integer)
