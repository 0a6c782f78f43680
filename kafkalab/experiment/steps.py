"""The steps of one experiment, as plain functions the Prefect tasks wrap.

The order is the guide's: install the framework (Step 1), wait until every broker is
registered, the endpoints (Step 3), a smoke test (Step 5), then per repetition a fresh
topic (Step 2), the producer fan-out and the consumer test (Step 6), and what the topic
holds afterwards. Each function does one step and returns what the next one needs.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from kafkalab.kafka import admin
from kafkalab.kafka.broker_config import BrokerSettings, check_with_kafka, resolve_broker_settings
from kafkalab.platforms.local.class_archives import ensure_class_archives
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.platforms.faults import FaultInjector
from kafkalab.spec.faults import fault_warnings
from kafkalab.results.integrity import Integrity, acknowledged, consume_count
from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad, run_consumer, run_producers
from kafkalab.model import ConsumerOutcome, ProducerOutcome, RunRecord
from kafkalab.core.paths import runs_dir
from kafkalab.platforms.local import LocalCluster, reap_stale_clusters
from kafkalab.kafka.security import SCRAM_ITERATIONS, ClusterSecurity
from kafkalab.spec import ExperimentSpec, spec_to_dict

Progress = Callable[[str], None]


def new_run_dir(name: str) -> Path:
    """A fresh directory for one cluster's configs, data, logs and tool output."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = runs_dir() / f"{stamp}-{name}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def deploy_cluster(spec: ExperimentSpec, dist: KafkaDistribution, run_dir: Path, *, on_progress: Progress) -> LocalCluster:
    """Step 1: write configs, format storage and start the controller quorum and brokers."""
    if spec.platform == "kubernetes":  # StatefulSets in a namespace of their own
        from kafkalab.platforms import kubernetes

        return kubernetes.deploy(spec, dist, run_dir, on_progress=on_progress)
    reap_stale_clusters(runs_dir(), on_progress=on_progress)
    ensure_class_archives(dist, on_progress=on_progress)
    settings = check_broker_settings(spec, dist)
    for warning in settings.warnings():
        on_progress(f"WARNING {warning}")
    cluster = LocalCluster(
        dist, run_dir, settings, heap_mb=spec.cluster.heap_mb, controller_heap_mb=spec.cluster.controller_heap_mb,
        security=cluster_security(spec, run_dir),
    )
    try:
        cluster.deploy(spec.cluster.brokers, spec.cluster.controllers, on_progress=on_progress)
    except BaseException:
        cluster.stop(grace_s=2)
        raise
    return cluster


def check_broker_settings(spec: ExperimentSpec, dist: KafkaDistribution) -> BrokerSettings:
    """The settings the brokers get; a SpecError naming the setting when Kafka would refuse them."""
    settings = resolve_broker_settings(spec.cluster.broker_config, dist)
    planner = LocalCluster(dist, Path(tempfile.gettempdir()), settings)  # plans only: writes nothing
    check_with_kafka(planner.planned_broker_config(spec.cluster.brokers), spec.cluster.broker_config, dist)
    return settings


def cluster_security(spec: ExperimentSpec, run_dir: Path) -> ClusterSecurity | None:
    """The cluster's SASL users and TLS files (None for PLAINTEXT); secrets are resolved here."""
    sec = spec.cluster.security
    if sec.protocol == "PLAINTEXT":
        return None
    return ClusterSecurity.create(sec.protocol, sec.sasl_mechanism, sec.username, sec.password, run_dir)


def open_endpoints(cluster: LocalCluster) -> str:
    """Step 3: the endpoints clients use; a SCRAM user is created now that the brokers are up."""
    security = cluster.security
    if security is not None and security.needs_scram_user:
        admin.upsert_scram_user(cluster.endpoint, security.username, security.password, security.mechanism,
                                iterations=SCRAM_ITERATIONS)
    return cluster.bootstrap_servers


def create_topic(spec: ExperimentSpec, cluster: LocalCluster, name: str) -> str:
    """Step 2: a run's topic with the spec's partitions, replication and settings."""
    if cluster.platform == "kubernetes":  # through the platform's Kafka-level seam
        return cluster.create_topic(spec.topic, name)
    admin.create_topic(
        cluster.endpoint, name, partitions=spec.topic.partitions,
        replication_factor=spec.topic.replication_factor, config=spec.topic.config,
    )
    return name


def smoke_test(spec: ExperimentSpec, cluster: LocalCluster) -> str:
    """Step 5: one message produced and read back through the endpoints."""
    if cluster.platform == "kubernetes":
        return cluster.smoke_test()
    return admin.smoke_test(cluster.endpoint, replication_factor=min(3, len(cluster.brokers)))


def producer_load(spec: ExperimentSpec, topic: str) -> ProducerLoad:
    p = spec.producer
    return ProducerLoad(
        topic=topic, num_records=p.num_records, record_size=p.record_size, throughput=p.throughput,
        props=dict(p.props), heap_mb=p.heap_mb, reporting_interval_ms=p.reporting_interval_ms, timeout_s=p.timeout_s,
        unacknowledged_ok=bool(spec.faults),
    )


