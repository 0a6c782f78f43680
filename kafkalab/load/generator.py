"""kafkalab's own load generator (kafkalab/java/loadgen) as the load of a run.

Producer instances follow an open-loop schedule and record, per reporting interval,
HdrHistograms of the latency from the send, from the intended send time (what a client on
that schedule sees) and how far they fell behind it. Consumer instances record the
end-to-end latency of every record. All of them start behind one barrier: they boot, then
get "go" together, consumers first in line, so the producers' first records are read live.

Each instance's output is kept as <topic dir>/<role>-<i>.log (everything it printed) and
<role>-<i>.hlog (HdrHistogram's interval log, for HdrHistogram's own tools).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kafkalab.core.paths import write_atomically
from kafkalab.core.processes import ManagedProcess
from kafkalab.kafka import histograms, loadgen
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.security import Endpoint
from kafkalab.load import barrier
from kafkalab.load.loads import ConsumerLoad, LineSink, ProducerLoad, client_config, consumer_error, producer_error
from kafkalab.model import (
    ConsumerOutcome,
    ConsumerSummary,
    LoadInterval,
    ProducerOutcome,
    ProducerOutput,
    ProducerSummary,
    ProducerWindow,
)

MB = loadgen.MB  # ProducerPerformance's MB, so both tools' MB/s compare


@dataclass(frozen=True)
class Instance:
    role: str  # producer | consumer
    index: int
    client_id: str
    process: ManagedProcess
    sink: barrier.Sink
    group: str | None = None  # consumers: the group they read in

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"


def run(
    dist: KafkaDistribution,
    endpoint: Endpoint,
    producer_load: ProducerLoad,
    instances: int,
    work_dir: Path,
    *,
    consumer_load: ConsumerLoad | None = None,  # consumers alongside the producers
    client_prefix: str,
    on_line: LineSink | None = None,
    on_go: Callable[[], None] | None = None,
) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
    """Producers (and consumers alongside) started together; each one's outcome."""
    jar = loadgen.jar(dist)
    consumers_started: list[Instance] = []
    producers_started: list[Instance] = []
    try:
        if consumer_load is not None:
            _start_consumers(consumers_started, dist, jar, endpoint, consumer_load, work_dir, client_prefix,
                             expected=consumer_load.num_records, on_line=on_line, join_first=True)
        for i in range(instances):
            producers_started.append(_start_producer(dist, jar, endpoint, producer_load, i, work_dir, client_prefix,
                                                     on_line=on_line))
        everyone = consumers_started + producers_started
        barrier.release([(inst.process, inst.sink) for inst in everyone],
                        timeout_s=min(producer_load.timeout_s, barrier.TIMEOUT_S))
        started_at = datetime.now(timezone.utc)
        if on_go is not None:
            on_go()
        released = time.monotonic()
        producers = [_producer_outcome(inst, producer_load, work_dir, started_at, released + producer_load.timeout_s)
                     for inst in producers_started]
        # Consumers end when they have read their count or idled for timeout_ms; a lagging one
        # still reading is waited for, up to its own time limit from the start.
        consumers = [_consumer_outcome(inst, consumer_load, work_dir, started_at, released + consumer_load.timeout_s,
                                       counted=False)  # what the topic holds is known only now
                     for inst in consumers_started]
        return producers, consumers
    finally:
        for inst in consumers_started + producers_started:
            inst.process.stop(grace_s=2)


def run_consumers(
    dist: KafkaDistribution, endpoint: Endpoint, load: ConsumerLoad, work_dir: Path, *, client_prefix: str,
    on_line: LineSink | None = None,
) -> list[ConsumerOutcome]:
    """Consumers after the producers: the backlog read as fast as they can (a drain rate)."""
    jar = loadgen.jar(dist)
    started: list[Instance] = []
    try:
        _start_consumers(started, dist, jar, endpoint, load, work_dir, client_prefix, expected=load.num_records,
                         on_line=on_line)
        barrier.release([(inst.process, inst.sink) for inst in started], timeout_s=barrier.TIMEOUT_S)
        started_at = datetime.now(timezone.utc)
        deadline = time.monotonic() + load.timeout_s
        counted = load.instances == 1 or load.groups == "per-instance"
        return [_consumer_outcome(inst, load, work_dir, started_at, deadline, counted=counted) for inst in started]
    finally:
        for inst in started:
            inst.process.stop(grace_s=2)


