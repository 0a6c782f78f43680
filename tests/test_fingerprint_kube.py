"""On Kubernetes the fingerprint names the nodes the broker pods run on, read from their Node
objects with no more rights than a flow run's service account has (deployments/kubernetes/rbac.yaml).

A real control plane with kwok nodes (kubetestbed): no Kafka runs there, so the Kafka-level
steps go through the pod list (tests/test_kube_platform.py's PodListKafka).
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.metrics import fingerprint
from kafkalab.platforms.kubernetes.cluster import KubernetesCluster
from kafkalab.platforms.kubernetes.nodes import INSTANCE_TYPE_LABELS
from tests.test_kube_platform import PodListKafka, _kube_spec, runner_api  # noqa: F401 - runner_api: a fixture

pytestmark = pytest.mark.kube


def test_the_fingerprint_names_the_broker_pods_nodes(kube_testbed, runner_api, tmp_path):  # noqa: F811
    spec = _kube_spec(cluster__brokers=2, topic__replication_factor=1)
    cluster = KubernetesCluster(None, tmp_path, BrokerSettings(applied={"num.io.threads": "8"}),
                                spec.cluster.kubernetes, name="kube-fingerprint", heap_mb=256, controller_heap_mb=128,
                                api=runner_api, kafka=PodListKafka())
    cluster.deploy(2, 1)
    try:
        cluster.wait_ready(timeout_s=180)
        taken = fingerprint.take(cluster, spec)
        placed = {p.metadata.name: p.spec.node_name for p in cluster._node_pods("broker")}
    finally:
        cluster.stop()
    admin = k8s.CoreV1Api(kube_testbed.api_client())
    nodes = taken["platform"]["nodes"]
    assert taken["platform"]["name"] == "kubernetes"
    assert [n["name"] for n in nodes] == sorted(set(placed.values()))
    for described in nodes:
        assert "error" not in described, described  # the runner may read them
        node = admin.read_node(described["name"])
        labels = node.metadata.labels or {}
        assert described["instance_type"] == next((labels[k] for k in INSTANCE_TYPE_LABELS if k in labels), None)
        assert described["cpu"] == node.status.capacity["cpu"] and described["memory"] == node.status.capacity["memory"]
        assert described["kubelet"] == (node.status.node_info.kubelet_version or None)
        assert described["brokers"] == sorted(pod for pod, on in placed.items() if on == described["name"])
        assert described["images"] == [cluster.layout.image]
    # the brokers' Java is in their image, not on this machine: missing, said so, never guessed
    assert taken["software"]["java"] == {"vendor": None, "version": None, "runtime": None}
    assert "java: the brokers do not run on this machine" in taken["missing"]
    assert taken["settings"]["broker"]["num.io.threads"] == "8"
