"""The core experiment end to end, all real: KRaft brokers from the jars, Kafka's perf tools,
a Prefect flow run, PostgreSQL. What a user would check after `kafkalab run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafkalab.app import cli
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec
from tests.conftest import jvms_of

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kafka


def small_spec(name: str, **overrides) -> dict:
    spec = {
        "name": name,
        "cluster": {"brokers": 3, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 6, "replication_factor": 3},
        "producer": {
            "instances": 2, "num_records": 12000, "record_size": 250, "throughput": 4000,
            "reporting_interval_ms": 500, "heap_mb": 128,
            "props": {"acks": 1, "buffer.memory": 67108864, "compression.type": "none", "batch.size": 8196},
        },
        "consumer": {"timeout_ms": 15000, "heap_mb": 128},
    }
    for section, values in overrides.items():
        spec[section] = {**spec.get(section, {}), **values} if isinstance(values, dict) else values
    return spec


@pytest.fixture(scope="module")
def guide_run(prefect_api, lab_env, kafka_dist):
    """One experiment with the guide's whole options.json `kafka` section on 3 brokers, run with
    the guide's tools (Kafka's ProducerPerformance and ConsumerPerformance)."""
    from flows.experiment import experiment

    data = small_spec("it-guide-options", producer={"tool": "kafka-perf"}, consumer={"tool": "kafka-perf"})
    data["cluster"]["options_json"] = str(REPO / "experiments" / "guide-options.json")
    spec = parse_spec(data)
    run_ids = experiment(spec)
    with Store() as store:
        _, rows = store.query("SELECT run_dir FROM runs WHERE id = :id", {"id": run_ids[0]})
    return {"run_ids": run_ids, "run_dir": Path(rows[0][0]), "spec": spec}


def rows(sql: str, **params) -> list[dict]:
    with Store() as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, r)) for r in data]


def test_run_is_stored_with_its_settings(guide_run):
    (run,) = rows("SELECT * FROM runs WHERE id = :id", id=guide_run["run_ids"][0])
    assert run["status"] == "ok" and run["error"] is None
    assert run["brokers"] == 3 and run["partitions"] == 6 and run["replication_factor"] == 3
    assert run["kafka_version"] == "4.4.0" and run["platform"] == "local"
    assert run["flow_run_id"]  # the Prefect flow run it came from
    assert run["producer_props"]["batch.size"] == "8196"
    assert run["broker_config"]["num.io.threads"] == "8"
    assert "zookeeper.session.timeout.ms" not in run["broker_config"]


def test_guide_options_reach_the_brokers_and_removed_keys_are_skipped(guide_run):
    config = (guide_run["run_dir"] / "broker-0" / "server.properties").read_text()
    assert "num.io.threads=8" in config and "log.retention.minutes=10" in config
    for removed in ("zookeeper.session.timeout.ms", "inter.broker.protocol.version", "metric.reporters",
                    "kafka.advertise.host.ip", "confluent.support.customer.id"):
        assert f"\n{removed}=" not in config, removed


def test_each_instance_has_its_summary_and_windows(guide_run):
    instances = rows("SELECT * FROM v_producer_results WHERE run_id = :id ORDER BY instance", id=guide_run["run_ids"][0])
    assert [i["instance"] for i in instances] == [0, 1]
    for inst in instances:
        assert inst["records"] == 12000
        assert 0 < inst["records_per_sec"] <= 4000 * 1.2  # throttled at 4000/s per instance
        assert inst["p50_ms"] <= inst["p95_ms"] <= inst["p99_ms"] <= inst["p999_ms"] <= inst["max_latency_ms"]
        assert inst["acks"] == "1" and inst["batch_size"] == 8196 and inst["compression_type"] == "none"
    windows = rows(
        "SELECT w.* FROM producer_windows w JOIN producer_results p ON p.id = w.producer_result_id "
        "WHERE p.run_id = :id", id=guide_run["run_ids"][0])
    assert len(windows) >= 4  # 3 s of load in 500 ms windows, per instance


def test_totals_are_sums_of_instances_and_match_the_topic(guide_run):
    run_id = guide_run["run_ids"][0]
    instances = rows("SELECT * FROM v_producer_results WHERE run_id = :id", id=run_id)
    (total,) = rows("SELECT * FROM v_run_totals WHERE run_id = :id", id=run_id)
    assert total["total_records"] == sum(i["records"] for i in instances) == 24000
    assert float(total["total_records_per_sec"]) == pytest.approx(sum(float(i["records_per_sec"]) for i in instances))
    assert float(total["total_mb_per_sec"]) == pytest.approx(sum(float(i["mb_per_sec"]) for i in instances))
    assert total["records_in_topic"] == total["total_records"]  # end offsets add up to what was acknowledged


def test_consumer_read_everything(guide_run):
    (consumer,) = rows("SELECT * FROM v_consumer_results WHERE run_id = :id", id=guide_run["run_ids"][0])
    assert consumer["messages"] == 24000
    assert float(consumer["mb"]) == pytest.approx(24000 * 250 / 1024 / 1024, rel=1e-3)
    assert consumer["msgs_per_sec"] > 0 and consumer["fetch_ms"] >= 0


def test_raw_output_and_step_timings_are_kept(guide_run):
    run_id = guide_run["run_ids"][0]
    (producer,) = rows("SELECT raw_output FROM producer_results WHERE run_id = :id AND instance = 0", id=run_id)
    assert "12000 records sent" in producer["raw_output"]
    steps = {r["step"] for r in rows("SELECT step FROM step_timings WHERE run_id = :id", id=run_id)}
    assert {"install framework", "brokers ready", "producers", "consumer test"} <= steps


def test_no_jvm_is_left_after_success(guide_run):
    assert jvms_of(guide_run["run_dir"]) == []


def test_results_and_sql_commands(guide_run, capsys):
    assert cli.main(["results", "--experiment", "it-guide-options", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in listed] == guide_run["run_ids"]
    assert cli.main(["sql", "SELECT count(*) AS n FROM v_producer_results WHERE experiment = 'it-guide-options'",
                     "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "2"]


def test_a_failing_producer_fails_the_run_and_leaves_no_jvm(prefect_api, lab_env, kafka_dist):
    from flows.experiment import ExperimentFailed, experiment

    # Every 250 B record exceeds max.request.size: each send fails inside the tool.
    spec = parse_spec(small_spec(
        "it-impossible-prop",
        cluster={"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        topic={"partitions": 1, "replication_factor": 1},
        producer={"instances": 1, "num_records": 100, "throughput": -1, "props": {"max.request.size": 100}},
    ))
    with pytest.raises(ExperimentFailed, match="producer-0"):
        experiment(spec)
    (run,) = rows("SELECT * FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.name = 'it-impossible-prop'")
    assert run["status"] == "failed"
    assert "producer" in run["error"]
    (producer,) = rows("SELECT * FROM producer_results WHERE run_id = :id", id=run["id"])
    assert producer["status"] == "failed" and "RecordTooLargeException" in producer["raw_output"]
    assert jvms_of(Path(run["run_dir"])) == []


def test_a_crashed_producer_instance_is_kept_and_the_case_retried(prefect_api, lab_env, kafka_dist):
    """One of two producer JVMs dies mid-test (SIGKILL, as the OOM killer does): its run is
    stored as failed with the survivor's results, and `retries.perf_tests` runs the case again."""
    import threading
    import time

    import psutil

    from flows.experiment import experiment

    spec = parse_spec(small_spec(
        "it-producer-crash",
        cluster={"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        topic={"partitions": 2, "replication_factor": 1},
        producer={"num_records": 12000, "throughput": 2000},  # ~6 s per attempt
        retries={"perf_tests": 1},
    ))
    killed: list[int] = []

    def kill_producer_1_of_the_first_attempt() -> None:
        deadline = time.monotonic() + 240  # generous: cluster up, JVM started, first window printed
        while time.monotonic() < deadline:
            for proc in psutil.process_iter(["cmdline"]):
                args = proc.info["cmdline"] or []
                config = next((a for a in args if a.endswith("/performancetest/producer-1.properties")), None)
                if config and "-it-producer-crash-" in " ".join(args):
                    # In the middle of its test: it has printed its first interval (every
                    # 500 ms of a ~6 s test), so it is sending.
                    log = Path(config).with_name("producer-1.log")
                    while time.monotonic() < deadline:
                        if log.exists() and "kafkalab-interval" in log.read_text(errors="replace"):
                            proc.kill()
                            killed.append(proc.pid)
                            return
                        time.sleep(0.1)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_producer_1_of_the_first_attempt, daemon=True)
    killer.start()
    run_ids = experiment(spec)
    killer.join(timeout=5)
    assert killed and len(run_ids) == 2
    first, second = rows("SELECT * FROM runs WHERE id IN (:a, :b) ORDER BY id", a=run_ids[0], b=run_ids[1])
    assert (first["status"], first["attempt"], second["status"], second["attempt"]) == ("failed", 1, "ok", 2)
    assert first["error"].startswith("1 of 2 producer instances failed; producer-1: exited with code")
    survivor, crashed = rows("SELECT * FROM producer_results WHERE run_id = :id ORDER BY instance", id=run_ids[0])
    assert survivor["status"] == "ok" and survivor["records"] == 12000
    assert crashed["status"] == "failed" and crashed["raw_output"] is not None
    assert second["topic"].endswith("-attempt2")
    assert jvms_of(Path(first["run_dir"])) == []
