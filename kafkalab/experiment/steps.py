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

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kafkalab.core.paths import runs_dir
from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad
from kafkalab.metrics import bottleneck, fingerprint
from kafkalab.metrics.client import client_missing, client_series
from kafkalab.metrics.sampling import sampling
from kafkalab.model import ConsumerOutcome, ProducerOutcome, RunRecord, Verdict
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
    budget = spec.load.max_bytes
    return ProducerLoad(
        topic=topic, num_records=p.num_records, record_size=p.record_size, throughput=p.throughput,
        props=dict(p.props), heap_mb=p.heap_mb, reporting_interval_ms=p.reporting_interval_ms, timeout_s=p.timeout_s,
        unacknowledged_ok=bool(spec.faults), tool=p.tool, keys=p.record_keys, payload_file=p.payload_file,
        max_bytes=None if budget is None else max(1, budget // p.instances),  # the budget shared out
    )


def consumer_load(spec: ExperimentSpec, topic: str, num_records: int) -> ConsumerLoad:
    c = spec.consumer
    return ConsumerLoad(
        topic=topic, num_records=max(1, num_records), timeout_ms=c.timeout_ms, props=dict(c.props),
        heap_mb=c.heap_mb, timeout_s=c.timeout_s, tool=c.tool, group=f"kafkalab-{topic}-consumer",
        instances=c.instances, groups=c.groups, share_group=c.share_group, acknowledge_mode=c.acknowledge_mode,
        reporting_interval_ms=spec.producer.reporting_interval_ms,
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
) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
    """Step 6: the producer instances in parallel against the topic, with the consumers when
    they read alongside; output kept in <run dir>/<topic>/. (producers, consumers alongside)

    With `faults`, its clock starts when the instances get "go"; they are settled when the
    producers end (see kafkalab.platforms.faults).
    """
    if faults is not None:
        with faults.around_producers():
            return _run_load(spec, cluster, topic, on_line=on_line, on_go=faults.start)
    return _run_load(spec, cluster, topic, on_line=on_line)


def _run_load(spec: ExperimentSpec, cluster: Cluster, topic: str, **kwargs) -> tuple[list[ProducerOutcome],
                                                                                      list[ConsumerOutcome]]:
    alongside = None
    if spec.consumer.runs_alongside:
        alongside = consumer_load(spec, topic, spec.consumer.num_records
                                  or spec.producer.num_records * spec.producer.instances)
    return cluster.run_load(producer_load(spec, topic), spec.producer.instances, alongside=alongside,
                            client_prefix=f"kafkalab-{topic}", spread=spec.producer.spread, **kwargs)


@contextlib.contextmanager
def run_metrics(spec: ExperimentSpec, cluster: Cluster, record: RunRecord, *, on_progress: Progress) -> Iterator[None]:
    """Broker JMX and host metrics sampled around the load, every reporting interval; the
    generator's client metrics added from its outcomes. Sets record.metrics, also when the load
    fails or is interrupted; a sampler's failure never fails the run (kafkalab.metrics.sampling)."""
    metrics = None
    try:
        with sampling(cluster, interval_s=spec.producer.reporting_interval_ms / 1000, on_progress=on_progress,
                      work_dir=cluster.run_dir / record.topic, enabled=spec.metrics.enabled) as metrics:
            yield
    finally:
        if metrics is not None:
            if spec.metrics.enabled:
                metrics.client = client_series(record.producers, record.consumers)
                metrics.missing += client_missing(record.producers, record.consumers)
            record.metrics = metrics


def consumer_test(
    spec: ExperimentSpec, cluster: Cluster, topic: str, records_held: int, *, on_line: LineSink | None = None
) -> list[ConsumerOutcome]:
    """Step 6, consumer side, after the producers: read back what the topic holds (or the spec's count)."""
    return cluster.run_consumers(consumer_load(spec, topic, spec.consumer.num_records or records_held),
                                 on_line=on_line)


def check_consumers(spec: ExperimentSpec, consumers: list[ConsumerOutcome], records_held: int | None) -> None:
    """Consumers without a count of their own (alongside the producers, or sharing a group)
    against what the topic holds: a group that read less failed; each member of
    `groups: per-instance` must have read it all. Marks the outcomes; raises nothing."""
    ok = [c for c in consumers if c.status == "ok" and c.summary is not None]
    if records_held is None or not ok or len(ok) < len(consumers):
        return
    expected = spec.consumer.num_records or records_held
    if spec.consumer.groups == "per-instance" or len(consumers) == 1:
        short = [(c, c.summary.messages) for c in ok if c.summary.messages < expected]
    else:
        read = sum(c.summary.messages for c in ok)
        short = [(c, read) for c in ok] if read < expected else []
    for consumer, read in short:
        consumer.status = "failed"
        consumer.error = f"consumed {read} of the {expected} records the topic holds before its " \
                         f"{spec.consumer.timeout_ms} ms idle timeout"


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
        experiment=spec.name, spec={**spec_to_dict(spec), **({"observed": cluster.observed} if cluster.observed else {})},
        repetition=repetition, platform=cluster.platform,
        kafka_version=cluster.kafka_version, brokers=len(cluster.brokers), topic=topic,
        partitions=spec.topic.partitions, replication_factor=spec.topic.replication_factor,
        record_size=spec.producer.record_size, num_records=spec.producer.num_records,
        throughput=spec.producer.throughput, producer_instances=spec.producer.instances,
        producer_props=dict(spec.producer.props), consumer_props=dict(spec.consumer.props),
        broker_config=dict(cluster.settings.applied), topic_config=dict(spec.topic.config),
        started_at=datetime.now(timezone.utc), run_dir=str(cluster.run_dir), profile=spec.profile,
    )


def take_fingerprint(spec: ExperimentSpec, cluster: Cluster) -> dict[str, Any]:
    """What the run is about to run on and with (kafkalab.metrics.fingerprint), taken before the
    load. A fingerprint that cannot be taken says why in `missing`; it never fails the run."""
    try:
        return fingerprint.take(cluster, spec)
    except Exception as exc:  # noqa: BLE001 - the run matters more than its description
        return {"id": None, "missing": [f"fingerprint: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"]}


def judge_bottleneck(record: RunRecord) -> Verdict:
    """Where the run's limit was (kafkalab.metrics.bottleneck), once its figures and metrics are in."""
    cores = ((record.fingerprint or {}).get("machine") or {}).get("logical_cpus") or os.cpu_count()
    return bottleneck.judge(record.figures, record.metrics, cores=cores)


def run_error(producers: list[ProducerOutcome], consumers: list[ConsumerOutcome]) -> str | None:
    """One line saying why a run failed, or None when every tool succeeded."""
    failed = [p for p in producers if p.status != "ok"]
    if failed:
        first = failed[0]
        return f"{len(failed)} of {len(producers)} producer instances failed; producer-{first.instance}: {first.error}"
    failed_consumers = [c for c in consumers if c.status != "ok"]
    if failed_consumers:
        first_consumer = failed_consumers[0]
        which = "consumer test" if len(consumers) == 1 else f"consumer-{first_consumer.instance}"
        return f"{which} failed: {first_consumer.error}"
    return None


def scale_up(cluster: Cluster, to_brokers: int, *, on_progress: Progress) -> list[int]:
    """Add brokers to the live cluster (the guide's broker count update); returns the new ids."""
    return cluster.add_brokers(to_brokers - len(cluster.brokers), on_progress=on_progress)
