"""The experiment flow as a Prefect Kubernetes work-pool job on a real node of the test bed.

What a user of deployments/kubernetes/ does, for real: a Kubernetes work pool made from
base-job-template.json on the tests' Prefect server, rbac.yaml applied, a deployment of the
experiment flow as prefect.yaml declares it (entrypoint, pull step), and a `prefect worker`
(prefect-kubernetes) with the test bed's kubeconfig. The worker turns the flow run into a Job;
its pod runs the runner image (kafkalab.local/runner:<version>, kubetestbed/runner_image.py)
on the real node: the flow starts a 1-broker KRaft cluster inside the pod (the local
platform), sends a few thousand records and stores the run. The pod reaches the Prefect API
and the results PostgreSQL, both on the host's 127.0.0.1 only, through forwarders on the node
IP (kubetestbed/host_services.py), named in the pool's job variables.

Checked as a user would: the flow run Completed in Prefect, its run in PostgreSQL with every
record acknowledged and in the topic, the Job succeeded and its pod finished, and the worker
stopped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import utils

from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import wait_until
from kubetestbed import images, runner_image
from kubetestbed.host_services import HostServicesForPods
from tests.databases import fresh_database

pytestmark = [pytest.mark.kube, pytest.mark.kube_real]

REPO = Path(__file__).resolve().parents[1]
K8S_DIR = REPO / "deployments" / "kubernetes"
NAMESPACE = "kafkalab"  # base-job-template.json's and rbac.yaml's
RECORDS = 3000
SPEC = {
    "name": "work-pool-real",
    "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
    "topic": {"partitions": 2, "replication_factor": 1},
    "producer": {"instances": 1, "num_records": RECORDS, "record_size": 100, "throughput": -1, "heap_mb": 128},
    "consumer": {"enabled": False},
}
# The pod holds the flow (Python), a controller, a broker and a producer JVM: sized for the
# node's 2 CPUs (requests) with room to burst, and memory for the heaps above plus Python.
POD_RESOURCES = {"cpu_request": "1", "cpu_limit": "2", "memory_request": "1536Mi", "memory_limit": "3Gi",
                 "data_size_limit": "2Gi"}
RUN_TIMEOUT_S = 480  # 40-120 s here (quiet to load average 13); generous for a loaded 2-core machine
JOB_END_TIMEOUT_S = 120


@dataclass
class PoolRun:
    flow_run: Any
    node_name: str
    jobs: list[k8s.V1Job]
    pods: list[k8s.V1Pod]
    runs: list[dict[str, Any]]
    worker_exit_code: int | None
    worker_pid: int
    worker_log: Path


def _apply_rbac(api: k8s.ApiClient) -> bool:
    """deployments/kubernetes/rbac.yaml, as a user applies it; False when it was there already
    (another test of the session applied it: kept)."""
    try:
        utils.create_from_yaml(api, str(K8S_DIR / "rbac.yaml"))
    except utils.FailToCreateError as failure:
        if any(error.status != 409 for error in failure.api_exceptions):
            raise
        return False
    return True


def _remove_rbac(api: k8s.ApiClient) -> None:
    """Undo _apply_rbac: the namespace (with its service account) and the cluster-wide objects."""
    rbac = k8s.RbacAuthorizationV1Api(api)
    rbac.delete_cluster_role_binding("kafkalab-runner-platform")
    rbac.delete_cluster_role("kafkalab-platform")
    k8s.CoreV1Api(api).delete_namespace(NAMESPACE)


def _deployment_declared() -> dict[str, Any]:
    """The experiment deployment of prefect.yaml, and the project's pull steps."""
    data = yaml.safe_load((K8S_DIR / "prefect.yaml").read_text())
    (declared,) = [d for d in data["deployments"] if d["name"] == "experiment-k8s"]
    return {"entrypoint": declared["entrypoint"], "pull_steps": data["pull"],
            "job_variables": declared["work_pool"]["job_variables"]}


