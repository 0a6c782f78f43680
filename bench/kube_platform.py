"""The Kubernetes platform on the test bed: deploy-to-ready of a 3-broker cluster, and a
25-instance producer fan-out (one Indexed Job, one-per-node on 25 fake nodes) created,
scheduled and collected.

    .venv/bin/python bench/kube_platform.py [--rounds 3] [--instances 25]

Needs the binaries `make kube-testbed` built. The control plane is real (kube-apiserver,
controller-manager, scheduler, etcd); nodes are kwok's, so no container runs: the brokers
count as registered when their pods are Ready (the tests' Kafka-level seam) and every
producer pod is fed a real ProducerPerformance output (tests/data/kube) as its log and
termination message. What is timed is kafkalab's own path through the API: objects
created, controllers and scheduler acting, results read back, Jobs and namespace deleted.
Prints one line per round and the medians; writes bench/results/kube_platform.json.
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
sys.path.insert(0, str(REPO))  # kubetestbed and tests are repo folders

from kafkalab.experiment import steps  # noqa: E402
from kafkalab.kafka.broker_config import BrokerSettings  # noqa: E402
from kafkalab.platforms.kubernetes import KubernetesCluster  # noqa: E402
from kafkalab.platforms.kubernetes.jobs import SchedulingError  # noqa: E402
from kubetestbed import layout  # noqa: E402
from kubetestbed.controlplane import ControlPlane  # noqa: E402
from tests.test_kube_platform import DATA, PodListKafka, _kube_spec, _summary_line  # noqa: E402


def deploy_to_ready(plane: ControlPlane, spec, run_dir: Path) -> tuple[float, float, float]:
    """Seconds: deploy() returns; StatefulSets ready and brokers registered; namespace gone."""
    cluster = KubernetesCluster(None, run_dir, BrokerSettings(), spec.cluster.kubernetes, name="bench",
                                heap_mb=spec.cluster.heap_mb, controller_heap_mb=spec.cluster.controller_heap_mb,
                                api=plane.api_client(), kafka=PodListKafka(), poll_s=0.1)
    started = time.perf_counter()
    try:
        cluster.deploy(spec.cluster.brokers, spec.cluster.controllers)
        created = time.perf_counter() - started
        cluster.wait_ready(timeout_s=300)
        ready = time.perf_counter() - started
    finally:
        stop_started = time.perf_counter()
        cluster.stop()
    return created, ready, time.perf_counter() - stop_started


def fanout(plane: ControlPlane, spec, run_dir: Path, instances: int, topic: str) -> dict:
    cluster = KubernetesCluster(None, run_dir, BrokerSettings(), spec.cluster.kubernetes, name="bench-fanout",
                                heap_mb=spec.cluster.heap_mb, controller_heap_mb=spec.cluster.controller_heap_mb,
                                api=plane.api_client(), kafka=PodListKafka(), poll_s=0.1)
    cluster.deploy(1, 1)
    try:
        cluster.wait_ready(timeout_s=300)
        job = KubernetesCluster.job_name("producers", topic)
        for i in range(instances):
            log = DATA / f"producer-{i % 3}.log"
            plane.serve_logs(cluster.namespace, f"{job}-{i}-", log, termination_message=_summary_line(log))
        marks: dict[str, float] = {}
        started = time.perf_counter()
        try:
            outcomes = cluster.run_producers(
                steps.producer_load(spec, topic), spec.producer.instances, client_prefix=f"kafkalab-{topic}",
                spread=spec.producer.spread,
                on_go=lambda: marks.setdefault("all_running", time.perf_counter() - started))
        except SchedulingError as exc:  # reported, the round counts as failed
            print(f"  failed: {exc}")
            return {"instances": instances, "ok": 0, "distinct_nodes": 0, "records": 0, "failed": [str(exc)],
                    "all_pods_running_s": marks.get("all_running"),
                    "created_scheduled_collected_deleted_s": time.perf_counter() - started}
        total = time.perf_counter() - started
        pods = cluster.jobs.last_result.pods.values()
        nodes = {p.spec.node_name for p in pods}
        ok = sum(o.status == "ok" for o in outcomes)
        records = sum(o.output.summary.records for o in outcomes if o.output.summary)
        failed = [o.error for o in outcomes if o.status != "ok"]
        events = [e.message for e in cluster.core.list_namespaced_event(
            cluster.namespace, field_selector="reason=FailedScheduling").items]
        if failed:
            print(f"  failed: {failed[0]}; scheduler: {events[:1] or 'no FailedScheduling event'}")
        return {"instances": instances, "ok": ok, "distinct_nodes": len(nodes), "records": records,
                "failed": failed, "failed_scheduling_events": events,
                "all_pods_running_s": marks.get("all_running"), "created_scheduled_collected_deleted_s": total}
    finally:
        cluster.stop()


def schedulable(plane: ControlPlane, timeout_s: float = 60) -> None:
    """Until no node carries a NoSchedule taint: a node just Ready keeps `not-ready` until the node
    lifecycle controller's next pass, and a one-per-node fan-out needs every node."""
    from kubernetes import client

    core = client.CoreV1Api(plane.api_client())
    deadline = time.monotonic() + timeout_s
    while any(t.effect == "NoSchedule" for n in core.list_node().items for t in (n.spec.taints or [])):
        if time.monotonic() > deadline:
            raise SystemExit("nodes still tainted NoSchedule after 60 s")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instances", type=int, default=25)
    args = parser.parse_args()
    spec = _kube_spec()
    fan_spec = _kube_spec(producer__instances=args.instances, cluster__brokers=1, topic__replication_factor=1,
                          cluster__kubernetes={"storage": "ephemeral", "schedule_timeout_s": 120,
                                               "producer_cpu": "500m"})
    results: dict = {"version": layout.K8S_VERSION, "deploy": [], "fanout": []}
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-kube-") as root, \
            ControlPlane(nodes=3, workdir=Path(root) / "plane") as plane:
        for round_ in range(1, args.rounds + 1):
            created, ready, stopped = deploy_to_ready(plane, spec, Path(root) / f"deploy-{round_}")
            results["deploy"].append({"created_s": created, "ready_s": ready, "teardown_s": stopped})
            print(f"round {round_}: 3 brokers + 1 controller: objects created {created:.2f} s, ready {ready:.2f} s, "
                  f"namespace gone {stopped:.2f} s after delete")
        plane.add_nodes(args.instances - 3)
        schedulable(plane)
        for round_ in range(1, args.rounds + 1):
            result = fanout(plane, fan_spec, Path(root) / f"fanout-{round_}", args.instances, f"bench-{round_}")
            results["fanout"].append(result)
            print(f"round {round_}: {result['ok']}/{args.instances} producers ok on {result['distinct_nodes']} nodes, "
                  f"{result['records']} records; all pods running {result['all_pods_running_s'] or 0:.2f} s, "
                  f"created + scheduled + collected + deleted {result['created_scheduled_collected_deleted_s']:.2f} s")
    ready = statistics.median(r["ready_s"] for r in results["deploy"])
    fan = statistics.median(r["created_scheduled_collected_deleted_s"] for r in results["fanout"])
    results["median_ready_s"], results["median_fanout_s"] = ready, fan
    print(f"median deploy-to-ready {ready:.2f} s; median {args.instances}-instance fan-out {fan:.2f} s "
          f"(Kubernetes {layout.K8S_VERSION})")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "kube_platform.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
