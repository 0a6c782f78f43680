"""Two experiments started at the same moment on one machine (two `kafkalab run` processes):
separate clusters, ports, run directories and rows; both complete with correct numbers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kafkalab.results.store import Store
from tests.conftest import jvms_of

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kafka
RECORDS = 3000


def _spec(name: str) -> dict:
    return {
        "name": name,
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"instances": 1, "num_records": RECORDS, "record_size": 100, "throughput": -1, "heap_mb": 128},
        "consumer": {"timeout_ms": 15000, "heap_mb": 128},
    }


def test_two_experiments_at_once(prefect_api, lab_env, kafka_dist, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, **lab_env, "PREFECT_API_URL": PREFECT_API_URL.value()}
    names = ("it-concurrent-a", "it-concurrent-b")
    procs = []
    for name in names:
        spec_file = tmp_path / f"{name}.yaml"
        spec_file.write_text(yaml.safe_dump(_spec(name)))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "kafkalab", "run", str(spec_file)], env=env, cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    try:
        outputs = [p.communicate(timeout=420)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]

    with Store() as store:
        columns, data = store.query(
            "SELECT r.id, e.name, r.run_dir, r.flow_run_id, r.status, r.records_in_topic, t.total_records "
            "FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN v_run_totals t ON t.run_id = r.id "
            "WHERE e.name = ANY(:names) ORDER BY r.id DESC", {"names": list(names)},
        )  # fmt: skip
    runs = {}
    for row in (dict(zip(columns, r)) for r in data):
        runs.setdefault(row["name"], row)  # the newest of each
    assert set(runs) == set(names)
    a, b = runs[names[0]], runs[names[1]]
    assert a["id"] != b["id"] and a["run_dir"] != b["run_dir"] and a["flow_run_id"] != b["flow_run_id"]
    for run in (a, b):
        assert run["status"] == "ok"
        assert run["records_in_topic"] == RECORDS and run["total_records"] == RECORDS
        assert not jvms_of(Path(run["run_dir"]))

    def ports(run_dir: str) -> set[str]:
        found: set[str] = set()
        for config in Path(run_dir).glob("*/server.properties"):
            found |= set(re.findall(r"127\.0\.0\.1:(\d+)", config.read_text()))
        return found

    pa, pb = ports(a["run_dir"]), ports(b["run_dir"])
    assert pa and pb and not (pa & pb)