def fault_injector(spec: ExperimentSpec, cluster: LocalCluster, *, on_progress: Progress) -> FaultInjector | None:
    """The spec's broker faults for one run (None without `faults:`); says first what they will do."""
    if not spec.faults:
        return None
    for warning in fault_warnings(spec):
        on_progress(f"WARNING {warning}")
    return FaultInjector(cluster, spec.faults, ready_timeout_s=spec.cluster.ready_timeout_s, on_progress=on_progress)


def producer_fanout(
    spec: ExperimentSpec, cluster: LocalCluster, topic: str, *, on_line: LineSink | None = None,
    faults: FaultInjector | None = None,
) -> list[ProducerOutcome]:
    """Step 6: the producer instances in parallel against the topic; output kept in <run dir>/<topic>/.

    With `faults`, its clock starts when the instances get "go"; they are settled when the
    producers end (see kafkalab.faults).
    """
    if faults is not None:
        with faults.around_producers():
            return _run_producers(spec, cluster, topic, on_line=on_line, on_go=faults.start)
    return _run_producers(spec, cluster, topic, on_line=on_line)


def _run_producers(spec: ExperimentSpec, cluster: LocalCluster, topic: str, **kwargs) -> list[ProducerOutcome]:
    if cluster.platform == "kubernetes":  # one Indexed Job
        return cluster.run_producers(producer_load(spec, topic), spec.producer, client_prefix=f"kafkalab-{topic}",
                                     **kwargs)
    return run_producers(
        cluster.dist, cluster.client_endpoint, producer_load(spec, topic), spec.producer.instances,
        cluster.run_dir / topic, client_prefix=f"kafkalab-{topic}", **kwargs,
    )


def consumer_test(
    spec: ExperimentSpec, cluster: LocalCluster, topic: str, records_held: int, *, on_line: LineSink | None = None
) -> ConsumerOutcome:
    """Step 6, consumer side: read back what the topic holds (or the spec's count)."""
    c = spec.consumer
    load = ConsumerLoad(
        topic=topic, num_records=c.num_records or max(1, records_held), timeout_ms=c.timeout_ms,
        props=dict(c.props), heap_mb=c.heap_mb, timeout_s=c.timeout_s,
    )
    if cluster.platform == "kubernetes":  # a Job of one pod
        return cluster.run_consumer(load, group=f"kafkalab-{topic}-consumer", on_line=on_line)
    return run_consumer(
        cluster.dist, cluster.client_endpoint, load, cluster.run_dir / topic,
        group=f"kafkalab-{topic}-consumer", on_line=on_line,
    )


def records_in_topic(cluster: LocalCluster, topic: str) -> int:
    return admin.records_in_topic(cluster.endpoint, topic)


def integrity(
    spec: ExperimentSpec, cluster: LocalCluster, topic: str, producers: list[ProducerOutcome], in_topic: int | None
) -> Integrity:
    """Acknowledged records against what the topic holds (end offsets, or read back when asked)."""
    consumed = None
    if spec.integrity.verify == "consume":
        consumed = consume_count(cluster.endpoint, topic, timeout_s=spec.integrity.timeout_s)
    return Integrity(spec.integrity.verify, acknowledged(producers), in_topic, consumed)


def new_run_record(spec: ExperimentSpec, cluster: LocalCluster, repetition: int, topic: str) -> RunRecord:
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


def scale_up(cluster: LocalCluster, to_brokers: int, *, on_progress: Progress) -> list[int]:
    """Add brokers to the live cluster (the guide's broker count update); returns the new ids."""
    return cluster.add_brokers(to_brokers - len(cluster.brokers), on_progress=on_progress)


def scale_down(cluster: LocalCluster, to_brokers: int, *, on_progress: Progress) -> list[int]:
    """Remove the newest brokers cleanly (controlled shutdown); returns the removed ids.

    Earlier cells' topics are deleted first: their runs are stored, and replicas on a
    removed broker would only leave them under-replicated or offline.
    """
    if cluster.platform == "kubernetes":  # the StatefulSet's newest ordinals go
        return cluster.scale_down(to_brokers, on_progress=on_progress)
    topics = admin.user_topics(cluster.endpoint)
    admin.delete_topics(cluster.endpoint, topics)
    if topics:
        on_progress(f"deleted {len(topics)} topics of earlier cells before removing brokers")
    removed = sorted(cluster.broker_ids)[to_brokers:]
    cluster.remove_brokers(removed)
    on_progress(f"brokers {removed} stopped (controlled shutdown)")
    return removed


def reassign_partitions(cluster: LocalCluster, timeout_s: float) -> dict[str, dict[int, list[int]]]:
    """Move the existing topics' replicas onto all brokers, new ones included."""
    from kafkalab.kafka.reassign import reassign_onto

    if cluster.platform == "kubernetes":
        return cluster.reassign(timeout_s)
    return reassign_onto(cluster.dist, cluster.endpoint, cluster.broker_ids, cluster.run_dir,
                         timeout_s=timeout_s)
