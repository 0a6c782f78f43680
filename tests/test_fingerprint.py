"""The fingerprint (kafkalab.metrics.fingerprint) of a real 1-broker cluster: complete, stable,
and changed by one broker setting; what differs said in words; a run stores it in v_environment."""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime

import psutil
import pytest

from kafkalab.experiment import steps
from kafkalab.metrics import fingerprint
from kafkalab.platforms import deploy
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec
from tests.conftest import jvms_of
from tests.databases import fresh_database

pytestmark = pytest.mark.kafka


def spec_with(**broker_config):
    return parse_spec({
        "name": "fingerprint-test",
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192, "broker_config": broker_config},
        "topic": {"partitions": 2, "replication_factor": 1, "config": {"retention.ms": 600000}},
        "producer": {"num_records": 100, "props": {"acks": "all", "linger.ms": 5}},
    })


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, kafka_dist):
    spec = spec_with(**{"num.io.threads": 4})
    root = tmp_path_factory.mktemp("fingerprint")
    cluster = deploy(spec, kafka_dist, root / "cluster", on_progress=lambda _: None)
    try:
        cluster.wait_ready(timeout_s=120)
        yield cluster
    finally:
        cluster.stop(grace_s=0)
    assert jvms_of(root / "cluster") == []


def test_the_fingerprint_is_complete(cluster):
    taken = fingerprint.take(cluster, spec_with(**{"num.io.threads": 4}))
    machine, software = taken["machine"], taken["software"]
    assert machine["cores"] == psutil.cpu_count(logical=False) and machine["logical_cpus"] == psutil.cpu_count()
    assert machine["memory_bytes"] == psutil.virtual_memory().total
    assert machine["kernel"] == platform.release() and machine["cpu_model"] and machine["os"]
    # the Java the broker process runs, by its own account
    broker_jvm = next(p for p in jvms_of(cluster.run_dir) if "kafka.Kafka" in " ".join(p.cmdline()))
    assert broker_jvm.cmdline()[0] == cluster.broker_java
    said = subprocess.run([cluster.broker_java, "-version"], capture_output=True, text=True, check=True).stderr
    assert software["java"]["version"] in said and software["java"]["vendor"]
    assert software["kafka"] == cluster.kafka_version
    assert software["kafkalab"]["version"] and len(software["kafkalab"]["commit"]) == 40
    assert isinstance(software["kafkalab"]["dirty"], bool)
    assert software["python"] == platform.python_version()
    assert taken["platform"] == {"name": "local", "nodes": []}
    settings = taken["settings"]
    assert settings["broker"]["num.io.threads"] == "4"
    assert settings["topic"] == {"partitions": 2, "replication_factor": 1, "retention.ms": "600000"}
    assert settings["producer"]["acks"] == "all" and settings["producer"]["linger.ms"] == "5"
    assert taken["before_run"]["load_1m"] >= 0
    assert taken["missing"] == []
    assert len(taken["id"]) == fingerprint.ID_LENGTH and taken["id"] == fingerprint.fingerprint_id(taken)
    assert len(taken["settings_hash"]) == fingerprint.ID_LENGTH


def test_the_id_is_stable_and_one_broker_setting_changes_it(cluster, kafka_dist, tmp_path):
    first = fingerprint.take(cluster, spec_with(**{"num.io.threads": 4}))
    again = fingerprint.take(cluster, spec_with(**{"num.io.threads": 4}))
    assert again["id"] == first["id"] and again["settings_hash"] == first["settings_hash"]
    assert fingerprint.differences(first, again) == []  # the load average is no difference
    eight = spec_with(**{"num.io.threads": 8})
    other = deploy(eight, kafka_dist, tmp_path / "cluster", on_progress=lambda _: None)
    try:
        other.wait_ready(timeout_s=120)
        changed = fingerprint.take(other, eight)
    finally:
        other.stop(grace_s=0)
    assert jvms_of(tmp_path / "cluster") == []
    assert changed["id"] != first["id"] and changed["settings_hash"] != first["settings_hash"]
    assert fingerprint.differences(first, changed) == ["broker setting num.io.threads: 4 -> 8"]


