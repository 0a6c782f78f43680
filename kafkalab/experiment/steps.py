"""The steps of one experiment, as plain functions the Prefect tasks wrap.

The order is the guide's: install the framework (Step 1), wait until every broker is
registered, the endpoints (Step 3), a smoke test (Step 5), then per repetition a fresh
topic (Step 2), the producer fan-out and the consumer test (Step 6), and what the topic
holds afterwards. Each function does one step and returns what the next one needs, on any
platform: the cluster is a kafkalab.platforms.Cluster, and no step asks which one it holds.
The steps that are one call of the interface (deploy, endpoints, topic, smoke test, end
offsets, scaling down, reassignment) the Prefect tasks make themselves.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from kafkalab.core.paths import runs_dir
from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad
from kafkalab.model import ConsumerOutcome, ProducerOutcome, RunRecord
from kafkalab.platforms import Cluster
from kafkalab.platforms.faults import FaultInjector
from kafkalab.results.integrity import Integrity, acknowledged, consume_count
from kafkalab.spec import ExperimentSpec, spec_to_dict
from kafkalab.spec.faults import fault_warnings

Progress = Callable[[str], None]


def new_run_dir(name: str) -> Path:
    """A fresh directory for one cluster's configs, data, logs and tool output."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = runs_dir() / f"{stamp}-{name}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def producer_load(spec: ExperimentSpec, topic: str) -> ProducerLoad:
    p = spec.producer
    return ProducerLoad(
        topic=topic, num_records=p.num_records, record_size=p.record_size, throughput=p.throughput,
        props=dict(p.props), heap_mb=p.heap_mb, reporting_interval_ms=p.reporting_interval_ms, timeout_s=p.timeout_s,
        unacknowledged_ok=bool(spec.faults),
    )


def fault_injector(spec: ExperimentSpec, cluster: Cluster, *, on_progress: Progress) -> FaultInjector | None:
    """The spec's broker faults for one run (None without `faults:`); says first what they will do."""
    if not spec.faults:
        return None
    for warning in fault_warnings(spec):
        on_progress(f"WARNING {warning}")
    return FaultInjector(cluster, spec.faults, ready_timeout_s=spec.cluster.ready_timeout_s, on_progress=on_progress)


def producer_fanout(
    spec: ExperimentSpec, cluster: Cluster, topic: str, *, on_line: LineSink | None = None,
    faults: FaultInjector | None = None,
) -> list[ProducerOutcome]:
    """Step 6: the producer instances in parallel against the topic; output kept in <run dir>/<topic>/.

    With `faults`, its clock starts when the instances get "go"; they are settled when the
    producers end (see kafkalab.platforms.faults).
    """
    if faults is not None:
        with faults.around_producers():
            return _run_producers(spec, cluster, topic, on_line=on_line, on_go=faults.start)
    return _run_producers(spec, cluster, topic, on_line=on_line)


def _run_producers(spec: ExperimentSpec, cluster: Cluster, topic: str, **kwargs) -> list[ProducerOutcome]:
    return cluster.run_producers(producer_load(spec, topic), spec.producer.instances, client_prefix=f"kafkalab-{topic}",
                                 spread=spec.producer.spread, **kwargs)


def consumer_test(
    spec: ExperimentSpec, cluster: Cluster, topic: str, records_held: int, *, on_line: LineSink | None = None
) -> ConsumerOutcome:
    """Step 6, consumer side: read back what the topic holds (or the spec's count)."""
    c = spec.consumer
    load = ConsumerLoad(
        topic=topic, num_records=c.num_records or max(1, records_held), timeout_ms=c.timeout_ms,
        props=dict(c.props), heap_mb=c.heap_mb, timeout_s=c.timeout_s,
    )
    return cluster.run_consumer(load, group=f"kafkalab-{topic}-consumer", on_line=on_line)


def integrity(
    spec: ExperimentSpec, cluster: Cluster, topic: str, producers: list[ProducerOutcome], in_topic: int | None
) -> Integrity:
    """Acknowledged records against what the topic holds (end offsets, or read back when asked)."""
    consumed = None
    if spec.integrity.verify == "consume":
        consumed = consume_count(cluster.endpoint, topic, timeout_s=spec.integrity.timeout_s)
    return Integrity(spec.integrity.verify, acknowledged(producers), in_topic, consumed)


def new_run_record(spec: ExperimentSpec, cluster: Cluster, repetition: int, topic: str) -> RunRecord:
    """The run's row before its results: every setting it ran with."""
    return RunRecord(
        experiment=spec.name, spec=spec_to_dict(spec), repetition=repetition, platform=cluster.platform,
        kafka_version=cluster.dist.version, brokers=len(cluster.brokers), topic=topic,
        partitions=spec.topic.partitions, replication_factor=spec.topic.replication_factor,
        record_size=spec.producer.record_size, num_records=spec.producer.num_records,
        throughput=spec.producer.throughput, producer_instances=spec.producer.instances,
        producer_props=dict(spec.producer.props), consumer_props=dict(spec.consumer.props),
        broker_config=dict(cluster.settings.applied), topic_config=dict(spec.topic.config),
        started_at=datetime.now(timezone.utc), run_dir=str(cluster.run_dir), profile=spec.profile,
    )


def run_error(producers: list[ProducerOutcome], consumer: ConsumerOutcome | None) -> str | None:
    """One line saying why a run failed, or None when every tool succeeded."""
    failed = [p for p in producers if p.status != "ok"]
    if failed:
        first = failed[0]
        return f"{len(failed)} of {len(producers)} producer instances failed; producer-{first.instance}: {first.error}"
    if consumer is not None and consumer.status != "ok":
        return f"consumer test failed: {consumer.error}"
    return None


def scale_up(cluster: Cluster, to_brokers: int, *, on_progress: Progress) -> list[int]:
    """Add brokers to the live cluster (the guide's broker count update); returns the new ids."""
    return cluster.add_brokers(to_brokers - len(cluster.brokers), on_progress=on_progress)
