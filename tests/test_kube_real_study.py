"""The study on real pods (issue 15, part 3): a `platform: kubernetes` sweep through the flow,
all of it real, on the test bed's real node (tests/conftest.py kube_real_testbed).

One sweep of the flow (flows/sweep.py, whose runs are the experiment flow's run_once) on one
live cluster: a KRaft controller and 3 brokers as StatefulSet pods from kafkalab.local/kafka,
the topic and the smoke test; 3 producer pods of an Indexed Job behind the start gate, a
broker pod deleted while they send, the consumer test, the results into PostgreSQL; then
the brokers scaled 3 -> 4, partitions reassigned, and the same run again. The flow's Kafka
calls go through the node's namespaces (cluster.kubernetes.kafka_calls_via), where the
brokers' pod names resolve. Sized for the machine's 2 CPUs: every pod's request is small
(tests/kube_real.py POD_SIZING).
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from kubernetes import client as k8s

from kafkalab.kafka.distribution import DEFAULT_KAFKA_VERSION
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.kubernetes.images import default_image
from kafkalab.results.store import Store
from kafkalab.spec import parse_sweep
from tests.kube_real import (
    BROKER_HEAP_MB,
    CLIENT_HEAP_MB,
    CONTROLLER_HEAP_MB,
    kubernetes_section,
    static_volumes,
)

pytestmark = [pytest.mark.kube, pytest.mark.kube_real]

PRODUCERS = 3
RECORDS_EACH = 3000
KILLED_BROKER = 1


def rows(sql: str, **params) -> list[dict]:
    with Store() as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, r)) for r in data]


def study_spec(plane, node, storage_class: str):
    return parse_sweep({
        "name": "it-kube-real-study",
        "base": {
            "platform": "kubernetes",
            "cluster": {"brokers": 3, "heap_mb": BROKER_HEAP_MB, "controller_heap_mb": CONTROLLER_HEAP_MB,
                        "ready_timeout_s": 600,
                        "kubernetes": kubernetes_section(node, storage_class, kubeconfig=str(plane.kubeconfig),
                                                         image=default_image(DEFAULT_KAFKA_VERSION))},
            "topic": {"partitions": 3, "replication_factor": 3, "config": {"min.insync.replicas": 2}},
            "producer": {"tool": "kafkalab", "instances": PRODUCERS, "num_records": RECORDS_EACH,
                         "record_size": 100, "throughput": 500, "heap_mb": CLIENT_HEAP_MB,
                         "reporting_interval_ms": 1000, "props": {"acks": "all"}, "timeout_s": 600},
            "consumer": {"tool": "kafkalab", "heap_mb": CLIENT_HEAP_MB, "timeout_ms": 120000},
            # a broker pod deleted while the producers send, let come back 3 s later
            "faults": [{"action": "kill", "broker": KILLED_BROKER, "at_s": 1, "restart_after_s": 3}],
        },
        "axes": {"cluster.brokers": [3, 4]},
        "scaling": {"reassign_partitions": True},
    })


def pod_processes(node) -> list[str]:
    """Processes in the node's pods (their cgroups are under kubelet's cgroupRoot): brokers, producers."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cgroup = Path(f"/proc/{process.pid}/cgroup").read_text()
        except OSError:
            continue
        if f"{node.cgroups.root}/kubepods" in cgroup:
            found.append(" ".join(process.info["cmdline"] or []))
    return found


@pytest.fixture(scope="module")
def study(kube_real_testbed, prefect_api, lab_env):
    """The sweep, run once; its id, the test bed and what was left on the node right after it."""
    from flows.sweep import sweep

    plane = kube_real_testbed
    (node,) = plane.real_nodes
    core = k8s.CoreV1Api(plane.api_client())
    with static_volumes(core, "kafkalab-study", 1 + 4) as storage_class:  # the controller, up to 4 brokers
        started = time.monotonic()
        sweep_id = sweep(study_spec(plane, node, storage_class))
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 120  # the kubelet ends the pods' processes after the API objects go
        while pod_processes(node) and time.monotonic() < deadline:
            time.sleep(1)
        left = {
            "namespaces": [ns.metadata.name for ns in core.list_namespace(
                label_selector=f"{m.MANAGED_BY}=kafkalab").items],
            "pods": [f"{p.metadata.namespace}/{p.metadata.name}" for p in core.list_pod_for_all_namespaces().items],
            "processes": pod_processes(node),
        }
        yield {"sweep_id": sweep_id, "plane": plane, "node": node, "left": left, "elapsed_s": elapsed}


