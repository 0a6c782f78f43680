"""The local platform: a KRaft cluster of JVMs on 127.0.0.1 under the run directory."""

from kafkalab.platforms.local.cluster import (
    CONTROLLER_ID_BASE, LOOPBACK, LocalCluster, Node, clean_stale_runs, new_cluster_id, reap_stale_clusters,
)

__all__ = ["CONTROLLER_ID_BASE", "LOOPBACK", "LocalCluster", "Node", "clean_stale_runs", "new_cluster_id",
           "reap_stale_clusters"]