def _rows(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    from kafkalab.results.store import Store

    with Store(url) as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, row)) for row in data]


def _pod_state(core: k8s.CoreV1Api, flow_run_id: str) -> str:
    pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"prefect.io/flow-run-id={flow_run_id}").items
    return "; ".join(f"{p.metadata.name}: {p.status.phase} "
                     f"{[(s.state.waiting or s.state.terminated) for s in p.status.container_statuses or []]}"
                     for p in pods) or "no pod"


@pytest.fixture(scope="module")
def runner_archive() -> Path:
    """The runner image, built once (cached: seconds when up to date)."""
    try:
        return runner_image.build()
    except images.ImageError as error:
        pytest.fail(f"building {runner_image.image_name()} failed: {error}", pytrace=False)


@pytest.fixture(scope="module")
def pool_run(kube_real_testbed, runner_archive, prefect_api, results_db_url, tmp_path_factory) -> PoolRun:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL

    plane = kube_real_testbed
    node = plane.real_nodes[0]
    admin = plane.api_client()
    core, batch = k8s.CoreV1Api(admin), k8s.BatchV1Api(admin)
    started = time.monotonic()
    images.import_image(runner_archive, node.containerd_socket)
    print(f"imported {runner_image.image_name()} into {node.name} in {time.monotonic() - started:.0f} s")
    rbac_applied = _apply_rbac(admin)
    root = tmp_path_factory.mktemp("work-pool")
    api_url = PREFECT_API_URL.value()
    pool = f"kafkalab-k8s-{uuid.uuid4().hex[:6]}"
    template = json.loads((K8S_DIR / "base-job-template.json").read_text())
    declared = _deployment_declared()
    worker: ManagedProcess | None = None
    flow_run_id: str | None = None
    deployment_id: uuid.UUID | None = None

    with fresh_database(results_db_url, prefix="workpool") as db_url, HostServicesForPods(node) as services:
        job_variables = {
            **declared["job_variables"],
            "image": runner_image.image_name(),  # imported into the node, never pulled
            "image_pull_policy": "Never",
            "env": {**template["variables"]["properties"]["env"]["default"],
                    "PREFECT_API_URL": services.url(api_url), "DATABASE_URL": services.url(db_url)},
            "pod_watch_timeout_seconds": 300,
            **POD_RESOURCES,
        }

        async def submit() -> str:
            nonlocal deployment_id
            async with get_client() as prefect:
                await prefect.create_work_pool(WorkPoolCreate(name=pool, type="kubernetes",
                                                              base_job_template=template))
                flow_id = await prefect.create_flow_from_name("experiment")
                deployment_id = await prefect.create_deployment(
                    flow_id, "experiment-k8s", work_pool_name=pool, entrypoint=declared["entrypoint"],
                    pull_steps=declared["pull_steps"], job_variables=job_variables)
                run = await prefect.create_flow_run_from_deployment(deployment_id, parameters={"spec": SPEC})
                return str(run.id)

        async def final_state():
            async with get_client() as prefect:
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while time.monotonic() < deadline:
                    run = await prefect.read_flow_run(uuid.UUID(flow_run_id))
                    if run.state is not None and run.state.is_final():
                        return run
                    if worker.poll() is not None:
                        pytest.fail(f"the worker exited ({worker.poll()}) before the flow run ended: "
                                    f"{worker.output()[-1500:]}", pytrace=False)
                    await asyncio.sleep(2)
                pytest.fail(f"flow run {flow_run_id} not final after {RUN_TIMEOUT_S} s "
                            f"({run.state and run.state.name}; pod: {_pod_state(core, flow_run_id)}); "
                            f"worker log: {worker.output()[-1500:]}", pytrace=False)

        async def forget() -> None:
            from prefect.exceptions import ObjectNotFound

            async with get_client() as prefect:
                with contextlib.suppress(ObjectNotFound):  # not made when the test failed before
                    if deployment_id is not None:
                        await prefect.delete_deployment(deployment_id)
                    await prefect.delete_work_pool(pool)

        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DATABASE_URL"}
        env.update({"PREFECT_API_URL": api_url, "PREFECT_HOME": str(root / "prefect-home"),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "2",
                    "KUBECONFIG": str(plane.kubeconfig)})
        try:
            flow_run_id = asyncio.run(submit())
            worker = ManagedProcess("prefect-worker", [str(REPO / ".venv" / "bin" / "prefect"), "worker", "start",
                                                        "--pool", pool, "--type", "kubernetes", "--limit", "1"],
                                    root / "worker.log", env=env, cwd=root)
            started = time.monotonic()
            final = asyncio.run(final_state())
            print(f"flow run {final.name}: {final.state.name} {time.monotonic() - started:.0f} s after the worker started")
            selector = f"prefect.io/flow-run-id={flow_run_id}"

            def jobs_ended() -> list[k8s.V1Job] | None:
                # The flow run is final once the flow reported it; its pod exits a moment later, and
                # the Job controller counts it (uncountedTerminatedPods first) before the Job's
                # Complete or Failed condition says it ended.
                found = batch.list_namespaced_job(NAMESPACE, label_selector=selector).items
                finished = [job for job in found if any(c.type in ("Complete", "Failed") and c.status == "True"
                                                        for c in job.status.conditions or [])]
                return found if found and len(finished) == len(found) else None

            jobs = wait_until(jobs_ended, JOB_END_TIMEOUT_S, f"the Job of flow run {flow_run_id} ended",
                              interval=1, detail=lambda: _pod_state(core, flow_run_id))
            pods = core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
            runs = _rows(db_url, "SELECT * FROM runs WHERE flow_run_id = :id", id=flow_run_id)
        finally:
            exit_code = worker.stop(grace_s=20) if worker is not None else None
            try:
                if flow_run_id is not None:  # the Job and its pod, gone before the next test's pods come
                    selector = f"prefect.io/flow-run-id={flow_run_id}"
                    batch.delete_collection_namespaced_job(NAMESPACE, label_selector=selector,
                                                           propagation_policy="Foreground")
                    wait_until(lambda: not core.list_namespaced_pod(NAMESPACE, label_selector=selector).items,
                               JOB_END_TIMEOUT_S, f"the pod of flow run {flow_run_id} deleted", interval=1)
                if rbac_applied:
                    _remove_rbac(admin)
            finally:
                asyncio.run(forget())
                admin.close()
    return PoolRun(final, node.name, jobs, pods, runs, exit_code, worker.pid, worker.log_path)


