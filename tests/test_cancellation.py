"""Ending a CLI run from outside, as users do:

- Cancel pressed in the Prefect UI on a run no worker manages (a `kafkalab run` process):
  the flow stops itself at the next step, tears the cluster down and ends Cancelled;
- Ctrl-C in a terminal (SIGINT to the whole foreground process group) on `kafkalab sweep`:
  teardown, the interrupted run kept as cancelled, one line, exit 130, within seconds, and
  the lasting local Prefect API the CLI started is still there for the next command;
- SIGKILL of `kafkalab run`: after `kafkalab clean` no Prefect API is left that nobody owns.

(A deployment's run cancelled in the middle of its producer test is in tests/test_server.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from kafkalab.app import prefect_api, server
from kafkalab.kafka import loadgen
from kafkalab.results import spool
from kafkalab.results.store import Store
from tests.conftest import jvms_of

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kafka
NAME = "it-cancel-cli"


async def _flow_run_named(name: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return runs[0] if runs else None


async def _set_cancelling(flow_run_id) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    async with get_client() as client:
        await client.set_flow_run_state(flow_run_id, Cancelling(), force=True)


def test_cancel_from_the_ui_stops_a_cli_run_before_its_next_repetition(prefect_api, lab_env, kafka_dist, tmp_path):
    from prefect.settings import PREFECT_API_URL

    spec_file = tmp_path / "three-reps.yaml"
    spec_file.write_text(yaml.safe_dump({
        "name": NAME, "repetitions": 3,
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"instances": 1, "num_records": 8000, "record_size": 100, "throughput": 2000, "heap_mb": 128},
        "consumer": {"enabled": False},
    }))
    env = {**os.environ, **lab_env, "PREFECT_API_URL": PREFECT_API_URL.value()}
    proc = subprocess.Popen([sys.executable, "-m", "kafkalab", "run", str(spec_file)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs_root = Path(lab_env["KAFKALAB_DATA_DIR"], "runs")
    try:
        deadline = time.monotonic() + 240
        while not [d for d in runs_root.glob(f"*-{NAME}-*") if jvms_of(d / "performancetest-1")]:
            assert proc.poll() is None and time.monotonic() < deadline, "repetition 1 never started its producers"
            time.sleep(0.3)
        flow_run = asyncio.run(_flow_run_named(NAME))
        asyncio.run(_set_cancelling(flow_run.id))  # what Cancel in the UI does
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 1, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        f"kafkalab: {NAME}: cancelled through the Prefect API before run rep 2/3; the cluster was stopped"
    )
    final = asyncio.run(_flow_run_named(NAME))
    assert final.state.is_cancelled(), final.state
    _, rows = Store().query(
        "SELECT r.repetition, r.status FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.name = :n",
        {"n": NAME},
    )
    assert rows == [(1, "ok")]  # the repetition under way finished and was stored; no other started
    (run_dir,) = runs_root.glob(f"*-{NAME}-*")
    assert jvms_of(run_dir) == [] and not (run_dir / "pids.json").exists()


# --------------------------------------------------------------------------- Ctrl-C, SIGKILL


@pytest.fixture
def cli_env(lab_env, kafka_dist):
    """The environment of a user's terminal: no Prefect API configured, so the CLI starts its
    lasting local one in the lab's data dir (stopped afterwards by `kafkalab server down`)."""
    env = {k: v for k, v in {**os.environ, **lab_env}.items() if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
    yield env
    subprocess.run([sys.executable, "-m", "kafkalab", "server", "down"], env=env, cwd=REPO, capture_output=True,
                   timeout=120)


def _ctrl_c_reaches_it() -> None:
    """Ctrl-C's default action, also when the suite runs in the background (`make test &`
    ignores SIGINT, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _new_run_dir(runs_root: Path, name: str, before: set[Path], proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 300
    while True:
        found = set(runs_root.glob(f"*-{name}-*")) - before
        if found:
            return found.pop()
        assert proc.poll() is None, f"exited {proc.returncode} before starting a cluster"
        assert time.monotonic() < deadline, "no run directory after 300 s"
        time.sleep(0.3)


def _producers_running(run_dir: Path) -> bool:
    """A producer JVM of either tool runs: ProducerPerformance, or the load generator's produce."""
    for jvm in jvms_of(run_dir):
        try:
            command = jvm.cmdline()
        except psutil.Error:  # gone, or a zombie, since it was listed
            continue
        if "org.apache.kafka.tools.ProducerPerformance" in command or (
                loadgen.MAIN in command and "produce" in command):
            return True
    return False


def _stored_runs(run_dir: Path) -> list[tuple[str, int | None]]:
    _, rows = Store().query("SELECT status, cell_index FROM runs WHERE run_dir = :d ORDER BY id", {"d": str(run_dir)})
    return [tuple(r) for r in rows]


def _lasting_api_healthy() -> bool:
    state = prefect_api.running()
    return state is not None and server.api_healthy(state.api_url)


def test_ctrl_c_ends_a_sweep_within_seconds_and_keeps_the_interrupted_run(cli_env, tmp_path):
    runs_root = Path(cli_env["KAFKALAB_DATA_DIR"], "runs")
    before = set(runs_root.glob("*"))
    proc = subprocess.Popen([sys.executable, "-m", "kafkalab", "sweep", "experiments/sweep-smoke.yaml"], env=cli_env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_ctrl_c_reaches_it)  # its own process group
    try:
        run_dir = _new_run_dir(runs_root, "sweep-smoke", before, proc)
        deadline = time.monotonic() + 400
        # A run stored, and the producers of the next one at work: Ctrl-C in the middle of it.
        while not (_stored_runs(run_dir) and _producers_running(run_dir)):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no second run's producers within 400 s"
            time.sleep(0.2)
        pids = json.loads((run_dir / "pids.json").read_text())
        interrupted_at = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        _, stderr = proc.communicate(timeout=120)
        took = time.monotonic() - interrupted_at
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    assert proc.returncode == 130, stderr[-3000:]
    assert took < 60, f"Ctrl-C took {took:.0f} s to end the sweep"
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "kafkalab: interrupted; the cluster was stopped"
    assert jvms_of(run_dir) == [] and not (run_dir / "pids.json").exists()
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
               for pid in pids.values())
    statuses = [status for status, _ in _stored_runs(run_dir)]
    spooled = [spool.read(path).status for path in run_dir.glob(f"{spool.SPOOL_DIR}/run-*.json")]
    assert "ok" in statuses and (statuses + spooled).count("cancelled") == 1, (statuses, spooled)
    assert _lasting_api_healthy()  # the Ctrl-C did not reach it: the next command reuses it


