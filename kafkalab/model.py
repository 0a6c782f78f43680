"""What a run measures: plain records handed from the perf tools to the store.

These are the engine's vocabulary for results. Parsers produce them, the runner collects
them into a RunRecord, the store writes them; nothing here knows about Prefect or SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["ok", "failed", "cancelled"]


@dataclass(frozen=True)
class ProducerWindow:
    """One periodic progress line of ProducerPerformance (every reporting interval)."""

    seq: int
    records: int
    records_per_sec: float
    mb_per_sec: float
    avg_latency_ms: float
    max_latency_ms: float


@dataclass(frozen=True)
class ProducerSummary:
    """The final line of ProducerPerformance ("... ms 99.9th.")."""

    records: int
    records_per_sec: float
    mb_per_sec: float
    avg_latency_ms: float
    max_latency_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    steady_state: bool = False


@dataclass(frozen=True)
class ConsumerSummary:
    """The result columns of ConsumerPerformance."""

    start_time: str
    end_time: str
    mb: float
    mb_per_sec: float
    messages: int
    msgs_per_sec: float
    rebalance_ms: float | None  # None: not told (a share group has no assignment)
    fetch_ms: float
    fetch_mb_per_sec: float
    fetch_msgs_per_sec: float


@dataclass(frozen=True)
class ProducerOutput:
    """Everything one ProducerPerformance output holds, parsed."""

    windows: list[ProducerWindow]
    summary: ProducerSummary | None
    steady_state: ProducerSummary | None = None


@dataclass(frozen=True)
class LoadInterval:
    """One reporting interval of a kafkalab load-generator instance (kafkalab.kafka.loadgen).

    Times are epoch milliseconds on the clock of the machine that ran the instance. The
    histograms are HdrHistogram's compressed encoding (base64, "HISTFAAA..."), in
    microseconds, by kind: send, corrected, schedule_delay (producers), end_to_end (consumers).
    """

    seq: int
    start_ms: int
    end_ms: int
    sent: int = 0
    acked: int = 0
    failed: int = 0
    received: int = 0
    bytes: int = 0
    histograms: dict[str, str] = field(default_factory=dict)
    # The client's own metrics at the interval's end (kafkalab.metrics.names, client section);
    # None: the client had no value for it yet.
    client_metrics: dict[str, float | None] = field(default_factory=dict)


@dataclass
class ProducerOutcome:
    """One producer instance: what it was asked, what it printed, what it measured."""

    instance: int
    client_id: str
    status: Status
    records_requested: int
    exit_code: int | None
    output: ProducerOutput
    raw_output: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    tool: str = "kafka-perf"  # kafka-perf (ProducerPerformance) | kafkalab (the load generator)
    intervals: list[LoadInterval] = field(default_factory=list)  # kafkalab only
    stopped_by: str | None = None  # kafkalab: records | bytes (the byte budget) | duration


@dataclass
class ConsumerOutcome:
    status: Status
    messages_requested: int
    exit_code: int | None
    summary: ConsumerSummary | None
    raw_output: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    instance: int = 0
    tool: str = "kafka-perf"  # kafka-perf (ConsumerPerformance, after the producers) | kafkalab
    group: str | None = None
    intervals: list[LoadInterval] = field(default_factory=list)  # kafkalab only


@dataclass(frozen=True)
class LatencySummary:
    """One kind of latency of a run, merged from every instance's histograms over the window."""

    kind: str  # send | corrected | schedule_delay | end_to_end
    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    p9999_ms: float
    max_ms: float


@dataclass(frozen=True)
class RunFigures:
    """A run's figures over one stated window (kafkalab.results.figures): throughput while every
    producer instance measured, after the warm-up; latency merged from the histograms; and
    whether the run kept its target rate."""

    warmup_s: float | None
    window_start: datetime | None
    window_end: datetime | None
    window_records: int | None
    window_bytes: int | None
    target_records_per_sec: float | None  # all instances together; None when unthrottled
    achieved_records_per_sec: float | None
    saturated: bool | None
    saturation_reason: str | None
    latency: list[LatencySummary] = field(default_factory=list)

    @property
    def window_s(self) -> float | None:
        if self.window_start is None or self.window_end is None:
            return None
        return (self.window_end - self.window_start).total_seconds()


