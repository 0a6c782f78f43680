"""The local platform: a KRaft cluster of JVMs on 127.0.0.1 under the run directory."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kafkalab.core.paths import runs_dir
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.security import ClusterSecurity
from kafkalab.platforms import base
from kafkalab.platforms.local.cluster import (
    CONTROLLER_ID_BASE,
    LOOPBACK,
    LocalCluster,
    Node,
    clean_stale_runs,
    new_cluster_id,
    reap_stale_clusters,
)

if TYPE_CHECKING:
    from kafkalab.spec import ExperimentSpec

__all__ = ["CAPABILITIES", "CONTROLLER_ID_BASE", "LOOPBACK", "LocalCluster", "Node", "check_broker_settings",
           "clean_stale_runs", "deploy", "new_cluster_id", "reap_stale_clusters"]

CAPABILITIES = LocalCluster.capabilities


def deploy(spec: ExperimentSpec, dist: KafkaDistribution, run_dir: Path, *,
           on_progress: Callable[[str], None]) -> LocalCluster:
    """Step 1 locally: JVMs of dead kafkalab processes stopped, class archives made (once), the
    broker settings checked by Kafka, then configs written, storage formatted, every node started."""
    from kafkalab.platforms.local.class_archives import ensure_class_archives

    reap_stale_clusters(runs_dir(), on_progress=on_progress)
    ensure_class_archives(dist, on_progress=on_progress)
    settings = check_broker_settings(spec, dist)
    for warning in settings.warnings():
        on_progress(f"WARNING {warning}")
    cluster = LocalCluster(
        dist, run_dir, settings, heap_mb=spec.cluster.heap_mb, controller_heap_mb=spec.cluster.controller_heap_mb,
        security=cluster_security(spec, run_dir),
    )
    return base.deploy_or_stop(cluster, spec, on_progress=on_progress)


def check_broker_settings(spec: ExperimentSpec, dist: KafkaDistribution) -> BrokerSettings:
    """The settings the brokers get, checked by Kafka against the config a local broker 0 would start with."""
    def planned(settings: BrokerSettings) -> dict[str, object]:
        planner = LocalCluster(dist, Path(tempfile.gettempdir()), settings)  # plans only: writes nothing
        return planner.planned_broker_config(spec.cluster.brokers)

    return base.check_broker_settings(spec, dist, planned)


def cluster_security(spec: ExperimentSpec, run_dir: Path) -> ClusterSecurity | None:
    """The cluster's SASL users and TLS files (None for PLAINTEXT); secrets are resolved here."""
    sec = spec.cluster.security
    if sec.protocol == "PLAINTEXT":
        return None
    return ClusterSecurity.create(sec.protocol, sec.sasl_mechanism, sec.username, sec.password, run_dir)