def runs_of(study) -> list[dict]:
    return rows("SELECT * FROM runs WHERE sweep_id = :id ORDER BY cell_index", id=study["sweep_id"])


def test_both_cells_ran_on_real_pods_and_were_stored(study):
    runs = runs_of(study)
    assert [(r["cell_index"], r["brokers"], r["status"]) for r in runs] == [(0, 3, "ok"), (1, 4, "ok")], \
        [r["error"] for r in runs]
    assert {r["platform"] for r in runs} == {"kubernetes"}
    producers = rows("SELECT run_id, instance, status, records FROM v_producer_results "
                     "WHERE run_id IN (SELECT id FROM runs WHERE sweep_id = :id)", id=study["sweep_id"])
    for run in runs:
        mine = [p for p in producers if p["run_id"] == run["id"]]
        assert sorted(p["instance"] for p in mine) == list(range(PRODUCERS))
        assert {p["status"] for p in mine} == {"ok"}
        assert sum(p["records"] for p in mine) == PRODUCERS * RECORDS_EACH


def test_records_in_topic_equal_records_acknowledged_and_consumed(study):
    for run in runs_of(study):
        assert run["records_acknowledged"] == PRODUCERS * RECORDS_EACH, run
        assert run["records_in_topic"] == run["records_acknowledged"], run
        assert run["records_lost"] == 0, run
        (consumer,) = rows("SELECT status, messages FROM consumer_results WHERE run_id = :id", id=run["id"])
        assert consumer == {"status": "ok", "messages": run["records_in_topic"]}  # the consumer test read it all


def test_the_producer_pods_measurement_windows_overlap(study):
    """Behind the start gate the 3 pods start together: their windows overlap nearly whole."""
    for run in runs_of(study):
        spans = rows("SELECT instance, min(start_at) AS first, max(end_at) AS last FROM load_intervals "
                     "WHERE run_id = :id AND role = 'producer' GROUP BY instance ORDER BY instance", id=run["id"])
        assert len(spans) == PRODUCERS
        starts = [s["first"] for s in spans]
        overlap = (min(s["last"] for s in spans) - max(starts)).total_seconds()
        shortest = min((s["last"] - s["first"]).total_seconds() for s in spans)
        assert (max(starts) - min(starts)).total_seconds() < 2, spans  # "go" reached every pod at once
        assert overlap >= 0.5 * shortest > 0, spans


def test_the_deleted_broker_pod_came_back_and_integrity_counted_it(study):
    for run in runs_of(study):
        (fault,) = rows("SELECT * FROM fault_events WHERE run_id = :id", id=run["id"])
        assert (fault["action"], fault["broker"], fault["outcome"]) == ("kill", KILLED_BROKER, "restarted"), fault
        assert fault["restarted_at_s"] >= 3 and fault["ready_at_s"] >= fault["restarted_at_s"], fault
        assert run["integrity_check"] in ("end_offsets", "consume"), run  # the fault run was checked


def test_the_cluster_was_scaled_from_3_to_4_brokers_with_reassignment(study):
    runs = runs_of(study)
    assert len({r["run_dir"] for r in runs}) == 1  # one cluster for the whole sweep
    assert [r["cluster_origin"] for r in runs] == ["fresh", "scaled from 3, reassigned"]


def test_teardown_left_no_namespace_pod_or_pod_process(study):
    assert study["left"] == {"namespaces": [], "pods": [], "processes": []}
    assert study["elapsed_s"] < 2400  # a safety net: about 5 minutes on an idle 2-core machine
