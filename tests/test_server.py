"""`kafkalab server up` end to end, all real: the embedded PostgreSQL it starts, a Prefect
server on it, the deployments of deployments/prefect.yaml, a process worker running the
experiment flow on a real local Kafka cluster, the UI in headless Chromium, and `down`
leaving nothing behind.

The module starts one server (in a data dir of its own, with nothing configured, as a new
user would) and talks to it the way the UI does: through the Prefect API.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest

from kafkalab.core.net import port_is_free
from kafkalab.kafka import loadgen
from kafkalab.results import database

REPO = Path(__file__).resolve().parents[1]
OUTPUT = Path(os.environ.get("KAFKALAB_TEST_OUTPUT") or REPO / "test-output")
CHROMIUM = Path("/usr/bin/chromium")
RUN_TIMEOUT_S = 300  # a tiny experiment takes ~25 s; bounded generously for a busy 2-core machine

pytestmark = [pytest.mark.kafka, pytest.mark.server]

TINY_SETTINGS = ["cluster.heap_mb=256", "cluster.controller_heap_mb=192", "producer.heap_mb=128",
                 "consumer.heap_mb=128", "consumer.timeout_ms=10000"]
TINY_OVERRIDES = {"name": "srv-run-button", "brokers": 1, "partitions": 2, "replication_factor": 1,
                  "producer_instances": 1, "num_records": 3000, "record_size": 100, "settings": TINY_SETTINGS}
TINY_SPEC = {
    "name": "srv-scheduled",
    "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
    "topic": {"partitions": 2, "replication_factor": 1},
    "producer": {"instances": 1, "num_records": 3000, "record_size": 100, "throughput": -1, "heap_mb": 128},
    "consumer": {"heap_mb": 128, "timeout_ms": 10000},
}


@dataclass
class Lab:
    root: Path
    env: dict[str, str]
    up_outputs: list[subprocess.CompletedProcess]

    @property
    def data_dir(self) -> Path:
        return Path(self.env["KAFKALAB_DATA_DIR"])

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "server" / "state.json").read_text())

    @property
    def api_url(self) -> str:
        return self.state["api_url"]

    def cli(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kafkalab", *args], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)

    def results_url(self) -> str:
        if self.env.get("DATABASE_URL"):
            return self.env["DATABASE_URL"]
        status = database.EmbeddedServer(self.data_dir / "postgres").status()
        assert status.running
        return status.url(database.RESULTS_DATABASE)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        from kafkalab.results.store import Store

        with Store(self.results_url()) as store:
            columns, data = store.query(sql, params or None)
        return [dict(zip(columns, r)) for r in data]

    def api(self, fn):
        """Run `fn(client)` against the lab's server with a Prefect client of its own."""
        from prefect.client.orchestration import PrefectClient

        async def main():
            async with PrefectClient(self.api_url) as client:
                return await fn(client)

        return asyncio.run(main())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, kafka_dist) -> Lab:
    root = tmp_path_factory.mktemp("server-lab")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "KAFKALAB_DATA_DIR") and not k.startswith("PREFECT_")}
    env.update({
        "KAFKALAB_DATA_DIR": str(root / "data"),
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    })
    external = os.environ.get("KAFKALAB_TEST_DATABASE_URL", "").strip()
    if external:  # the same test against another PostgreSQL: results there, Prefect in a fresh database
        env["DATABASE_URL"] = database.libpq_url(external)
        env["KAFKALAB_PREFECT_DATABASE_URL"] = database.ensure_database(
            f"prefect_{uuid.uuid4().hex[:10]}", server_url=env["DATABASE_URL"])
    lab = Lab(root, env, [])
    try:
        for _ in range(2):  # the second `up` finds the first one's server and worker
            lab.up_outputs.append(lab.cli("server", "up"))
            assert lab.up_outputs[-1].returncode == 0, lab.up_outputs[-1].stderr
        yield lab
    finally:
        lab.cli("server", "down", timeout=120)  # the last test asserts what it leaves; this is the safety net


async def _wait_final(client, flow_run_id, timeout_s: float = RUN_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        run = await client.read_flow_run(flow_run_id)
        if run.state is not None and run.state.is_final():
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"flow run {run.name} still {run.state.type if run.state else None} after {timeout_s} s")
        await asyncio.sleep(1)


# --------------------------------------------------------------------------- up


