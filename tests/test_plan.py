"""Sweep plans and tuning profiles: cells, their order, the settings each profile sets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kafkalab.core.errors import SpecError
from kafkalab.plan import plan_sweep
from kafkalab.spec import SweepSpec, load_sweep, parse_spec, parse_sweep
from kafkalab.spec.profiles import PROFILES

REPO = Path(__file__).resolve().parents[1]
BASE = {"cluster": {"brokers": 3}, "topic": {"partitions": 6, "replication_factor": 1},
        "producer": {"num_records": 1000}}


def sweep(**fields) -> SweepSpec:
    return parse_sweep({"name": "s", "base": BASE, **fields})


def test_cells_are_the_product_of_the_axes_plus_explicit_cells():
    plan = plan_sweep(sweep(axes={"producer.instances": [1, 2], "producer.record_size": [100, 250]},
                            cells=[{"producer.instances": 5, "producer.record_size": 1000}], repetitions=3))
    by_index = {c.index: c for c in plan.cells}
    assert len(by_index) == 5 and plan.repetitions == 3
    assert by_index[0].values == {"producer.instances": 1, "producer.record_size": 100}
    assert by_index[3].spec.producer.instances == 2 and by_index[3].spec.producer.record_size == 250
    assert by_index[4].spec.producer.instances == 5 and by_index[4].spec.producer.record_size == 1000
    assert all(c.spec.name == "s" and c.spec.repetitions == 3 for c in plan.cells)
    assert plan.estimated_records() == 3 * 1000 * (1 + 1 + 2 + 2 + 5)


def test_order_deploys_once_and_scales_in_axis_order():
    plan = plan_sweep(sweep(axes={"producer.instances": [1, 3], "cluster.brokers": [3, 6, 9]}))
    assert [c.spec.cluster.brokers for c in plan.cells] == [3, 3, 6, 6, 9, 9]
    assert [s.describe() for s in plan.cluster_steps()] == [
        "deploy 3 brokers", "keep 3 brokers", "scale up 3 -> 6", "keep 6 brokers", "scale up 6 -> 9", "keep 9 brokers"]
    down = plan_sweep(sweep(axes={"cluster.brokers": [6, 3]}))
    assert [s.describe() for s in down.cluster_steps()] == ["deploy 6 brokers", "scale down 6 -> 3"]


def test_a_broker_setting_change_redeploys():
    plan = plan_sweep(sweep(axes={"cluster.broker_config.num.io.threads": [4, 8], "cluster.brokers": [3, 4]}))
    assert [s.action for s in plan.cluster_steps()] == ["deploy", "scale up", "redeploy", "scale up"]


def test_profile_axis_and_labels():
    plan = plan_sweep(sweep(axes={"profile": ["baseline", "throughput-upper"], "cluster.brokers": [3]}))
    upper = next(c for c in plan.cells if c.spec.profile == "throughput-upper")
    assert upper.spec.producer.props["batch.size"] == "200000" and upper.spec.producer.props["linger.ms"] == "100"
    assert upper.label == "profile=throughput-upper brokers=3"


def test_a_bad_cell_is_named_by_its_values():
    with pytest.raises(SpecError, match=r"cell 1 \(topic.replication_factor=5\).*topic.replication_factor: 5 exceeds"):
        plan_sweep(sweep(axes={"topic.replication_factor": [1, 5]}))
    with pytest.raises(SpecError, match="unknown setting"):
        plan_sweep(sweep(axes={"producer.bogus": [1]}))
    with pytest.raises(SpecError, match="axes: a sweep needs axes or cells"):
        sweep()


def test_fingerprint_identifies_the_plan():
    a = plan_sweep(sweep(axes={"producer.instances": [1, 2]}))
    assert a.fingerprint == plan_sweep(sweep(axes={"producer.instances": [1, 2]})).fingerprint
    assert a.fingerprint != plan_sweep(sweep(axes={"producer.instances": [1, 3]})).fingerprint
    assert a.fingerprint != plan_sweep(sweep(axes={"producer.instances": [1, 2]}, repetitions=2)).fingerprint


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("baseline", {"producer": {"acks": "1", "buffer.memory": "67108864", "compression.type": "none", "batch.size": "8196"}}),
        ("throughput-lower", {"producer": {"batch.size": "100000", "linger.ms": "10", "compression.type": "lz4", "acks": "1"},
                              "consumer": {"fetch.min.bytes": "1000000"}}),
        ("throughput-upper", {"producer": {"batch.size": "200000", "linger.ms": "100", "compression.type": "lz4", "acks": "1"}}),
        ("latency", {"producer": {"linger.ms": "0", "compression.type": "none", "acks": "1"}, "consumer": {"fetch.min.bytes": "1"}}),
        ("durability", {"producer": {"acks": "all", "max.in.flight.requests.per.connection": "1"},
                        "broker": {"min.insync.replicas": "2", "unclean.leader.election.enable": "false",
                                   "auto.create.topics.enable": "false", "default.replication.factor": "3"},
                        "topic": {"min.insync.replicas": "2"}, "replication_factor": 3}),
        ("availability", {"broker": {"unclean.leader.election.enable": "true", "min.insync.replicas": "1"},
                          "consumer": {"session.timeout.ms": "6000"}}),
    ],
)
def test_each_profile_yields_the_guides_settings(profile, expected):
    spec = parse_spec({"name": "p", "profile": profile, "producer": {"num_records": 1}})
    assert set(expected.get("producer", {}).items()) <= set(spec.producer.props.items())
    assert set(expected.get("consumer", {}).items()) <= set(spec.consumer.props.items())
    assert set(expected.get("broker", {}).items()) <= set(spec.cluster.broker_config.items())
    assert set(expected.get("topic", {}).items()) <= set(spec.topic.config.items())
    if "replication_factor" in expected:
        assert spec.topic.replication_factor == expected["replication_factor"]
    assert set(PROFILES) == {"baseline", "throughput-lower", "throughput-upper", "latency", "durability", "availability"}


def test_explicit_settings_win_over_the_profile():
    spec = parse_spec({"name": "p", "profile": "throughput-upper",
                       "producer": {"num_records": 1, "props": {"linger_ms": 5}}})
    assert spec.producer.props["linger.ms"] == "5" and spec.producer.props["batch.size"] == "200000"


def test_durability_needs_three_brokers():
    with pytest.raises(SpecError, match="topic.replication_factor: 3 exceeds cluster.brokers \\(1\\)"):
        parse_spec({"name": "p", "profile": "durability", "cluster": {"brokers": 1}, "producer": {"num_records": 1}})


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "experiments").glob("*.yaml") if "\nbase:" in p.read_text()))
def test_shipped_sweeps_plan(name):
    plan = plan_sweep(load_sweep(REPO / "experiments" / name))
    assert plan.cells


def test_guide_scale_out_has_the_guides_48_cells():
    plan = plan_sweep(load_sweep(REPO / "experiments" / "guide-scale-out.yaml"))
    assert len(plan.cells) == 48
    assert sorted({c.spec.cluster.brokers for c in plan.cells}) == [3, 6, 9, 15]
    assert sorted({c.spec.producer.instances for c in plan.cells}) == [3, 10, 15, 25]
    assert [s.action for s in plan.cluster_steps()].count("deploy") == 1  # deployed once, scaled 3 -> 15


def test_dry_run_prints_the_plan_and_starts_nothing(tmp_path):
    env = {"KAFKALAB_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "kafkalab", "sweep", str(REPO / "experiments" / "sweep-smoke.yaml"),
                           "--dry-run", "--set", "producer.num_records=10"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "sweep sweep-smoke: 8 cells x 2 repetitions = 16 runs, 240 records in all"
    assert "scale up 1 -> 2" in proc.stdout
    assert not (tmp_path / "data").exists()
