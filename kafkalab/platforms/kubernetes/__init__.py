"""The Kubernetes platform: a KRaft cluster of StatefulSets from the official apache/kafka image,
perf tests as Jobs, through the official `kubernetes` client (see cluster.py, manifests.py, jobs.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kafkalab.kafka.broker_config import resolve_broker_settings
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.platforms.kubernetes.cluster import BrokerPod, KafkaLevel, KubernetesCluster, api_client

__all__ = ["BrokerPod", "KafkaLevel", "KubernetesCluster", "api_client", "deploy"]


def deploy(spec, dist: KafkaDistribution, run_dir: Path, *, on_progress: Callable[[str], None],
           api=None, kafka: KafkaLevel | None = None) -> KubernetesCluster:
    """Step 1 on Kubernetes: the spec's cluster (broker settings through the same mapping as locally)."""
    settings = resolve_broker_settings(spec.cluster.broker_config, dist)
    for warning in settings.warnings():
        on_progress(f"WARNING {warning}")
    cluster = KubernetesCluster(
        dist, run_dir, settings, spec.cluster.kubernetes, name=spec.name, kafka_version=spec.kafka_version,
        heap_mb=spec.cluster.heap_mb, controller_heap_mb=spec.cluster.controller_heap_mb, api=api,
        **({"kafka": kafka} if kafka is not None else {}),
    )
    try:
        cluster.deploy(spec.cluster.brokers, spec.cluster.controllers, on_progress=on_progress)
    except BaseException:
        try:
            cluster.stop()
        except Exception:  # noqa: BLE001 - the deploy error is the one to report
            pass
        raise
    return cluster