def test_a_killed_run_leaves_no_prefect_api_nobody_owns_once_cleaned(cli_env, tmp_path):
    spec_file = tmp_path / "long.yaml"
    spec_file.write_text(yaml.safe_dump({
        "name": "it-killed-run", "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"instances": 1, "num_records": 200000, "record_size": 100, "throughput": 2000, "heap_mb": 128},
        "consumer": {"enabled": False},
    }))
    runs_root = Path(cli_env["KAFKALAB_DATA_DIR"], "runs")
    before = set(runs_root.glob("*"))
    proc = subprocess.Popen([sys.executable, "-m", "kafkalab", "run", str(spec_file)], env=cli_env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_dir = _new_run_dir(runs_root, "it-killed-run", before, proc)
        deadline = time.monotonic() + 300
        while not _producers_running(run_dir):
            assert proc.poll() is None and time.monotonic() < deadline, "the producers never started"
            time.sleep(0.3)
        proc.kill()  # SIGKILL: no teardown, no exit handler
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lasting = prefect_api.running()
    assert lasting is not None

    cleaned = subprocess.run([sys.executable, "-m", "kafkalab", "clean"], env=cli_env, cwd=REPO,
                             capture_output=True, text=True, timeout=180)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"cleaned {run_dir}" in cleaned.stdout and jvms_of(run_dir) == []
    assert (f"kept the Prefect API for CLI runs: pid {lasting.process.pid} on {lasting.api_url}"
            in cleaned.stdout)
    assert prefect_api.unowned() == []  # no temporary API of the killed run, no untracked one
    assert _lasting_api_healthy()
