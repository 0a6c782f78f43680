"""The local platform: broker settings from the guide, and no JVM left behind on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kafkalab.kafka.broker_config import resolve_broker_settings
from kafkalab.platforms import check_broker_settings
from kafkalab.spec import load_spec
from tests.conftest import jvms_of

REPO = Path(__file__).resolve().parents[1]


def test_guide_options_split_into_applied_and_skipped(kafka_dist):
    spec = load_spec(REPO / "experiments" / "guide-options.yaml")
    settings = resolve_broker_settings(spec.cluster.broker_config, kafka_dist)
    assert settings.applied["num.io.threads"] == "8"
    assert settings.applied["unclean.leader.election.enable"] == "false"
    skipped = settings.skipped
    assert "ZooKeeper" in skipped["zookeeper.session.timeout.ms"]
    assert "DC/OS package option" in skipped["kafka.zookeeper.uri"]
    assert "DC/OS package option" in skipped["confluent.support.metrics.enable"]
    assert "not on the classpath" in skipped["metric.reporters"]
    assert "not a broker setting in Kafka 4.4.0" in skipped["inter.broker.protocol.version"]
    assert "not a broker setting in Kafka 4.4.0" in skipped["log.message.format.version"]
    assert all(w.startswith("broker setting ") for w in settings.warnings())
    assert set(settings.applied).isdisjoint(skipped)


def test_the_guide_options_pass_kafkas_own_config_check(kafka_dist):
    spec = load_spec(REPO / "experiments" / "guide-options.yaml")
    settings = check_broker_settings(spec, kafka_dist)  # raises if Kafka would refuse them
    assert settings.applied["num.io.threads"] == "8"


@pytest.mark.parametrize(("setting", "value", "reason"), [
    ("num.io.threads", "abc", "Invalid value abc for configuration num.io.threads: Not a number of type INT"),
    ("num.io.threads", "0", "Invalid value 0 for configuration num.io.threads: Value must be at least 1"),
    ("log.cleanup.policy", "squash", "Invalid value squash for configuration log.cleanup.policy"),
    ("compression.type", "brotli", "Invalid value brotli for configuration compression.type"),
])
def test_settings_kafka_would_refuse_are_refused_before_any_broker_starts(
    kafka_dist, tmp_path, lab_env, setting, value, reason
):
    spec_file = tmp_path / "refused.yaml"
    spec_file.write_text(yaml.safe_dump({
        "name": "it-refused-setting", "cluster": {"brokers": 1, "broker_config": {setting: value}},
        "topic": {"partitions": 1, "replication_factor": 1}, "producer": {"num_records": 10},
    }))
    proc = subprocess.run([sys.executable, "-m", "kafkalab", "run", str(spec_file)], cwd=REPO,
                          env={**os.environ, **lab_env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"kafkalab: cluster.broker_config.{setting}: Kafka 4.4.0 refuses it: ConfigException: ")
    assert reason in line
    assert not list(Path(lab_env["KAFKALAB_DATA_DIR"], "runs").glob("*-it-refused-setting-*"))


def _ctrl_c_reaches_it() -> None:
    """A suite started in the background (`make test &`) ignores SIGINT, and children inherit
    that; the process under test gets the default back, as in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.kafka
def test_ctrl_c_stops_every_jvm(tmp_path, lab_env, kafka_dist):
    spec = tmp_path / "long.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "it-ctrl-c",
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 1, "replication_factor": 1},
        "producer": {"instances": 2, "num_records": 1_000_000, "throughput": 1000, "heap_mb": 128},
    }))
    data_dir = Path(lab_env["KAFKALAB_DATA_DIR"])
    before = set((data_dir / "runs").glob("*")) if (data_dir / "runs").exists() else set()
    proc = subprocess.Popen([sys.executable, "-m", "kafkalab", "run", str(spec)], env={**os.environ, **lab_env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_ctrl_c_reaches_it)
    try:
        run_dir = _wait_for_producers(data_dir, before, timeout_s=240)
        pids = json.loads((run_dir / "pids.json").read_text())
        assert jvms_of(run_dir), "the cluster and producers should be running"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, out[-2000:]
    assert jvms_of(run_dir) == [], out[-2000:]
    for name, pid in pids.items():
        assert not _alive(pid), f"{name} (pid {pid}) survived Ctrl-C"


def _wait_for_producers(data_dir: Path, before: set[Path], timeout_s: float) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run_dir in set((data_dir / "runs").glob("*")) - before if (data_dir / "runs").exists() else ():
            if list(run_dir.glob("*/producer-1.log")) and (run_dir / "pids.json").exists():
                time.sleep(2)  # let the producers' JVMs get going
                return run_dir
        time.sleep(0.5)
    raise AssertionError("the producers never started")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is gone for our purpose
        return fh.read().split()[2] != "Z"


def test_class_archives_are_made_once_and_usable(kafka_dist):
    """`make kafka` records them; every Kafka JVM then maps them (-Xshare:on refuses a bad one)."""
    from kafkalab.platforms.local.class_archives import ensure_class_archives

    ensure_class_archives(kafka_dist)
    for kind in ("broker", "tools"):
        archive = kafka_dist.class_archive(kind)
        cmd = kafka_dist.java_command("kafka.tools.StorageTool", ["random-uuid"], heap_mb=128, class_archive=kind)
        assert f"-XX:SharedArchiveFile={archive}" in cmd
        strict = [c if c != "-Xshare:auto" else "-Xshare:on" for c in cmd]
        proc = subprocess.run(strict, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert len(proc.stdout.strip()) == 22  # a Kafka Uuid: the JVM ran the tool from the archive