# -- starting -------------------------------------------------------------------------


def _start_producer(dist, jar, endpoint, load, i, work_dir, client_prefix, *, on_line) -> Instance:
    client_id = f"{client_prefix}-producer-{i}"
    config = client_config(work_dir / f"producer-{i}.properties", load.props, endpoint, client_id)
    args = loadgen.producer_args(
        topic=load.topic, config_file=config, num_records=load.num_records, record_size=load.record_size,
        rate=None if load.throughput == -1 else load.throughput, reporting_interval_ms=load.reporting_interval_ms,
        keys=load.keys, payload_file=Path(load.payload_file) if load.payload_file else None,
        max_bytes=load.max_bytes, barrier=True,
        raw_latencies=work_dir / f"producer-{i}.latencies" if load.dump_latencies else None,
    )
    return _start(dist, jar, "producer", i, client_id, args, load.heap_mb, work_dir, on_line)


def _start_consumers(started: list[Instance], dist, jar, endpoint, load, work_dir, client_prefix, *, expected,
                     on_line, join_first: bool = False) -> None:
    """Start the consumer instances, each added to `started` at once (the caller stops them all)."""
    for i in range(load.instances):
        client_id = f"{client_prefix}-consumer-{i}"
        group = load.group if load.groups == "shared" else f"{load.group}-{i}"
        config = client_config(work_dir / f"consumer-{i}.properties", load.props, endpoint, client_id)
        # One reader, or each in its own group, reads everything: it knows when it is done.
        # Instances sharing a group split the records and stop when nothing more comes.
        knows_its_count = load.instances == 1 or load.groups == "per-instance"
        args = loadgen.consumer_args(
            topic=load.topic, config_file=config, group=group, num_records=expected if knows_its_count else None,
            idle_timeout_ms=load.timeout_ms, reporting_interval_ms=load.reporting_interval_ms,
            share=load.share_group, acknowledge_mode=load.acknowledge_mode if load.share_group else None,
            barrier=True, raw_latencies=work_dir / f"consumer-{i}.latencies" if load.dump_latencies else None,
            join_first=join_first,
        )
        started.append(dataclasses.replace(_start(dist, jar, "consumer", i, client_id, args, load.heap_mb, work_dir,
                                                  on_line), group=group))


def _start(dist, jar, role, i, client_id, args, heap_mb, work_dir, on_line) -> Instance:
    name = f"{role}-{i}"
    cmd = dist.java_command(loadgen.MAIN, args, heap_mb=heap_mb, extra_classpath=[jar])
    sink = barrier.Sink(_log_lines(name, on_line))
    proc = ManagedProcess(name, cmd, work_dir / f"{name}.log", on_line=sink, stdin_pipe=True)
    return Instance(role, i, client_id, proc, sink)


def _log_lines(source: str, on_line: LineSink | None) -> Callable[[str], None] | None:
    """The task log gets a readable line per interval, not the histograms' base64."""
    if on_line is None:
        return None

    def forward(line: str) -> None:
        shown = loadgen.log_line(line)
        if shown:
            on_line(source, shown)

    return forward


# -- outcomes -------------------------------------------------------------------------


def _wait(inst: Instance, deadline: float, timeout_s: float) -> tuple[int | None, str | None]:
    try:
        return inst.process.wait(timeout=max(0.0, deadline - time.monotonic())), None
    except TimeoutError:
        return None, f"still running after {timeout_s:.0f}s, stopped"


def load_intervals(output: loadgen.Output) -> list[LoadInterval]:
    """The generator's parsed intervals as the model's, on every platform."""
    return [
        LoadInterval(seq=i.seq, start_ms=i.start_ms, end_ms=i.end_ms, sent=i.sent, acked=i.acked, failed=i.failed,
                     received=i.received, bytes=i.bytes, histograms=dict(i.histograms),
                     client_metrics=dict(i.client_metrics))
        for i in output.intervals
    ]


def _keep_histogram_log(work_dir: Path, name: str, output: loadgen.Output) -> None:
    if output.histogram_log:
        with contextlib.suppress(OSError):  # a copy for HdrHistogram's tools; the database has the data
            write_atomically(work_dir / f"{name}.hlog", output.histogram_log)