def test_the_flow_run_completes_in_a_pod_of_the_runner_image_on_the_real_node(pool_run):
    assert pool_run.flow_run.state.is_completed(), (pool_run.flow_run.state, pool_run.worker_log.read_text()[-2000:])
    (pod,) = pool_run.pods
    assert pod.spec.node_name == pool_run.node_name
    (container,) = pod.spec.containers
    assert container.image == runner_image.image_name() and container.args[:3] == ["prefect", "flow-run", "execute"]
    assert container.resources.requests == {"cpu": "1", "memory": "1536Mi"}


def test_its_run_is_stored_with_every_record_acknowledged_and_in_the_topic(pool_run):
    (run,) = pool_run.runs
    assert run["status"] == "ok", run["error"]
    assert run["platform"] == "local" and run["brokers"] == 1
    assert run["records_acknowledged"] == RECORDS == run["records_in_topic"]


def test_the_job_succeeded_its_pod_finished_and_the_worker_stopped(pool_run):
    (job,) = pool_run.jobs  # finished_job_ttl keeps it a day; the test deletes it afterwards
    assert job.status.succeeded == 1 and not job.status.failed
    assert [p.status.phase for p in pool_run.pods] == ["Succeeded"]
    assert pool_run.worker_exit_code is not None and not psutil.pid_exists(pool_run.worker_pid)