def test_up_twice_finds_the_running_server(lab):
    first, second = lab.up_outputs
    assert "Prefect UI:  http://127.0.0.1:" in first.stdout
    assert "starting Prefect server" in first.stderr and "starting worker" in first.stderr
    assert "embedded PostgreSQL started" in first.stderr or lab.env.get("DATABASE_URL")
    assert "already running" in second.stderr and "starting" not in second.stderr
    state = lab.state
    assert psutil.pid_exists(state["server"]["pid"]) and psutil.pid_exists(state["worker"]["pid"])
    status = lab.cli("server", "status").stdout
    assert f"running (pid {state['server']['pid']}), ready" in status
    assert "worker: running" in status and ", online" in status
    assert "deployment experiment/guide-baseline-nightly (schedules: nightly paused (cron 0 2 * * * UTC))" in status


def test_deployments_pool_and_prefect_database(lab):
    async def read(client):
        pool = await client.read_work_pool("kafkalab-local")
        exp = await client.read_deployment_by_name("experiment/experiment")
        nightly = await client.read_deployment_by_name("experiment/guide-baseline-nightly")
        return pool, exp, nightly

    pool, exp, nightly = lab.api(read)
    assert pool.type == "process" and pool.concurrency_limit == 1
    assert exp.parameters["spec_file"] == "experiments/quickstart.yaml"
    assert "SpecOverrides" in exp.parameter_openapi_schema["definitions"]
    assert exp.enforce_parameter_schema
    assert [s.active for s in nightly.schedules] == [False]
    assert nightly.global_concurrency_limit.limit == 1
    assert nightly.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert lab.state["prefect_database"].endswith("/prefect") or lab.env.get("KAFKALAB_PREFECT_DATABASE_URL")


# --------------------------------------------------------------------------- runs


def test_run_button_runs_the_experiment_and_stores_its_flow_run(lab):
    async def run(client):
        deployment = await client.read_deployment_by_name("experiment/experiment")
        # What the UI's Run button does: a flow run of the deployment with the form's parameters
        # (merged over the deployment's: spec_file experiments/quickstart.yaml).
        created = await client.create_flow_run_from_deployment(deployment.id, parameters={"overrides": TINY_OVERRIDES})
        final = await _wait_final(client, created.id)
        artifacts = await client.read_artifacts()
        return final, [a for a in artifacts if a.flow_run_id == final.id]

    final, artifacts = lab.api(run)
    assert final.state.is_completed(), final.state
    assert final.name == "srv-run-button"  # the flow names its runs after the experiment
    (stored,) = lab.rows("SELECT * FROM v_run_totals WHERE flow_run_id = :id", id=str(final.id))
    assert stored["experiment"] == "srv-run-button" and stored["status"] == "ok"
    assert stored["brokers"] == 1 and stored["total_records"] == 3000 == stored["records_in_topic"]
    # the run's summary, and the experiment's change points with this run in its history
    assert sorted(a.key for a in artifacts if a.type == "markdown") == [
        "change-points-srv-run-button", "kafkalab-srv-run-button-summary"]
    (markdown,) = [a for a in artifacts if a.key == "kafkalab-srv-run-button-summary"]
    assert f"{lab.state['ui_url']}/runs/flow-run/{final.id}" in markdown.data
    assert f"| {stored['run_id']} | 1 | ok | 1 | 2 | 100 | 1/1 |" in markdown.data
    # `kafkalab results` links each run to its flow run in the UI of the running server.
    listed = lab.cli("results", "--experiment", "srv-run-button", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["flow_run_url"] == f"{lab.state['ui_url']}/runs/flow-run/{final.id}"
    # A run recorded on another (e.g. a CLI run's temporary) API gets no dead link.
    from kafkalab.app import links

    unknown = str(uuid.uuid4())
    assert links.flow_run_links([str(final.id), unknown], {"PREFECT_API_URL": lab.api_url}) == {
        str(final.id): row["flow_run_url"]}


def test_cli_runs_are_recorded_on_the_running_server(lab):
    sets = [f"--set={item}" for item in TINY_SETTINGS] + [
        "--set=name=srv-cli-run", "--set=cluster.brokers=1", "--set=topic.partitions=2",
        "--set=topic.replication_factor=1", "--set=producer.instances=1", "--set=producer.num_records=2000"]
    ran = lab.cli("run", "experiments/quickstart.yaml", *sets)
    assert ran.returncode == 0, ran.stderr[-2000:]
    (row,) = json.loads(lab.cli("results", "--experiment", "srv-cli-run", "--format", "json").stdout)
    flow_run = lab.api(lambda client: client.read_flow_run(uuid.UUID(row["flow_run_id"])))
    assert flow_run.name == "srv-cli-run" and flow_run.state.is_completed()
    assert row["flow_run_url"] == f"{lab.state['ui_url']}/runs/flow-run/{row['flow_run_id']}"


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"overrides": {"num_records": -5}}, "overrides.num_records"),
        ({"overrides": {"compression_type": "brotli"}}, "overrides.compression_type"),
        ({"spec_file": None, "spec": {**TINY_SPEC, "cluster": {"borkers": 3}}}, "spec.cluster"),
        ({"spec_file": None, "spec": {**TINY_SPEC, "producer": {"num_records": 0}}}, "spec.producer"),
    ],
)
def test_invalid_parameters_are_rejected_with_the_field_named(lab, parameters, field):
    from prefect.exceptions import PrefectHTTPStatusError

    async def submit(client):
        deployment = await client.read_deployment_by_name("experiment/experiment")
        before = await client.read_flow_runs()
        with pytest.raises(PrefectHTTPStatusError) as err:
            await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
        after = await client.read_flow_runs()
        return err.value, len(before), len(after)

    error, before, after = lab.api(submit)
    assert error.response.status_code == 409
    assert f"Validation failed for field '{field}" in error.response.json()["detail"]
    assert after == before  # nothing was created, so nothing runs


