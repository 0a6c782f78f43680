"""Cancel pressed in the Prefect UI on a run no worker manages (a `kafkalab run` process):
the flow stops itself at the next step, tears the cluster down and ends Cancelled.

(A deployment's run cancelled in the middle of its producer test is in tests/test_server.py.)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

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
