"""Sweeps end to end, all real: one live cluster scaled 3 -> 4, partitions reassigned,
every cell repeated; a sweep killed mid-way and resumed; the views' arithmetic."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kafkalab.kafka import admin
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.reassign import reassign_onto
from kafkalab.platforms.local import LocalCluster
from kafkalab.results.store import Store
from kafkalab.spec import parse_sweep
from tests.conftest import jvms_of

pytestmark = pytest.mark.kafka

SMALL_CLUSTER = {"heap_mb": 256, "controller_heap_mb": 192}


def rows(sql: str, **params) -> list[dict]:
    with Store() as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, r)) for r in data]


@pytest.fixture(scope="module")
def scale_sweep(prefect_api, lab_env, kafka_dist):
    from flows.sweep import sweep

    spec = parse_sweep({
        "name": "it-sweep-scale",
        "base": {
            "cluster": {"brokers": 3, **SMALL_CLUSTER},
            "topic": {"partitions": 4, "replication_factor": 2},
            "producer": {"num_records": 3000, "throughput": -1, "heap_mb": 128, "props": {"acks": 1}},
            "consumer": {"enabled": False},
        },
        "axes": {"cluster.brokers": [3, 4], "producer.instances": [1, 2], "producer.record_size": [100, 250]},
        "repetitions": 2,
        "scaling": {"reassign_partitions": True},
    })
    sweep_id = sweep(spec)
    return sweep_id


def test_every_cell_ran_its_repetitions(scale_sweep):
    runs = rows("SELECT cell_index, repetition, status, brokers, producer_instances, record_size FROM runs "
                "WHERE sweep_id = :id ORDER BY cell_index, repetition", id=scale_sweep)
    assert [(r["cell_index"], r["repetition"]) for r in runs] == [(c, rep) for c in range(8) for rep in (1, 2)]
    assert all(r["status"] == "ok" for r in runs)
    assert {(r["brokers"], r["producer_instances"], r["record_size"]) for r in runs} == {
        (b, p, s) for b in (3, 4) for p in (1, 2) for s in (100, 250)}
    (sweep,) = rows("SELECT status, cells, repetitions FROM sweeps WHERE id = :id", id=scale_sweep)
    assert sweep == {"status": "completed", "cells": 8, "repetitions": 2}


def test_the_cluster_was_scaled_up_not_redeployed(scale_sweep):
    runs = rows("SELECT brokers, run_dir, cluster_origin FROM runs WHERE sweep_id = :id", id=scale_sweep)
    assert len({r["run_dir"] for r in runs}) == 1  # one cluster for the whole sweep
    assert {r["cluster_origin"] for r in runs if r["brokers"] == 3} == {"fresh"}
    assert {r["cluster_origin"] for r in runs if r["brokers"] == 4} == {"scaled from 3, reassigned"}
    run_dir = Path(runs[0]["run_dir"])
    controller_log = (run_dir / "controller-1000" / "server.log").read_text()
    assert controller_log.count("Kafka Server started") == 1  # the same controller process throughout
    assert (run_dir / "broker-3" / "server.properties").exists()
    assert list(run_dir.glob("reassignment-*.json"))
    assert jvms_of(run_dir) == []


def test_views_agree_with_the_instances(scale_sweep):
    instances = rows("SELECT run_id, records, records_per_sec, mb_per_sec FROM v_producer_results "
                     "WHERE run_id IN (SELECT id FROM runs WHERE sweep_id = :id)", id=scale_sweep)
    totals = rows("SELECT t.*, r.cell_index FROM v_run_totals t JOIN runs r ON r.id = t.run_id "
                  "WHERE r.sweep_id = :id", id=scale_sweep)
    for total in totals:
        mine = [i for i in instances if i["run_id"] == total["run_id"]]
        assert len(mine) == total["producer_instances"]
        assert total["total_records"] == sum(i["records"] for i in mine)
        assert float(total["total_records_per_sec"]) == pytest.approx(sum(float(i["records_per_sec"]) for i in mine))
    cells = rows("SELECT * FROM v_cell_summary WHERE sweep_id = :id ORDER BY cell_index", id=scale_sweep)
    assert [c["cell_index"] for c in cells] == list(range(8))
    for cell in cells:
        values = [float(t["total_records_per_sec"]) for t in totals if t["cell_index"] == cell["cell_index"]]
        assert cell["repetitions"] == 2
        assert float(cell["mean_records_per_sec"]) == pytest.approx(statistics.mean(values))
        assert float(cell["stddev_records_per_sec"]) == pytest.approx(statistics.stdev(values))
        assert float(cell["min_records_per_sec"]) == pytest.approx(min(values))
        assert float(cell["max_records_per_sec"]) == pytest.approx(max(values))
    scaling = rows("SELECT * FROM v_scaling WHERE sweep_id = :id", id=scale_sweep)
    assert len(scaling) == 8
    for point in scaling:
        values = [float(t["total_records_per_sec"]) for t in totals
                  if (t["brokers"], t["producer_instances"], t["record_size"])
                  == (point["brokers"], point["producer_instances"], point["record_size"])]
        assert float(point["mean_total_records_per_sec"]) == pytest.approx(statistics.mean(values))


def test_reassignment_moves_replicas_onto_the_new_broker(tmp_path, kafka_dist):
    cluster = LocalCluster(kafka_dist, tmp_path / "cluster", BrokerSettings(), **SMALL_CLUSTER)
    try:
        cluster.deploy(1)
        cluster.wait_ready(timeout_s=120)
        admin.create_topic(cluster.bootstrap_servers, "moving", partitions=4, replication_factor=1)
        assert set(sum(admin.topic_assignment(cluster.bootstrap_servers, "moving").values(), [])) == {0}
        (new,) = cluster.add_brokers(1)
        cluster.wait_ready([new], timeout_s=120)
        moved = reassign_onto(kafka_dist, cluster.bootstrap_servers, cluster.broker_ids, tmp_path, timeout_s=120)
        assignment = admin.topic_assignment(cluster.bootstrap_servers, "moving")
        assert moved["moving"] == assignment == {0: [0], 1: [1], 2: [0], 3: [1]}
    finally:
        cluster.stop()
    assert jvms_of(tmp_path / "cluster") == []


def test_resume_runs_only_what_is_missing(tmp_path, lab_env, kafka_dist):
    spec_file = tmp_path / "resume.yaml"
    spec_file.write_text(yaml.safe_dump({
        "name": "it-sweep-resume",
        "base": {"cluster": {"brokers": 1, **SMALL_CLUSTER}, "topic": {"partitions": 2, "replication_factor": 1},
                 "producer": {"num_records": 3000, "throughput": 1500, "heap_mb": 128},
                 "consumer": {"enabled": False}},
        "axes": {"producer.record_size": [100, 200, 300]},
        "repetitions": 2,
    }))
    env = {**os.environ, **lab_env}
    # Its own process group: killing the group takes the CLI and its temporary Prefect API
    # server, while the JVMs (sessions of their own) are left behind as orphans, as after a crash.
    first = subprocess.Popen([sys.executable, "-m", "kafkalab", "sweep", str(spec_file)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        sweep_id = _wait_for_ok_runs("it-sweep-resume", at_least=2, timeout_s=300)
        os.killpg(first.pid, signal.SIGKILL)  # the flow process dies: no teardown runs
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    done_before = {(r["cell_index"], r["repetition"]) for r in rows(
        "SELECT cell_index, repetition FROM runs WHERE sweep_id = :id AND status = 'ok'", id=sweep_id)}
    (orphaned_dir,) = {Path(r["run_dir"]) for r in rows("SELECT run_dir FROM runs WHERE sweep_id = :id", id=sweep_id)}
    assert 2 <= len(done_before) < 6

    resumed = subprocess.run([sys.executable, "-m", "kafkalab", "sweep", str(spec_file), "--resume", str(sweep_id)],
                             env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    runs = rows("SELECT cell_index, repetition, status, flow_run_id FROM runs WHERE sweep_id = :id", id=sweep_id)
    ok = [(r["cell_index"], r["repetition"]) for r in runs if r["status"] == "ok"]
    assert sorted(ok) == [(c, rep) for c in range(3) for rep in (1, 2)]  # each exactly once
    first_flow = {r["flow_run_id"] for r in runs if (r["cell_index"], r["repetition"]) in done_before}
    resumed_runs = [r for r in runs if r["flow_run_id"] not in first_flow]
    assert {(r["cell_index"], r["repetition"]) for r in resumed_runs} == {
        (c, rep) for c in range(3) for rep in (1, 2)} - done_before
    (sweep,) = rows("SELECT status FROM sweeps WHERE id = :id", id=sweep_id)
    assert sweep["status"] == "completed"
    # The killed process's JVMs were found and stopped by the resumed one.
    assert (orphaned_dir / "STALE").exists() and jvms_of(orphaned_dir) == []


def _wait_for_ok_runs(experiment: str, *, at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = rows("SELECT r.sweep_id, count(*) AS n FROM runs r JOIN experiments e ON e.id = r.experiment_id "
                     "WHERE e.name = :name AND r.status = 'ok' GROUP BY r.sweep_id", name=experiment) \
            if _has_experiment(experiment) else []
        if found and found[0]["n"] >= at_least:
            return found[0]["sweep_id"]
        time.sleep(0.5)
    raise AssertionError(f"{experiment}: fewer than {at_least} runs after {timeout_s}s")


def _has_experiment(name: str) -> bool:
    return bool(rows("SELECT 1 AS x FROM experiments WHERE name = :name", name=name))


def test_the_sweep_writes_its_report(scale_sweep, lab_env):
    report = Path(lab_env["KAFKALAB_DATA_DIR"]) / "runs" / f"sweep-{scale_sweep}-report" / "report.html"
    page = report.read_text()
    assert f"Sweep {scale_sweep}" in page and "data:image/png;base64," in page