def test_a_schedule_runs_the_flow_without_anyone_calling_it(lab):
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.schedules import IntervalSchedule

    async def scheduled(client):
        template = await client.read_deployment_by_name("experiment/experiment")
        # Every 20 seconds: the server's scheduler creates the runs, the worker picks them up.
        # Nobody creates a flow run here.
        deployment_id = await client.create_deployment(
            flow_id=template.flow_id, name="every-20-seconds", entrypoint=template.entrypoint, path=template.path,
            pull_steps=template.pull_steps, parameter_openapi_schema=template.parameter_openapi_schema,
            enforce_parameter_schema=True, work_pool_name="kafkalab-local", work_queue_name="default",
            parameters={"spec": TINY_SPEC, "spec_file": None},
            schedules=[DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(seconds=20)),
                                                active=True, max_scheduled_runs=1)],
        )
        of_it = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        try:
            deadline = time.monotonic() + 120
            while True:  # until the worker has taken a scheduled run
                assert time.monotonic() < deadline, "no scheduled run was started within 120 s"
                runs = await client.read_flow_runs(deployment_filter=of_it)
                started = [r for r in runs if r.state and r.state.type != StateType.SCHEDULED]
                if started:
                    break
                await asyncio.sleep(1)
            # One is enough: pausing drops the runs the scheduler lined up after it (the
            # work pool's one slot keeps them from starting meanwhile).
            await client.pause_deployment(deployment_id)
            return await _wait_final(client, started[0].id)
        finally:
            await client.delete_deployment(deployment_id)

    final = lab.api(scheduled)
    assert final.auto_scheduled and final.state.is_completed(), final.state
    (stored,) = lab.rows("SELECT * FROM runs WHERE flow_run_id = :id", id=str(final.id))
    assert stored["status"] == "ok"


def test_an_overlapping_scheduled_run_is_cancelled_and_says_so(lab):
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled, Pending, Scheduled

    async def overlap(client):
        nightly = await client.read_deployment_by_name("experiment/guide-baseline-nightly")
        later = Scheduled(scheduled_time=datetime.now(timezone.utc) + timedelta(days=1))  # out of the worker's sight
        running = await client.create_flow_run_from_deployment(nightly.id, state=later)
        second = await client.create_flow_run_from_deployment(nightly.id, state=later)
        try:
            # What the worker does with a run that comes due: propose Pending. The first takes
            # the deployment's one slot; the second finds it taken.
            taken = await client.set_flow_run_state(running.id, Pending())
            refused = await client.set_flow_run_state(second.id, Pending())
        finally:
            await client.set_flow_run_state(running.id, Cancelled(), force=True)  # frees the slot
            await client.set_flow_run_state(second.id, Cancelled(), force=True)
        return taken, refused

    taken, refused = lab.api(overlap)
    assert taken.state.type == StateType.PENDING
    assert refused.state.type == StateType.CANCELLED
    assert refused.state.message == "Deployment concurrency limit reached."


