"""What each load instance is asked to do, and when a finished one counts as failed, for
every tool and platform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kafkalab.kafka import perftools
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import Endpoint
from kafkalab.model import ConsumerSummary, ProducerOutput

LineSink = Callable[[str, str], None]  # (source, line), e.g. ("producer-2", "5000 records sent, ...")


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
    tool: str = "kafka-perf"  # kafka-perf | kafkalab
    keys: str = "none"  # kafkalab: none | random:N | fixed:KEY
    payload_file: str | None = None
    max_bytes: int | None = None  # per instance: it stops sending there (the run's byte budget, shared)
    dump_latencies: bool = False  # kafkalab, test mode: every record's latencies to <instance>.latencies


@dataclass(frozen=True)
class ConsumerLoad:
    topic: str
    num_records: int
    timeout_ms: int
    props: dict[str, str]
    heap_mb: int = 256
    timeout_s: float = 1800
    tool: str = "kafka-perf"  # kafka-perf: ConsumerPerformance, after the producers | kafkalab
    group: str = "kafkalab-consumer"
    instances: int = 1
    groups: str = "shared"  # shared: one group | per-instance: a group each
    share_group: bool = False
    acknowledge_mode: str = "implicit"
    reporting_interval_ms: int = 5000
    dump_latencies: bool = False


def client_config(path: Path, props: dict[str, str], endpoint: Endpoint, client_id: str) -> Path:
    """One load instance's client properties file (mode 0600): the spec's settings, the
    endpoint's security, its bootstrap servers and the instance's own client id."""
    return write_properties(path, {**props, **endpoint.security.java_properties(),
                                   "bootstrap.servers": endpoint.servers, "client.id": client_id})


def producer_error(exit_code: int | None, output: ProducerOutput, load: ProducerLoad, raw: str, *,
                   stopped_by: str | None = None) -> str | None:
    """Why a finished producer instance failed (None: it did what it was asked), on every platform.

    An instance the byte budget stopped (`stopped_by` bytes) did what it was asked.
    """
    requested = load.num_records
    hint = perftools.first_error_line(raw)
    if exit_code != 0:
        return f"exited with code {exit_code}" + (f": {hint}" if hint else "")
    if output.summary is None:
        return "printed no summary line" + (f": {hint}" if hint else "")
    if stopped_by == "bytes":
        return None
    if output.summary.records < requested and not load.unacknowledged_ok:
        return f"acknowledged {output.summary.records} of {requested} records" + (f": {hint}" if hint else "")
    return None


def consumer_error(exit_code: int | None, summary: ConsumerSummary | None, load: ConsumerLoad, raw: str, *,
                   counted: bool = True) -> str | None:
    """Why a finished consumer test failed (None: it read what it was asked to), on every platform.

    `counted` False: the instance had no count of its own to reach (it shares a group, or read
    while the producers wrote); kafkalab.experiment.steps.check_consumers judges the group
    against what the topic holds.
    """
    hint = perftools.first_error_line(raw)
    if exit_code != 0:
        return f"exited with code {exit_code}" + (f": {hint}" if hint else "")
    if summary is None:
        return "printed no result" + (f": {hint}" if hint else "")
    if counted and summary.messages < load.num_records:
        return f"consumed {summary.messages} of {load.num_records} records before its {load.timeout_ms} ms timeout"
    return None
