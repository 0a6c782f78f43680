"""Kafka on real pods vs on the local platform, in one run: deploy-to-ready of 3 brokers + 1
controller on each, and a 3-pod producer fan-out (kafkalab's generator, behind the start
gate) on the real pods.

    .venv/bin/python bench/kube_real_bringup.py [--rounds 1] [--records 20000]

Needs root and what `make kube-nodes kube-images` built. Starts a test bed with one real
node (kubelet + containerd in namespaces of its own; the images imported at its start), so
the brokers run in containers and register for real: readiness is the pods Ready and every
broker registered, asked through the node's namespaces (kafka_calls_via). Pods request
little CPU (the node has the machine's 2 CPUs); the local cluster's JVMs are not limited.
Prints one line per step and writes bench/results/kube_real_bringup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # kubetestbed is a repo folder

from kafkalab.experiment import steps
from kafkalab.kafka import distribution
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.platforms.kubernetes import KubernetesCluster
from kafkalab.platforms.kubernetes.images import default_image
from kafkalab.platforms.kubernetes.kafka_calls import PrefixedKafka
from kafkalab.platforms.local import LocalCluster
from kafkalab.spec import parse_spec
from kubetestbed import images, layout
from kubetestbed.controlplane import ControlPlane

HEAPS = {"heap_mb": 256, "controller_heap_mb": 192}


def real_spec(records: int):
    return parse_spec({
        "name": "bench-real", "platform": "kubernetes",
        "cluster": {"brokers": 3, **HEAPS, "kubernetes": {
            "storage": "ephemeral", "controller_cpu": "200m", "broker_cpu": "300m", "producer_cpu": "150m",
            "schedule_timeout_s": 300}},
        "topic": {"partitions": 3, "replication_factor": 3},
        "producer": {"tool": "kafkalab", "instances": 3, "num_records": records, "record_size": 100,
                     "throughput": -1, "heap_mb": 128, "props": {"acks": "all"}, "timeout_s": 600},
    })


def real_round(plane: ControlPlane, dist, spec, run_dir: Path, round_: int) -> dict:
    (node,) = plane.real_nodes
    cluster = KubernetesCluster(dist, run_dir, BrokerSettings(), spec.cluster.kubernetes, name=f"bench-real-{round_}",
                                **HEAPS, api=plane.api_client(), kafka=PrefixedKafka(node.command_prefix()))
    started = time.perf_counter()
    try:
        cluster.deploy(3, 1)
        created = time.perf_counter() - started
        cluster.wait_ready(timeout_s=600)
        ready = time.perf_counter() - started
        print(f"round {round_}: real pods: objects created {created:.2f} s, 3 brokers registered {ready:.1f} s")
        topic = cluster.create_topic(spec.topic, f"bench-{round_}")
        fan_started = time.perf_counter()
        producers, _ = steps.producer_fanout(spec, cluster, topic)
        fanout = time.perf_counter() - fan_started
        starts = [p.intervals[0].start_ms for p in producers if p.intervals]
        records = sum(p.output.summary.records for p in producers if p.output.summary)
        rate = sum(p.output.summary.records_per_sec for p in producers if p.output.summary)
        print(f"round {round_}: 3-pod fan-out: {sum(p.status == 'ok' for p in producers)}/3 ok, {records} records, "
              f"{rate:,.0f} records/s together, first windows within {(max(starts) - min(starts)) / 1000:.2f} s, "
              f"Job created to results collected {fanout:.1f} s")
        result = {"created_s": created, "ready_s": ready, "fanout_s": fanout, "fanout_records": records,
                  "fanout_records_per_sec": rate, "fanout_start_spread_s": (max(starts) - min(starts)) / 1000,
                  "fanout_ok": sum(p.status == "ok" for p in producers)}
    finally:
        stop_started = time.perf_counter()
        cluster.stop()
    result["teardown_s"] = time.perf_counter() - stop_started
    return result


def local_round(dist, root: Path, round_: int) -> dict:
    cluster = LocalCluster(dist, Path(tempfile.mkdtemp(dir=root)), BrokerSettings(), **HEAPS)
    started = time.perf_counter()
    try:
        cluster.deploy(3)
        cluster.wait_ready(timeout_s=300)
        ready = time.perf_counter() - started
    finally:
        cluster.stop()
    print(f"round {round_}: local platform: 3 brokers registered {ready:.1f} s")
    return {"ready_s": ready}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--records", type=int, default=20000, help="records per producer pod")
    args = parser.parse_args()
    dist = distribution.resolve()
    spec = real_spec(args.records)
    archives = [images.built_archive(name) for name in (images.pause_image_name(), default_image(spec.kafka_version))]
    results: dict = {"version": layout.K8S_VERSION, "kafka": spec.kafka_version, "real": [], "local": []}
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-kube-real-") as root:
        started = time.perf_counter()
        with ControlPlane(nodes=0, real_nodes=1, workdir=Path(root) / "plane", node_images=archives,
                          timeout_s=300) as plane:
            results["testbed_up_s"] = time.perf_counter() - started
            print(f"test bed with 1 real node, images imported: {results['testbed_up_s']:.1f} s")
            for round_ in range(1, args.rounds + 1):
                results["real"].append(real_round(plane, dist, spec, Path(root) / f"real-{round_}", round_))
                results["local"].append(local_round(dist, Path(root), round_))
    real = statistics.median(r["ready_s"] for r in results["real"])
    local = statistics.median(r["ready_s"] for r in results["local"])
    results["median_real_ready_s"], results["median_local_ready_s"] = real, local
    print(f"median deploy-to-ready, 3 brokers: real pods {real:.1f} s, local platform {local:.1f} s")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "kube_real_bringup.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
