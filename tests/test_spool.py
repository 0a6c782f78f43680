"""Runs measured while the results database is down: spooled in the run directory, loaded
exactly once by the next command that reaches the database. Real PostgreSQL, stopped and
started again; the flow test runs a real 1-broker cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from kafkalab.core.errors import KafkalabError
from kafkalab.results import database, spool
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec
from tests.conftest import jvms_of
from tests.test_store import make_record

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def own_server(tmp_path: Path):
    """An embedded PostgreSQL of this test alone, so it can be stopped and started."""
    server = database.EmbeddedServer(tmp_path / "pg")
    url = server.url(database.RESULTS_DATABASE)
    try:
        yield server, url
    finally:
        server.stop()


def _count(url: str, sql: str, *params) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _import(url: str, data_dir: Path) -> str:
    env = {**os.environ, "DATABASE_URL": url, "KAFKALAB_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "kafkalab", "results", "import"],
        env=env, capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_spool_file_round_trips_every_field(tmp_path: Path) -> None:
    record = make_record("spooled", run_dir=str(tmp_path / "run"))
    path = spool.write(record)
    assert path.parent == tmp_path / "run" / "spool" and path.name == f"run-{record.run_key}.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file left
    assert spool.read(path) == record


def test_database_down_at_store_time_then_loaded_exactly_once(own_server, tmp_path, monkeypatch) -> None:
    server, url = own_server
    data_dir = tmp_path / "data"
    monkeypatch.setenv("KAFKALAB_DATA_DIR", str(data_dir))
    with Store(url) as store:
        store.migrate()
    server.stop()
    record = make_record("spool-once", run_dir=str(data_dir / "runs" / "20261125-spool-once-1"))
    with Store(url) as store, pytest.raises(KafkalabError):
        store.save_run(record)  # the database is down: what the flow catches before spooling
    path = spool.write(record)
    assert spool.pending() == [path]

    server.start()
    assert _import(url, data_dir) == "1 spooled run(s) stored, 0 already present"
    assert not path.exists()
    assert _count(url, "SELECT count(*) FROM runs WHERE run_key = %s", record.run_key) == 1
    assert _count(url, "SELECT count(*) FROM producer_windows") == 6
    assert _import(url, data_dir) == "0 spooled run(s) stored, 0 already present"

    # A crash between the commit and the delete leaves the file: loading it again stores nothing.
    spool.write(record)
    with Store(url) as store:
        store.results()  # any command that reaches the database loads what is spooled
        assert [(x.created, x.run_id > 0) for x in store.spool_loaded] == [(False, True)]
    assert spool.pending() == []
    assert _count(url, "SELECT count(*) FROM runs") == 1
    assert _count(url, "SELECT count(*) FROM producer_results") == 3


@pytest.mark.kafka
def test_flow_spools_when_the_database_stops_before_the_store_step(
    own_server, prefect_api, lab_env, kafka_dist, monkeypatch
) -> None:
    import flows.experiment as experiment_flow

    server, url = own_server
    monkeypatch.setenv("DATABASE_URL", url)
    real_run_once = experiment_flow.run_once

    def run_once_then_stop_the_database(*args, **kwargs):
        record = real_run_once(*args, **kwargs)
        server.stop()
        return record

    monkeypatch.setattr(experiment_flow, "run_once", run_once_then_stop_the_database)
    spec = parse_spec({
        "name": "it-spool", "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"instances": 1, "num_records": 2000, "record_size": 100, "throughput": -1, "heap_mb": 128},
        "consumer": {"timeout_ms": 15000, "heap_mb": 128},
    })  # fmt: skip
    run_ids = experiment_flow.experiment(spec)
    assert run_ids == [None]  # measured, not stored: spooled
    (path,) = spool.pending()
    run_dir = path.parent.parent
    assert not jvms_of(run_dir)
    record = spool.read(path)
    assert record.status == "ok" and record.producers[0].output.summary.records == 2000

    server.start()
    data_dir = Path(lab_env["KAFKALAB_DATA_DIR"])
    assert _import(url, data_dir) == "1 spooled run(s) stored, 0 already present"
    assert _import(url, data_dir) == "0 spooled run(s) stored, 0 already present"
    assert _count(url, "SELECT count(*) FROM runs WHERE run_key = %s AND run_dir = %s", record.run_key, str(run_dir)) == 1
    shutil.rmtree(run_dir, ignore_errors=True)