@dataclass
class StepTiming:
    step: str
    started_at: datetime
    finished_at: datetime

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass
class FaultEvent:
    """One injected broker fault (kafkalab.platforms.faults): what was planned, what happened, when.

    Offsets are seconds from the producers' common start ("go"); None when it did not happen.
    outcome: restarted (came back and registered), down (stayed down for the run, as asked),
    skipped (the producers finished before at_s), failed (see error).
    """

    seq: int
    action: str  # kill | stop
    broker: int
    planned_at_s: float
    planned_restart_after_s: float | None
    outcome: str = "skipped"
    at_s: float | None = None
    down_at: datetime | None = None
    restarted_at_s: float | None = None
    ready_at_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class MetricSample:
    """One sampled value of a run's metrics series (kafkalab.metrics.names has the names).

    `source` says what was measured: "broker-1" (its JMX), "host" (the whole machine),
    "cpu0" (one core), "disk:sda", "net:eth0", "process:broker-1", "process:loadgen-0",
    "producer-0" / "consumer-1" (the load generator's client metrics). `value` None means
    the source did not answer for that sample: missing, never zero.
    """

    source: str
    metric: str
    at: datetime
    value: float | None


@dataclass
class RunMetrics:
    """What the samplers saw during one run (kafkalab.metrics): broker JMX, host and process
    CPU, the generator's client metrics; and what they could not see, said in words."""

    interval_s: float
    started_at: datetime | None = None  # when sampling began: the origin of the views' seconds_from_start
    broker: list[MetricSample] = field(default_factory=list)
    host: list[MetricSample] = field(default_factory=list)
    client: list[MetricSample] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # e.g. "broker-2: JMX did not answer (connection refused)"


@dataclass(frozen=True)
class Evidence:
    """Why a bottleneck verdict was given: which figure crossed which threshold, and when."""

    figure: str  # e.g. "broker-1 request_handler_idle_pct"
    value: float
    threshold: float
    comparison: str  # "<" | ">" | ">=" ...
    at: datetime | None = None  # the first sample that crossed it; None for a whole-run figure


@dataclass(frozen=True)
class Verdict:
    """Where a run's limit was (kafkalab.metrics.bottleneck has the rules, docs/measuring.md
    says them): generator-bound, broker-cpu-bound, network-threads-bound, disk-bound,
    replication-bound, machine-bound, none, unknown."""

    bottleneck: str
    evidence: list[Evidence] = field(default_factory=list)
    summary: str = ""  # one line for the CLI and the artifact


@dataclass
class RunRecord:
    """One repetition of an experiment on one cluster: the unit stored as a row of `runs`."""

    experiment: str
    spec: dict[str, Any]
    repetition: int
    platform: str
    kafka_version: str
    brokers: int
    topic: str
    partitions: int
    replication_factor: int
    record_size: int
    num_records: int
    throughput: float
    producer_instances: int
    producer_props: dict[str, str]
    consumer_props: dict[str, str]
    broker_config: dict[str, str]
    topic_config: dict[str, str]
    started_at: datetime
    status: Status = "ok"
    finished_at: datetime | None = None
    error: str | None = None
    flow_run_id: str | None = None
    run_dir: str | None = None
    records_in_topic: int | None = None
    # Integrity (kafkalab.results.integrity): what the producers report acknowledged against what the
    # topic holds (end offsets, or records read back when the spec asks `consume`).
    integrity_check: str | None = None  # end_offsets | consume
    records_acknowledged: int | None = None
    records_consumed: int | None = None
    records_lost: int | None = None
    fault_events: list[FaultEvent] = field(default_factory=list)
    profile: str | None = None
    attempt: int = 1
    # Sweep runs: the sweep, the cell (its index in the plan and its axis values), and how
    # the cluster got there ("fresh", "scaled from 3", "scaled from 3, reassigned").
    sweep_id: int | None = None
    cell_index: int | None = None
    cell: dict[str, Any] | None = None
    cluster_origin: str | None = None
    # Where the numbers come from: "measured" by kafkalab, or "reference" (published results
    # loaded by kafkalab.reference, with the hardware they were measured on and a stable key).
    source: Literal["measured", "reference"] = "measured"
    hardware: dict[str, Any] | None = None
    reference_key: str | None = None
    producers: list[ProducerOutcome] = field(default_factory=list)
    consumers: list[ConsumerOutcome] = field(default_factory=list)
    figures: RunFigures | None = None
    # Where the limit was: the series sampled during the run, the machine and settings it ran
    # with (JSON, kafkalab.metrics.fingerprint) and the bottleneck verdict (kafkalab.metrics.bottleneck).
    metrics: RunMetrics | None = None
    fingerprint: dict[str, Any] | None = None
    verdict: Verdict | None = None
    steps: list[StepTiming] = field(default_factory=list)
    # Set when the engine records the run; the store keeps one row per key, so a run
    # loaded again (from a spool file, kafkalab.results.spool) is not stored twice.
    run_key: str = field(default_factory=lambda: str(uuid.uuid4()))