def _producer_outcome(inst: Instance, load: ProducerLoad, work_dir: Path, started_at: datetime, deadline: float) -> ProducerOutcome:
    exit_code, error = _wait(inst, deadline, load.timeout_s)
    raw = inst.process.output()
    parsed = loadgen.parse_output(raw)
    _keep_histogram_log(work_dir, inst.name, parsed)
    intervals = load_intervals(parsed)
    output = producer_output(intervals, parsed.summary)
    if error is None:
        error = producer_error(exit_code, output, load, raw, stopped_by=parsed.summary.stopped_by
                               if parsed.summary else None)
    return ProducerOutcome(
        instance=inst.index, client_id=inst.client_id, status="failed" if error else "ok",
        records_requested=load.num_records, exit_code=exit_code, output=output, raw_output=raw,
        started_at=started_at, finished_at=datetime.now(timezone.utc), error=error, tool="kafkalab",
        intervals=intervals, stopped_by=parsed.summary.stopped_by if parsed.summary else None,
    )


def _consumer_outcome(inst: Instance, load: ConsumerLoad, work_dir: Path, started_at: datetime, deadline: float, *,
                      counted: bool) -> ConsumerOutcome:
    exit_code, error = _wait(inst, deadline, load.timeout_s)
    raw = inst.process.output()
    parsed = loadgen.parse_output(raw)
    _keep_histogram_log(work_dir, inst.name, parsed)
    summary = consumer_summary(parsed.summary)
    if error is None:
        error = consumer_error(exit_code, summary, load, raw, counted=counted)
    return ConsumerOutcome(
        status="failed" if error else "ok", messages_requested=load.num_records, exit_code=exit_code,
        summary=summary, raw_output=raw, started_at=started_at, finished_at=datetime.now(timezone.utc), error=error,
        instance=inst.index, tool="kafkalab", group=inst.group, intervals=load_intervals(parsed),
    )


def producer_output(intervals: list[LoadInterval], summary: loadgen.Summary | None) -> ProducerOutput:
    """The generator's intervals as ProducerPerformance's windows and summary line, so that
    both tools' instances fill the same columns (send latency: ProducerPerformance's kind)."""
    windows = []
    for interval in intervals:
        seconds = max(interval.end_ms - interval.start_ms, 1) / 1000
        send = histograms.summarize("send", histograms.merge([interval.histograms.get("send", "")]))
        windows.append(ProducerWindow(
            seq=interval.seq, records=interval.acked, records_per_sec=interval.acked / seconds,
            mb_per_sec=interval.bytes / MB / seconds, avg_latency_ms=send.mean_ms if send else 0.0,
            max_latency_ms=send.max_ms if send else 0.0,
        ))
    if summary is None or summary.start_ms is None or summary.end_ms is None:
        return ProducerOutput(windows=windows, summary=None)
    seconds = max(summary.end_ms - summary.start_ms, 1) / 1000
    merged = histograms.merge(i.histograms.get("send", "") for i in intervals)
    send = histograms.summarize("send", merged)
    if send is None:  # nothing acknowledged: no latency to state
        return ProducerOutput(windows=windows, summary=None)
    return ProducerOutput(windows=windows, summary=ProducerSummary(
        records=summary.acked, records_per_sec=summary.acked / seconds, mb_per_sec=summary.bytes / MB / seconds,
        avg_latency_ms=send.mean_ms, max_latency_ms=send.max_ms, p50_ms=send.p50_ms,
        p95_ms=merged.get_value_at_percentile(95.0) / 1000, p99_ms=send.p99_ms, p999_ms=send.p999_ms,
    ))


def consumer_summary(summary: loadgen.Summary | None) -> ConsumerSummary | None:
    """The generator's consumer summary in ConsumerPerformance's columns."""
    if summary is None or summary.start_ms is None or summary.end_ms is None:
        return None
    seconds = max(summary.end_ms - summary.start_ms, 1) / 1000
    mb = summary.bytes / MB
    rebalance_ms = summary.rebalance_ms  # None: a share group tells no assignment
    return ConsumerSummary(
        start_time=_iso(summary.start_ms), end_time=_iso(summary.end_ms), mb=mb, mb_per_sec=mb / seconds,
        messages=summary.received, msgs_per_sec=summary.received / seconds, rebalance_ms=rebalance_ms,
        fetch_ms=seconds * 1000, fetch_mb_per_sec=mb / seconds, fetch_msgs_per_sec=summary.received / seconds,
    )


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc).isoformat(timespec="milliseconds")
