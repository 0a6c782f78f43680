"""The Kubernetes test bed itself: a real control plane whose fake nodes run pods to the end.

Everything goes through the real API (kubernetes client, admin kubeconfig of the test bed).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from kubetestbed import layout
from kubetestbed.controlplane import BinariesMissing, ControlPlane

pytestmark = pytest.mark.kube

PRODUCER_OUTPUT = """\
100000 records sent, 49950.0 records/sec (11.91 MB/sec), 1.6 ms avg latency, 215.0 ms max latency.
100000 records sent, 49975.0 records/sec (11.92 MB/sec), 1.52 ms avg latency, 215.00 ms max latency, 1 ms 50th, 3 ms 95th, 9 ms 99th, 13 ms 99.9th.
"""


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.25)


@pytest.fixture
def api(kube_testbed: ControlPlane) -> Iterator[client.ApiClient]:
    with kube_testbed.api_client() as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    # Pods need the namespace's service account (the controller-manager makes it).
    wait_until(lambda: bool(core.list_namespaced_service_account(name).items), f"service account in {name}")
    yield name
    try:
        core.delete_namespace(name)
    except ApiException:
        pass


def pod_template(labels: dict[str, str], restart_policy: str = "Always") -> dict:
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [{"name": "main", "image": "example.invalid/never-pulled:1",
                            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
        },
    }


def test_control_plane_is_up_with_three_ready_fake_nodes(kube_testbed: ControlPlane, api: client.ApiClient):
    assert kube_testbed.server.startswith("https://127.0.0.1:")
    assert client.VersionApi(api).get_code().git_version == layout.K8S_VERSION
    nodes = client.CoreV1Api(api).list_node().items
    assert sorted(n.metadata.name for n in nodes) == ["kwok-node-0", "kwok-node-1", "kwok-node-2"]
    for node in nodes:
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        assert ready and ready[0].status == "True"
        assert node.metadata.labels["kubernetes.io/hostname"] == node.metadata.name


def test_statefulset_and_deployment_of_two_replicas_go_ready(kube_testbed: ControlPlane, api: client.ApiClient,
                                                             namespace: str):
    apps = client.AppsV1Api(api)
    client.CoreV1Api(api).create_namespaced_service(namespace, {
        "metadata": {"name": "brokers"},
        "spec": {"clusterIP": "None", "selector": {"app": "broker"}, "ports": [{"port": 9092}]},
    })
    apps.create_namespaced_stateful_set(namespace, {
        "metadata": {"name": "broker"},
        "spec": {"serviceName": "brokers", "replicas": 2, "selector": {"matchLabels": {"app": "broker"}},
                 "podManagementPolicy": "Parallel", "template": pod_template({"app": "broker"})},
    })
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "loader"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "loader"}}, "template": pod_template({"app": "loader"})},
    })
    wait_until(lambda: apps.read_namespaced_stateful_set("broker", namespace).status.ready_replicas == 2,
               "StatefulSet broker has 2 ready replicas")
    wait_until(lambda: apps.read_namespaced_deployment("loader", namespace).status.ready_replicas == 2,
               "Deployment loader has 2 ready replicas")
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace).items
    assert len(pods) == 4
    assert {p.spec.node_name for p in pods} <= set(kube_testbed.node_names)
    assert all(p.status.phase == "Running" for p in pods)


def test_indexed_job_completes_with_fed_termination_messages_and_logs(kube_testbed: ControlPlane, api: client.ApiClient,
                                                                      namespace: str, tmp_path: Path):
    for index in range(3):
        output = tmp_path / f"producer-{index}.out"
        output.write_text(f"producer {index}\n{PRODUCER_OUTPUT}")
        # Pods of an Indexed Job are named <job>-<index>-<random>.
        kube_testbed.serve_logs(namespace, f"producers-{index}-", output,
                                termination_message=f"records/sec for producer {index}")
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "producers"},
        "spec": {"completions": 3, "parallelism": 3, "completionMode": "Indexed", "backoffLimit": 0,
                 "template": pod_template({"app": "producer"}, restart_policy="Never")},
    })

    def complete() -> bool:
        conditions = batch.read_namespaced_job("producers", namespace).status.conditions or []
        return any(c.type == "Complete" and c.status == "True" for c in conditions)

    wait_until(complete, "Job producers Complete")
    core = client.CoreV1Api(api)
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=producers").items
    assert len(pods) == 3
    for pod in pods:
        index = pod.metadata.annotations["batch.kubernetes.io/job-completion-index"]
        assert pod.status.phase == "Succeeded"
        terminated = pod.status.container_statuses[0].state.terminated
        assert (terminated.exit_code, terminated.reason) == (0, "Completed")
        assert terminated.message == f"records/sec for producer {index}"
        assert core.read_namespaced_pod_log(pod.metadata.name, namespace) == f"producer {index}\n{PRODUCER_OUTPUT}"


def test_a_fed_exit_code_fails_the_job(kube_testbed: ControlPlane, api: client.ApiClient, namespace: str,
                                       tmp_path: Path):
    output = tmp_path / "failing.out"
    output.write_text("org.apache.kafka.common.errors.TimeoutException: topic not present\n")
    kube_testbed.serve_logs(namespace, "failing-", output, termination_message="TimeoutException", exit_code=1)
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "failing"},
        "spec": {"backoffLimit": 0, "template": pod_template({"app": "failing"}, restart_policy="Never")},
    })

    def failed() -> bool:
        conditions = batch.read_namespaced_job("failing", namespace).status.conditions or []
        return any(c.type == "Failed" and c.status == "True" for c in conditions)

    wait_until(failed, "Job failing Failed")
    pod = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="job-name=failing").items[0]
    terminated = pod.status.container_statuses[0].state.terminated
    assert (pod.status.phase, terminated.exit_code, terminated.message) == ("Failed", 1, "TimeoutException")


def test_namespace_deletion_finishes(api: client.ApiClient):
    core = client.CoreV1Api(api)
    name = f"gone-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_until(lambda: bool(core.list_namespaced_service_account(name).items), f"service account in {name}")
    client.AppsV1Api(api).create_namespaced_deployment(name, {
        "metadata": {"name": "loader"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "loader"}}, "template": pod_template({"app": "loader"})},
    })
    wait_until(lambda: len(core.list_namespaced_pod(name).items) == 2, "2 pods in the namespace")
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
            return False
        except ApiException as error:
            return error.status == 404

    wait_until(gone, f"namespace {name} deleted", timeout_s=120)


def test_stop_leaves_no_process_and_frees_the_ports(tmp_path: Path):
    plane = ControlPlane(nodes=1, workdir=tmp_path / "kube")
    plane.start()
    pids = [proc.pid for proc in plane.processes]
    ports = dict(plane.ports)
    names = sorted(proc.name for proc in plane.processes)
    plane.stop()
    assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
    alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    for name, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # SO_REUSEADDR: closed connections may linger in TIME_WAIT; a listener may not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen()
    assert processes_using(tmp_path / "kube") == []


def test_sigterm_to_the_owner_stops_every_component(tmp_path: Path):
    workdir = tmp_path / "kube"
    owner = subprocess.Popen(
        [sys.executable, "-c", (
            "import time\n"
            "from pathlib import Path\n"
            "from kubetestbed.controlplane import ControlPlane\n"
            f"with ControlPlane(nodes=1, workdir=Path({str(workdir)!r})):\n"
            "    print('up', flush=True)\n"
            "    time.sleep(300)\n"
        )],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
    )
    try:
        assert owner.stdout.readline().strip() == "up"  # start() is bounded by its own timeouts
        components = [c for c in processes_using(workdir) if c[0] != sys.executable]  # not the owner
        assert len(components) == 5
    finally:
        # SIGTERM even when an assertion failed: a SIGKILLed owner could not stop its components.
        owner.send_signal(signal.SIGTERM)
        owner.wait(timeout=60)
    assert processes_using(workdir) == []


def processes_using(workdir: Path) -> list[list[str]]:
    """Command lines of live processes that name `workdir` (each component's flags do)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and any(str(workdir) in arg for arg in cmdline):
            found.append(cmdline)
    return found


def test_a_missing_build_fails_with_the_make_target(tmp_path: Path):
    with pytest.raises(BinariesMissing, match="make kube-testbed"):
        ControlPlane(nodes=0, workdir=tmp_path, version="v0.0.0-not-built").start()