def test_schedules_turned_on_stay_on_when_deployments_are_registered_again(lab):
    def nightly_active() -> list[bool]:
        deployment = lab.api(lambda client: client.read_deployment_by_name("experiment/guide-baseline-nightly"))
        return [s.active for s in deployment.schedules]

    # The documented command turns the nightly schedule on ...
    on = lab.cli("server", "schedule", "guide-baseline-nightly", "on")
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == "experiment/guide-baseline-nightly: schedule nightly (cron 0 2 * * * UTC) on"
    assert nightly_active() == [True]
    try:
        # ... and registering prefect.yaml again (where it is paused) keeps it on.
        again = lab.cli("server", "up", "--redeploy")
        assert again.returncode == 0, again.stderr
        assert "kept schedule state experiment/guide-baseline-nightly:nightly=on" in again.stderr
        assert nightly_active() == [True]
    finally:
        off = lab.cli("server", "schedule", "experiment/guide-baseline-nightly", "off")
    assert off.returncode == 0 and nightly_active() == [False]
    unknown = lab.cli("server", "schedule", "nightly-typo", "on")
    assert unknown.returncode == 2 and "no deployment 'nightly-typo' (deployments: capacity/capacity, experiment/experiment," \
        in unknown.stderr, unknown.stderr


# --------------------------------------------------------------------------- cancellation


