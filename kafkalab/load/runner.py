"""The load: N ProducerPerformance instances in parallel, then ConsumerPerformance (Step 6).

Each instance gets its own client id and its own properties file (mode 0600, so client
settings, credentials included, never appear on a command line), writes its output to the
run directory, and streams its lines to `on_line` as they come. An instance that exits
non-zero, prints no summary, or sends fewer records than asked is a failed instance with
its output kept: never a silent zero.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import WaitTimeout, wait_until
from kafkalab.kafka import perftools
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import Endpoint, endpoint_of
from kafkalab.model import ConsumerOutcome, ConsumerSummary, ProducerOutcome, ProducerOutput

LineSink = Callable[[str, str], None]  # (source, line), e.g. ("producer-2", "5000 records sent, ...")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ProducerLoad:
    """What every producer instance of a run is asked to do."""

    topic: str
    num_records: int
    record_size: int
    throughput: float
    props: dict[str, str]
    heap_mb: int = 256
    reporting_interval_ms: int = 5000
    timeout_s: float = 1800
    # With broker faults in the run, sends the client gave up on (its retries spent while
    # leadership moved) are the availability finding, not a failed instance.
    unacknowledged_ok: bool = False


@dataclass(frozen=True)
class ConsumerLoad:
    topic: str
    num_records: int
    timeout_ms: int
    props: dict[str, str]
    heap_mb: int = 256
    timeout_s: float = 1800


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
    barrier = dist.start_barrier()
    commands: list[tuple[int, str, list[str]]] = []
    for i in range(instances):
        client_id = f"{client_prefix}-producer-{i}"
        config = write_properties(
            work_dir / f"producer-{i}.properties",
            {**load.props, **endpoint.security.java_properties(), "bootstrap.servers": endpoint.servers,
             "client.id": client_id},
        )
        args = perftools.producer_args(
            topic=load.topic, num_records=load.num_records, record_size=load.record_size,
            throughput=load.throughput, config_file=config, reporting_interval_ms=load.reporting_interval_ms,
        )
        if barrier is not None:
            cmd = dist.java_command(BARRIER_MAIN, [perftools.PRODUCER_MAIN, *args], heap_mb=load.heap_mb,
                                    extra_classpath=[barrier], class_archive="tools")
        else:
            cmd = dist.java_command(perftools.PRODUCER_MAIN, args, heap_mb=load.heap_mb, class_archive="tools")
        commands.append((i, client_id, cmd))

    started: list[tuple[int, str, ManagedProcess]] = []
    ready = [threading.Event() for _ in commands]
    try:
        for i, client_id, cmd in commands:
            sink = _barrier_sink(f"producer-{i}", ready[i], on_line)
            proc = ManagedProcess(f"producer-{i}", cmd, work_dir / f"producer-{i}.log", on_line=sink,
                                  stdin_pipe=barrier is not None)
            started.append((i, client_id, proc))
        deadline = time.monotonic() + load.timeout_s
        if barrier is not None:
            _release(started, ready, timeout_s=min(load.timeout_s, BARRIER_TIMEOUT_S))
        started_at = _now()
        if on_go is not None:
            on_go()
        return [_producer_outcome(i, client_id, proc, started_at, load, deadline) for i, client_id, proc in started]
    finally:
        for _, _, proc in started:
            proc.stop(grace_s=2)


BARRIER_MAIN = "StartBarrier"
BARRIER_LINE = "kafkalab-barrier: ready"
BARRIER_TIMEOUT_S = 180  # JVM start-up of many instances on a small machine


def _barrier_sink(source: str, ready: threading.Event, on_line: LineSink | None) -> Callable[[str], None]:
    def sink(line: str) -> None:
        if line == BARRIER_LINE:
            ready.set()
            return
        if on_line:
            on_line(source, line)

    return sink


def _release(started: list[tuple[int, str, ManagedProcess]], ready: list[threading.Event], *, timeout_s: float) -> None:
    """Wait until every instance is at the barrier (or has died), then let all go at once."""

    def all_at_barrier() -> bool:
        return all(event.is_set() or proc.poll() is not None for (_, _, proc), event in zip(started, ready))

    with contextlib.suppress(WaitTimeout):  # one hangs: its outcome will say so; the others still run
        wait_until(all_at_barrier, timeout_s, "every producer instance at the start barrier", interval=0.05)
    for _, _, proc in started:
        proc.send("go")


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


def producer_error(exit_code: int | None, output: ProducerOutput, load: ProducerLoad, raw: str) -> str | None:
    """Why a finished producer instance failed (None: it did what it was asked), on every platform."""
    requested = load.num_records
    hint = perftools.first_error_line(raw)
    if exit_code != 0:
        return f"exited with code {exit_code}" + (f": {hint}" if hint else "")
    if output.summary is None:
        return "printed no summary line" + (f": {hint}" if hint else "")
    if output.summary.records < requested and not load.unacknowledged_ok:
        return f"acknowledged {output.summary.records} of {requested} records" + (f": {hint}" if hint else "")
    return None


def consumer_error(exit_code: int | None, summary: ConsumerSummary | None, load: ConsumerLoad, raw: str) -> str | None:
    """Why a finished consumer test failed (None: it read what it was asked to), on every platform."""
    hint = perftools.first_error_line(raw)
    if exit_code != 0:
        return f"exited with code {exit_code}" + (f": {hint}" if hint else "")
    if summary is None:
        return "printed no result" + (f": {hint}" if hint else "")
    if summary.messages < load.num_records:
        return f"consumed {summary.messages} of {load.num_records} records before its {load.timeout_ms} ms timeout"
    return None


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
