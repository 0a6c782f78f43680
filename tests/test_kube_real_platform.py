"""The Kubernetes platform on a real node of the test bed: Kafka and the load in real pods.

The session's real node (tests/conftest.py kube_real_testbed: kubelet + containerd in
namespaces of the test bed's own, the images of `make kube-images` imported). A 1-broker
KRaft cluster in StatefulSet pods (persistent volumes: static hostPath PVs), the flow's Kafka
calls behind the node's command prefix (kafka_calls.py), two producer pods of kafkalab's
generator and a consumer pod alongside them, all behind one start barrier, a broker pod
killed while they send and held down for a while, then integrity: every record the
producers had acknowledged is in the topic. (Consumers after the producers run in the same
Jobs: tests/test_kube_platform.py.)
"""

from __future__ import annotations

import time

import pytest
from kubernetes import client as k8s

from kafkalab.experiment import steps
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.platforms.kubernetes import KubernetesCluster
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.kubernetes.kafka_calls import PrefixedKafka
from kafkalab.spec import parse_spec
from tests.kube_real import (
    BROKER_HEAP_MB,
    CLIENT_HEAP_MB,
    CONTROLLER_HEAP_MB,
    kubernetes_section,
    static_volumes,
)

pytestmark = [pytest.mark.kube, pytest.mark.kube_real]


def real_spec(node, storage_class: str):
    return parse_spec({
        "name": "real-study", "platform": "kubernetes",
        "cluster": {"brokers": 1, "heap_mb": BROKER_HEAP_MB, "controller_heap_mb": CONTROLLER_HEAP_MB,
                    # the one broker's restart holds up every send: it gets more CPU than the sizing's
                    "kubernetes": kubernetes_section(node, storage_class, broker_cpu="500m")},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"tool": "kafkalab", "instances": 2, "num_records": 3000, "record_size": 100, "throughput": 500,
                     "heap_mb": CLIENT_HEAP_MB, "reporting_interval_ms": 1000, "props": {"acks": "all"},
                     "timeout_s": 300},
        # alongside: a consumer pod reads while they write (its idle timeout outlasts the broker's restart)
        "consumer": {"tool": "kafkalab", "timing": "alongside", "heap_mb": CLIENT_HEAP_MB, "timeout_ms": 180000},
        "faults": [{"action": "kill", "broker": 0, "at_s": 1, "restart_after_s": 3}],
    })


def test_brokers_producers_behind_the_barrier_and_a_killed_broker_on_a_real_node(kube_real_testbed, kafka_dist,
                                                                                   tmp_path):
    plane = kube_real_testbed
    (node,) = plane.real_nodes
    api = plane.api_client()
    core = k8s.CoreV1Api(api)
    progress: list[str] = []
    with static_volumes(core, "kafkalab-real", 2) as storage_class:  # the controller's and the broker's
        spec = real_spec(node, storage_class)
        cluster = KubernetesCluster(kafka_dist, tmp_path / "run", BrokerSettings(), spec.cluster.kubernetes,
                                    name="real", heap_mb=BROKER_HEAP_MB, controller_heap_mb=CONTROLLER_HEAP_MB,
                                    api=api, kafka=PrefixedKafka(node.command_prefix()))
        cluster.deploy(1, 1, on_progress=progress.append)
        try:
            assert [b.node_id for b in cluster.wait_ready(timeout_s=300)] == [0]  # registered, asked from the node
            topic = cluster.create_topic(spec.topic, "real-study-t")
            assert cluster.smoke_test().startswith("kafkalab smoke test ")

            injector = steps.fault_injector(spec, cluster, on_progress=progress.append)
            producers, alongside = steps.producer_fanout(spec, cluster, topic, faults=injector)
            events = injector.finish()
            assert [p.status for p in producers] == ["ok", "ok"], [p.error for p in producers]
            # behind the barrier: the two pods' measurement windows overlap nearly whole
            spans = [(p.intervals[0].start_ms, p.intervals[-1].end_ms) for p in producers]
            overlap = min(end for _, end in spans) - max(start for start, _ in spans)
            shortest = min(end - start for start, end in spans)
            assert overlap >= 0.8 * shortest, (spans, progress)
            assert abs(spans[0][0] - spans[1][0]) < 1000, spans

            (kill,) = events
            assert kill.outcome == "restarted", (kill, progress)
            assert kill.restarted_at_s >= 3 and kill.ready_at_s >= kill.restarted_at_s
            pods = core.list_namespaced_pod(cluster.namespace, label_selector=f"{m.ROLE_LABEL}=broker").items
            assert [p.metadata.annotations.get(m.START_ANNOTATION) for p in pods] == ["go"]  # the one let go

            in_topic = cluster.records_in_topic(topic)
            integrity = steps.integrity(spec, cluster, topic, producers, in_topic)
            assert integrity.acknowledged == 2 * 3000  # every record acknowledged, the kill notwithstanding
            # Nothing acknowledged is lost (the volume kept the data). Duplicates may be counted (lost < 0):
            # batches whose request timed out while the broker was down are sent again under a new producer
            # epoch, also those the broker had written before it died.
            assert integrity.lost is not None and integrity.lost <= 0, (integrity, progress)

            (reader,) = alongside  # behind the same barrier, it read the records as they came
            steps.check_consumers(spec, alongside, in_topic)
            assert reader.status == "ok", reader.error
            assert reader.summary.messages == 2 * 3000  # its count: what the producers were asked to send
        finally:
            started = time.monotonic()
            cluster.stop()
            progress.append(f"namespace deleted in {time.monotonic() - started:.0f}s")
