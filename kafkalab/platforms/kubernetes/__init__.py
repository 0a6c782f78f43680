"""The Kubernetes platform: a KRaft cluster of StatefulSets from kafkalab's Kafka image (images.py),
perf tests as Jobs, through the official `kubernetes` client (see cluster.py, manifests.py, jobs.py).

The client is imported on first use of the cluster, not with this package: the registry
(kafkalab.platforms) reads CAPABILITIES without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafkalab.platforms import base
from kafkalab.platforms.base import KafkaLevel

if TYPE_CHECKING:
    from kafkalab.kafka.broker_config import BrokerSettings
    from kafkalab.kafka.distribution import KafkaDistribution
    from kafkalab.platforms.kubernetes.cluster import KubernetesCluster
    from kafkalab.spec import ExperimentSpec

__all__ = ["CAPABILITIES", "BrokerPod", "KafkaLevel", "KubernetesCluster", "api_client", "check_broker_settings",
           "check_spec", "deploy"]

# Not yet: SASL/TLS listeners. Faults delete broker pods (broker_faults.py); the generator
# runs as perf Jobs (loadgen_jobs.py), its consumers alongside the producers or after them.
CAPABILITIES = frozenset({base.SCALE, base.REASSIGN, base.FAULTS, base.GENERATOR})

_FROM_CLUSTER = ("BrokerPod", "KubernetesCluster", "api_client")


def __getattr__(name: str) -> Any:
    if name in _FROM_CLUSTER:
        from kafkalab.platforms.kubernetes import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def deploy(spec: ExperimentSpec, dist: KafkaDistribution, run_dir: Path, *, on_progress: Callable[[str], None],
           api=None, kafka: KafkaLevel | None = None) -> KubernetesCluster:
    """Step 1 on Kubernetes: the spec's cluster, its broker settings checked by Kafka as locally."""
    from kafkalab.platforms.kubernetes.cluster import KubernetesCluster
    from kafkalab.platforms.kubernetes.kafka_calls import kafka_level

    settings = check_broker_settings(spec, dist)
    for warning in settings.warnings():
        on_progress(f"WARNING {warning}")
    cluster = KubernetesCluster(
        dist, run_dir, settings, spec.cluster.kubernetes, name=spec.name, kafka_version=spec.kafka_version,
        heap_mb=spec.cluster.heap_mb, controller_heap_mb=spec.cluster.controller_heap_mb, api=api,
        kafka=kafka if kafka is not None else kafka_level(spec.cluster.kubernetes),
    )
    return base.deploy_or_stop(cluster, spec, on_progress=on_progress)


def check_spec(spec: ExperimentSpec) -> str | None:
    """What this platform refuses beyond its capabilities (kafkalab.platforms.check_spec): one line naming the field."""
    if spec.producer.payload_file:
        return "producer.payload_file: platform kubernetes cannot ship a payload file to the producer pods yet"
    return None


def check_broker_settings(spec: ExperimentSpec, dist: KafkaDistribution) -> BrokerSettings:
    """The settings the brokers get, checked by Kafka against the config broker 0's pod would start with."""
    from kafkalab.platforms.kubernetes import manifests as m
    from kafkalab.platforms.kubernetes.cluster import planned_broker_config
    from kafkalab.platforms.kubernetes.images import default_image
    from kafkalab.platforms.local import new_cluster_id

    layout = m.Layout(namespace="kafkalab-planned", cluster_label="planned", kafka_cluster_id=new_cluster_id(),
                      image=default_image(spec.kafka_version), controllers=spec.cluster.controllers)
    return base.check_broker_settings(
        spec, dist, lambda settings: planned_broker_config(layout, settings, spec.cluster.brokers))
