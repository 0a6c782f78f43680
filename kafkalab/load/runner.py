"""The load (Step 6): N producer instances in parallel, and the consumers, with either tool.

`kafkalab` runs kafkalab's load generator (kafkalab.load.generator): histograms, latency
from the intended send time, consumers alongside the producers. `kafka-perf` runs Kafka's
ProducerPerformance instances, then ConsumerPerformance, exactly as the guide did.

Each instance gets its own client id and its own properties file (mode 0600, so client
settings, credentials included, never appear on a command line), writes its output to the
run directory, and streams its lines to `on_line` as they come. An instance that exits
non-zero, prints no summary, or sends fewer records than asked is a failed instance with
its output kept: never a silent zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from kafkalab.core.processes import ManagedProcess
from kafkalab.kafka import perftools
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import Endpoint, endpoint_of
from kafkalab.load import barrier, generator
from kafkalab.load.loads import ConsumerLoad, LineSink, ProducerLoad, client_config, consumer_error, producer_error
from kafkalab.model import ConsumerOutcome, ProducerOutcome

__all__ = ["ConsumerLoad", "LineSink", "ProducerLoad", "consumer_error", "producer_error", "run_consumer",
           "run_consumers", "run_load", "run_producers"]


def _now() -> datetime:
    return datetime.now(timezone.utc)

def run_load(
    dist: KafkaDistribution,
    endpoint: Endpoint | str,
    load: ProducerLoad,
    instances: int,
    work_dir: Path,
    *,
    alongside: ConsumerLoad | None = None,
    client_prefix: str,
    on_line: LineSink | None = None,
    on_go: Callable[[], None] | None = None,
) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
    """The producer instances of `load.tool`, with `alongside` consumers reading as they write
    (kafkalab's generator only); (producer outcomes, consumer outcomes)."""
    endpoint = endpoint_of(endpoint)
    work_dir.mkdir(parents=True, exist_ok=True)
    if load.tool == "kafkalab":
        return generator.run(dist, endpoint, load, instances, work_dir, consumer_load=alongside,
                             client_prefix=client_prefix, on_line=on_line, on_go=on_go)
    if alongside is not None:
        raise ValueError("ProducerPerformance runs no consumers alongside; consumers run after it")
    return run_producers(dist, endpoint, load, instances, work_dir, client_prefix=client_prefix, on_line=on_line,
                         on_go=on_go), []


def run_consumers(
    dist: KafkaDistribution, endpoint: Endpoint | str, load: ConsumerLoad, work_dir: Path, *,
    on_line: LineSink | None = None,
) -> list[ConsumerOutcome]:
    """The consumers after the producers: ConsumerPerformance, or the generator's instances."""
    endpoint = endpoint_of(endpoint)
    work_dir.mkdir(parents=True, exist_ok=True)
    if load.tool == "kafkalab":
        return generator.run_consumers(dist, endpoint, load, work_dir, client_prefix=f"kafkalab-{load.topic}",
                                       on_line=on_line)
    return [run_consumer(dist, endpoint, load, work_dir, group=load.group, on_line=on_line)]


def run_producers(
    dist: KafkaDistribution,
    endpoint: Endpoint | str,
    load: ProducerLoad,
    instances: int,
    work_dir: Path,
    *,
    client_prefix: str,
    on_line: LineSink | None = None,
    on_go: Callable[[], None] | None = None,
) -> list[ProducerOutcome]:
    """Start `instances` producers together, wait for all, return each one's outcome.

    `on_go` is called the moment the instances are told to start (the clock of spec faults).

    With a JDK at hand every instance starts behind a barrier (kafkalab/java/StartBarrier.java):
    all JVMs boot and load the tool first, then get "go" at the same moment, so their
    measurement windows overlap as the guide's parallel producers do.
    """
    endpoint = endpoint_of(endpoint)
    work_dir.mkdir(parents=True, exist_ok=True)
    barrier_dir = dist.start_barrier()
    commands: list[tuple[int, str, list[str]]] = []
    for i in range(instances):
        client_id = f"{client_prefix}-producer-{i}"
        config = client_config(work_dir / f"producer-{i}.properties", load.props, endpoint, client_id)
        args = perftools.producer_args(
            topic=load.topic, num_records=load.num_records, record_size=load.record_size,
            throughput=load.throughput, config_file=config, reporting_interval_ms=load.reporting_interval_ms,
        )
        if barrier_dir is not None:
            cmd = dist.java_command(BARRIER_MAIN, [perftools.PRODUCER_MAIN, *args], heap_mb=load.heap_mb,
                                    extra_classpath=[barrier_dir], class_archive="tools")
        else:
            cmd = dist.java_command(perftools.PRODUCER_MAIN, args, heap_mb=load.heap_mb, class_archive="tools")
        commands.append((i, client_id, cmd))

    started: list[tuple[int, str, ManagedProcess]] = []
    sinks: list[barrier.Sink] = []
    try:
        for i, client_id, cmd in commands:
            sink = barrier.Sink(_source_lines(f"producer-{i}", on_line))
            proc = ManagedProcess(f"producer-{i}", cmd, work_dir / f"producer-{i}.log", on_line=sink,
                                  stdin_pipe=barrier_dir is not None)
            started.append((i, client_id, proc))
            sinks.append(sink)
        deadline = time.monotonic() + load.timeout_s
        if barrier_dir is not None:
            barrier.release([(proc, sink) for (_, _, proc), sink in zip(started, sinks)],
                            timeout_s=min(load.timeout_s, barrier.TIMEOUT_S))
        started_at = _now()
        if on_go is not None:
            on_go()
        return [_producer_outcome(i, client_id, proc, started_at, load, deadline) for i, client_id, proc in started]
    finally:
        for _, _, proc in started:
            proc.stop(grace_s=2)


BARRIER_MAIN = "StartBarrier"


def _source_lines(source: str, on_line: LineSink | None) -> Callable[[str], None] | None:
    return (lambda line: on_line(source, line)) if on_line else None


def _producer_outcome(
    instance: int, client_id: str, proc: ManagedProcess, started_at: datetime, load: ProducerLoad, deadline: float
) -> ProducerOutcome:
    error: str | None = None
    exit_code: int | None
    try:
        exit_code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        exit_code, error = None, f"still running after {load.timeout_s:.0f}s, stopped"
    finished_at = _now()
    raw = proc.output()
    output = perftools.parse_producer_output(raw)
    if error is None:
        error = producer_error(exit_code, output, load, raw)
    return ProducerOutcome(
        instance=instance, client_id=client_id, status="failed" if error else "ok",
        records_requested=load.num_records, exit_code=exit_code, output=output, raw_output=raw,
        started_at=started_at, finished_at=finished_at, error=error,
    )


def run_consumer(
    dist: KafkaDistribution,
    endpoint: Endpoint | str,
    load: ConsumerLoad,
    work_dir: Path,
    *,
    group: str,
    on_line: LineSink | None = None,
) -> ConsumerOutcome:
    """ConsumerPerformance over the topic; failed if it read fewer records than asked."""
    endpoint = endpoint_of(endpoint)
    work_dir.mkdir(parents=True, exist_ok=True)
    config = write_properties(work_dir / "consumer.properties", {**load.props, **endpoint.security.java_properties()})
    args = perftools.consumer_args(
        bootstrap_servers=endpoint.servers, topic=load.topic, num_records=load.num_records,
        timeout_ms=load.timeout_ms, config_file=config, group=group,
    )
    cmd = dist.java_command(perftools.CONSUMER_MAIN, args, heap_mb=load.heap_mb, class_archive="tools")
    sink = (lambda line: on_line("consumer", line)) if on_line else None
    started_at = _now()
    proc = ManagedProcess("consumer", cmd, work_dir / "consumer.log", on_line=sink)
    error: str | None = None
    try:
        exit_code: int | None = proc.wait(timeout=load.timeout_s)
    except TimeoutError:
        exit_code, error = None, f"still running after {load.timeout_s:.0f}s, stopped"
    finally:
        proc.stop(grace_s=2)
    raw = proc.output()
    summary = perftools.parse_consumer_output(raw)
    if error is None:
        error = consumer_error(exit_code, summary, load, raw)
    return ConsumerOutcome(
        status="failed" if error else "ok", messages_requested=load.num_records, exit_code=exit_code,
        summary=summary, raw_output=raw, started_at=started_at, finished_at=_now(), error=error,
    )