def test_differences_are_said_in_words():
    a = {"id": "a", "machine": {"cpu_model": "AMD EPYC", "cores": 2}, "software": {"java": {"version": "17.0.15"}},
         "settings": {"topic": {"partitions": 2}, "producer": {"acks": "all"}}, "before_run": {"load_1m": 0.1}}
    b = {"id": "b", "machine": {"cpu_model": "Intel Xeon", "cores": 2}, "software": {"java": {"version": "21.0.2"}},
         "settings": {"topic": {"partitions": 6}, "producer": {}}, "before_run": {"load_1m": 3.0}}
    assert fingerprint.differences(a, b) == [
        "CPU model: AMD EPYC -> Intel Xeon",
        "producer setting acks: all -> (not set)",
        "topic setting partitions: 2 -> 6",
        "Java version: 17.0.15 -> 21.0.2",
    ]
    assert fingerprint.differences(None, b) == ["fingerprint: none -> stored"]


def test_without_git_the_commit_is_unknown(tmp_path):
    described = fingerprint.git_description(tmp_path)
    assert described["commit"] == fingerprint.UNKNOWN and described["dirty"] is None
    assert str(tmp_path) in described["why"]


def test_a_stored_run_shows_its_fingerprint_in_v_environment(cluster, results_db_url):
    spec = spec_with(**{"num.io.threads": 4})
    record = steps.new_run_record(spec, cluster, 0, "fingerprint-topic")
    record.fingerprint = steps.take_fingerprint(spec, cluster)
    record.finished_at = datetime.now(UTC)
    with fresh_database(results_db_url, "test_fingerprint") as url, Store(url) as store:
        run_id = store.save_run(record)
        columns, rows = store.query("SELECT * FROM v_environment WHERE run_id = :id", {"id": run_id})
        row = dict(zip(columns, rows[0], strict=True))
        totals = store.run_totals([run_id])[run_id]
    taken = record.fingerprint
    assert row["fingerprint_id"] == taken["id"] == totals["fingerprint_id"]
    assert row["cores"] == taken["machine"]["cores"] and row["memory_bytes"] == taken["machine"]["memory_bytes"]
    assert row["java_version"] == taken["software"]["java"]["version"]
    assert row["kafka_version"] == cluster.kafka_version and row["platform"] == "local"
    assert row["git_commit"] == taken["software"]["kafkalab"]["commit"]
    assert row["broker_settings"]["num.io.threads"] == "4"
    assert row["load_1m_before"] == pytest.approx(taken["before_run"]["load_1m"])


def test_check_notes_say_what_differs_only_when_the_fingerprints_differ(cluster, results_db_url):
    from kafkalab.reports.environment import fingerprint_notes

    four = spec_with(**{"num.io.threads": 4})
    base = fingerprint.take(cluster, four)
    changed = {**base, "settings": {**base["settings"], "topic": {**base["settings"]["topic"], "partitions": 6}}}
    changed["id"] = fingerprint.fingerprint_id(changed)
    with fresh_database(results_db_url, "test_fingerprint_check") as url, Store(url) as store:
        def stored(taken):
            record = steps.new_run_record(four, cluster, 0, "t")
            record.fingerprint, record.finished_at = taken, datetime.now(UTC)
            return store.save_run(record)

        first, second = stored(base), stored(base)
        assert fingerprint_notes(store, "fingerprint-test") == []  # the same machine, software and settings
        third = stored(changed)
        notes = fingerprint_notes(store, "fingerprint-test")
    assert notes[0].startswith(f"note: the fingerprints of the compared runs differ: run {third} ({changed['id']}) "
                               f"ran otherwise than 2 of the 2 runs before it; against run {second}")
    assert notes[1:] == ["  topic setting partitions: 2 -> 6"]
    assert first < second < third
