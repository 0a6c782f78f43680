"""Specs: what a user writes is validated before anything starts, errors name the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kafkalab.core.errors import SpecError
from kafkalab.spec import apply_override, load_spec, normalize_key, parse_spec

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {"name": "t", "producer": {"num_records": 10}}


def spec_with(**sections):
    data = {"name": "t", "producer": {"num_records": 10}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (spec_with(producer={"num_records": -5}), "producer.num_records"),
        (spec_with(cluster={"brokers": 1}, topic={"replication_factor": 3}), "topic.replication_factor"),
        (spec_with(producer={"props": {"compression.type": "brotli"}}), "producer.props.compression.type"),
        (spec_with(producer={"props": {"acks": "2"}}), "producer.props.acks"),
        (spec_with(producer={"props": {"batch.size": "big"}}), "producer.props.batch.size"),
        (spec_with(producer={"props": {"bootstrap.servers": "x:1"}}), "producer.props.bootstrap.servers"),
        (spec_with(topic={"name": "bad name!"}), "topic.name"),
        (spec_with(producer={"throughput": 0}), "producer.throughput"),
        (spec_with(topic={"config": {"min.insync.replicas": 3}, "replication_factor": 2}), "topic.config.min.insync.replicas"),
        (spec_with(cluster={"brokers": 1, "broker_config": {"offsets_topic_replication_factor": 3}}, topic={"replication_factor": 1}),
         "cluster.broker_config.offsets.topic.replication.factor"),
        ({**MINIMAL, "producers": {"instances": 3}}, "producers"),
        (spec_with(cluster={"borkers": 3}), "cluster.borkers"),
        (spec_with(cluster={"client_quotas": {"producer_byte_rate": 0}}), "cluster.client_quotas.producer_byte_rate"),
        (spec_with(cluster={"client_quotas": {"produce_byte_rate": 1000}}), "cluster.client_quotas.produce_byte_rate"),
        ({"producer": {"num_records": 1}}, "name"),
    ],
)
def test_bad_spec_names_the_field(data, field):
    with pytest.raises(SpecError) as err:
        parse_spec(data, source="spec.yaml")
    message = str(err.value)
    assert message.startswith("spec.yaml: ")
    assert f" {field}: " in message, message
    assert "\n" not in message


def test_unknown_key_says_unknown():
    with pytest.raises(SpecError, match=r"cluster.borkers: unknown setting"):
        parse_spec(spec_with(cluster={"borkers": 3}))


def test_options_json_names_become_kafka_names():
    spec = parse_spec(spec_with(cluster={"broker_config": {"num_io_threads": 8, "log.retention.hours": 1, "auto_create_topics_enable": True}}))
    assert spec.cluster.broker_config == {"num.io.threads": "8", "log.retention.hours": "1", "auto.create.topics.enable": "true"}
    assert normalize_key("num_replica_fetchers") == "num.replica.fetchers"


def test_guide_options_json_is_folded_into_broker_settings():
    spec = load_spec(REPO / "experiments" / "guide-options.yaml")
    assert spec.cluster.broker_config["num.io.threads"] == "8"
    assert spec.cluster.broker_config["zookeeper.session.timeout.ms"] == "6000"  # skipped later, at start
    assert spec.cluster.brokers == 3 and spec.cluster.heap_mb == 512  # from the file's brokers section


def test_explicit_settings_win_over_options_json(tmp_path):
    (tmp_path / "o.json").write_text('{"kafka": {"num_io_threads": 8}, "brokers": {"count": 3, "heap": {"size": 512}}}')
    spec = parse_spec(spec_with(cluster={"options_json": "o.json", "brokers": 4, "broker_config": {"num.io.threads": 2}}),
                      base_dir=tmp_path)
    assert spec.cluster.broker_config["num.io.threads"] == "2"
    assert spec.cluster.brokers == 4 and spec.cluster.heap_mb == 512


@pytest.mark.parametrize(
    ("item", "check"),
    [
        ("producer.num_records=1234", lambda d: d["producer"]["num_records"] == 1234),
        ("producer.props.batch.size=100000", lambda d: d["producer"]["props"]["batch.size"] == 100000),
        ("cluster.broker_config.num.io.threads=4", lambda d: d["cluster"]["broker_config"]["num.io.threads"] == 4),
        ("topic.name=other", lambda d: d["topic"]["name"] == "other"),
    ],
)
def test_set_overrides(item, check):
    data = {"name": "t", "producer": {"num_records": 10, "props": {"acks": 1}}}
    apply_override(data, item)
    assert check(data)
    parse_spec(data)


@pytest.mark.parametrize("item", ["producer.num_recrds=5", "nonsense", "name.sub=3", "producer.props"])
def test_bad_set_is_refused(item):
    data = {"name": "t", "producer": {"num_records": 10}}
    try:
        apply_override(data, item)
        parse_spec(data)
    except SpecError as exc:
        assert "\n" not in str(exc)
        return
    pytest.fail(f"--set {item} was accepted")


def test_yaml_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nproducer: [1, 2\n")
    with pytest.raises(SpecError, match=r"bad.yaml: line \d+ is not valid YAML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (REPO / "experiments").glob("*.yaml") if "\nbase:" not in p.read_text())
)
def test_shipped_experiments_are_valid(name):
    load_spec(REPO / "experiments" / name)


def test_cli_rejects_a_bad_spec_before_anything_starts(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({"name": "bad", "cluster": {"brokers": 1}, "topic": {"replication_factor": 3},
                                    "producer": {"num_records": 10}}))
    data_dir = tmp_path / "data"
    env = {"KAFKALAB_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "kafkalab", "run", str(spec)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "topic.replication_factor: 3 exceeds cluster.brokers (1)" in lines[0]
    assert not data_dir.exists()  # no database started, no run directory made


def test_engine_has_no_prefect_import():
    """Importing every engine module (all but the application layer) loads no Prefect;
    the import-linter contract in pyproject.toml says the same statically."""
    code = (
        "import sys, pkgutil, importlib, kafkalab\n"
        "for m in pkgutil.walk_packages(kafkalab.__path__, 'kafkalab.'):\n"
        "    if not m.name.startswith(('kafkalab.app', 'kafkalab.__main__')): importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