def _jvms_under(directory: Path) -> list[str]:
    """Command lines of the live JVMs that point into `directory`."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "java" in (proc.info["name"] or "") and proc.info["status"] != psutil.STATUS_ZOMBIE \
                and str(directory) in cmdline:
            found.append(cmdline)
    return found




def test_cancelling_a_running_flow_stops_every_process_and_marks_the_run(lab):
    """The UI's Cancel button on a run in its producer test: the worker stops the flow process,
    whose teardown stops the perf tools and the cluster; the run is stored as cancelled."""
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelling

    runs_root = lab.data_dir / "runs"
    # ~100 s of producing at 2000 rec/s: long enough to be cancelled in the middle of it
    overrides = {**TINY_OVERRIDES, "name": "srv-cancel", "num_records": 200_000, "throughput": 2000}

    async def cancel(client):
        deployment = await client.read_deployment_by_name("experiment/experiment")
        created = await client.create_flow_run_from_deployment(deployment.id, parameters={"overrides": overrides})
        deadline = time.monotonic() + RUN_TIMEOUT_S
        producers: list[str] = []
        while not producers:  # until the producer test is under way
            assert time.monotonic() < deadline, "the producer test did not start"
            producers = [c for c in _jvms_under(runs_root) if "-srv-cancel-" in c
                         and ("ProducerPerformance" in c or (loadgen.MAIN in c and " produce " in c))]
            await asyncio.sleep(0.5)
        run_dir = next(runs_root.glob("*-srv-cancel-*"))
        await asyncio.sleep(2)
        await client.set_flow_run_state(created.id, Cancelling(), force=True)
        return await _wait_final(client, created.id, timeout_s=120), run_dir

    final, run_dir = lab.api(cancel)
    assert final.state.type == StateType.CANCELLED, final.state
    assert not _jvms_under(run_dir)
    ports = [int(line.rsplit(":", 1)[1]) for cfg in run_dir.glob("*/server.properties")
             for line in cfg.read_text().splitlines() if line.startswith("listeners=")]
    # Nothing listens any more (the TIME_WAIT a killed broker leaves on its port does not count).
    assert len(ports) == 2 and all(port_is_free(p) for p in ports), ports
    assert not (run_dir / "pids.json").exists()  # the cluster's claim on its directory is released
    (stored,) = lab.rows("SELECT status, error FROM runs WHERE flow_run_id = :id", id=str(final.id))
    assert stored["status"] == "cancelled" and stored["error"].startswith("cancelled (TerminationSignal) during"), stored


# --------------------------------------------------------------------------- Kubernetes pool


def test_kubernetes_work_pool_accepts_the_template_and_makes_a_job(lab):
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.objects import Flow, FlowRun
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    template = json.loads((REPO / "deployments" / "kubernetes" / "base-job-template.json").read_text())
    name = f"kafkalab-k8s-{uuid.uuid4().hex[:6]}"

    async def pool(client):
        await client.create_work_pool(WorkPoolCreate(name=name, type="kubernetes", base_job_template=template))
        try:
            stored = await client.read_work_pool(name)
            config = await KubernetesWorkerJobConfiguration.from_template_and_values(
                stored.base_job_template, {"image": "reg.example/kafkalab-runner:0.1.0"}, client=client)
        finally:
            await client.delete_work_pool(name)
        flow = Flow(id=uuid.uuid4(), name="experiment")
        config.prepare_for_flow_run(FlowRun(id=uuid.uuid4(), name="brave-otter", flow_id=flow.id), flow=flow)
        return config.job_manifest

    manifest = lab.api(pool)
    assert manifest["apiVersion"] == "batch/v1" and manifest["kind"] == "Job"
    assert manifest["metadata"]["namespace"] == "kafkalab" and manifest["spec"]["backoffLimit"] == 0
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "reg.example/kafkalab-runner:0.1.0" and container["workingDir"] == "/opt/kafkalab"
    assert container["args"][:3] == ["prefect", "flow-run", "execute"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KAFKALAB_DATA_DIR"] == "/var/lib/kafkalab" and "PREFECT__FLOW_RUN_ID" in env
    assert container["envFrom"] == [{"secretRef": {"name": "kafkalab-results-db", "optional": True}}]
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    assert pod["volumes"][0]["emptyDir"]["sizeLimit"] == "20Gi" and pod["serviceAccountName"] == "kafkalab-runner"


# --------------------------------------------------------------------------- the UI


def _chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,2400", "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=30000", *args, url,
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)")
def test_the_run_form_in_a_browser_shows_the_experiment_parameters(lab, tmp_path):
    deployment = lab.api(lambda client: client.read_deployment_by_name("experiment/experiment"))
    url = f"{lab.state['ui_url']}/deployments/deployment/{deployment.id}/run"
    page = _chromium(url, tmp_path / "dom-profile", "--dump-dom")
    assert page.returncode == 0, page.stderr[-2000:]
    for text in ("Parameters", "spec_file", "experiments/quickstart.yaml", "Experiment spec", "overrides",
                 "Records per producer", "Compression", "Tuning profile", "Submit"):
        assert text in page.stdout, text
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "server-ui-run-form.png"
    shot.unlink(missing_ok=True)
    taken = _chromium(url, tmp_path / "shot-profile", f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.stat().st_size > 20_000, taken.stderr[-2000:]
    print(f"screenshot of the run form: {shot}")


# --------------------------------------------------------------------------- down


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent (an orphan's parent here is pid 1)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_down_stops_everything_it_started(lab):
    state = lab.state
    pg = database.EmbeddedServer(lab.data_dir / "postgres").status()
    tree = []
    for key in ("server", "worker"):
        root = psutil.Process(state[key]["pid"])
        tree += [root, *root.children(recursive=True)]
    down = lab.cli("server", "down", timeout=120)
    assert down.returncode == 0, down.stderr
    assert "worker stopped" in down.stdout and "server stopped" in down.stdout
    if state["started_postgres"]:
        assert "embedded PostgreSQL stopped" in down.stdout
        assert pg.pid and not _alive(pg.pid)
    left = [p for p in tree if _alive(p.pid)]
    assert left == [], left
    mine = str(lab.root)
    strays = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info["status"] != psutil.STATUS_ZOMBIE and mine in " ".join(p.info["cmdline"] or []):
            strays.append(p)
    assert strays == [], strays  # no postgres of its data dir, no JVM of its runs
    assert "Prefect server: stopped" in lab.cli("server", "status").stdout
    again = lab.cli("server", "down")
    assert again.returncode == 0 and "nothing was running" in again.stdout


def test_up_after_down_reuses_the_registered_deployments(lab):
    up = lab.cli("server", "up")
    try:
        assert up.returncode == 0, up.stderr
        assert "deployments already registered" in up.stderr and "registering" not in up.stderr
        status = lab.cli("server", "status").stdout
        assert "deployment experiment/experiment" in status and ", online" in status
    finally:
        down = lab.cli("server", "down", timeout=120)
    assert down.returncode == 0 and "server stopped" in down.stdout


def test_cli_names_a_taken_port(lab):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        result = lab.cli("server", "up", "--port", str(taken), timeout=120)
    assert result.returncode == 1
    assert f"port {taken} on 127.0.0.1 is in use" in result.stderr
    lab.cli("server", "down", timeout=120)
