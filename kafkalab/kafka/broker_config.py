"""Broker settings from a spec, checked against what the running Kafka version knows.

The guide's options.json was written for a 2018 Confluent/ZooKeeper cluster on DC/OS.
Some of its keys are DC/OS package options, some were removed with ZooKeeper in Kafka 4,
and some name metric reporter classes that are not on the classpath. A broker given those
may refuse to start, so they are skipped, each with the reason, and reported.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kafkalab.core.errors import SpecError
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.properties import render_properties, write_properties

# Options of the DC/OS confluent-kafka package that are not Kafka broker configs.
_PACKAGE_OPTION_PREFIXES = ("kafka.advertise.", "kafka.metrics.", "kafka.zookeeper.", "confluent.")
# Settings kafkalab owns: a spec must not move listeners, node ids or storage.
OWNED_BY_KAFKALAB = frozenset({
    "process.roles", "node.id", "broker.id", "controller.quorum.voters", "controller.quorum.bootstrap.servers",
    "controller.listener.names", "listeners", "advertised.listeners", "listener.security.protocol.map",
    "inter.broker.listener.name", "log.dirs", "log.dir", "metadata.log.dir",
})
# Settings whose names are families rather than single names (per-listener overrides).
_PREFIXED_FAMILIES = ("listener.name.",)
_CLASS_LIST_SETTINGS = ("metric.reporters",)


@dataclass
class BrokerSettings:
    """The broker settings a cluster starts with, and those skipped with their reasons."""

    applied: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def defaults_for(broker_count: int) -> dict[str, str]:
        """Defaults that let small clusters work: internal topics replicated at most N ways."""
        rf = min(3, broker_count)
        return {
            "offsets.topic.replication.factor": str(rf),
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(min(2, rf)),
            # Share groups' state topic (KIP-932): without these a cluster of fewer than 3
            # brokers cannot create it, and share consumers silently receive nothing.
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": str(min(2, rf)),
            "group.initial.rebalance.delay.ms": "0",
        }

    def warnings(self) -> list[str]:
        return [f"broker setting {key} skipped: {reason}" for key, reason in self.skipped.items()]


def resolve_broker_settings(config: dict[str, str], dist: KafkaDistribution) -> BrokerSettings:
    """Split spec settings into those passed to the brokers and those skipped (with why)."""
    known = dist.broker_config_names()
    settings = BrokerSettings()
    for key, value in config.items():
        reason = _skip_reason(key, value, known, dist)
        if reason:
            settings.skipped[key] = reason
        else:
            settings.applied[key] = value
    return settings


def _skip_reason(key: str, value: str, known: frozenset[str], dist: KafkaDistribution) -> str | None:
    if key in OWNED_BY_KAFKALAB:
        return "set by kafkalab for each node"
    if key.startswith(_PACKAGE_OPTION_PREFIXES):
        return "a DC/OS package option, not a Kafka broker setting"
    if key.startswith("zookeeper."):
        return f"ZooKeeper-era setting; Kafka {dist.version} runs KRaft without ZooKeeper"
    if key not in known and not key.startswith(_PREFIXED_FAMILIES):
        return f"not a broker setting in Kafka {dist.version} (removed or unknown)"
    if key in _CLASS_LIST_SETTINGS:
        missing = [c.strip() for c in value.split(",") if c.strip() and not dist.has_class(c.strip())]
        if missing:
            return f"class not on the classpath: {', '.join(missing)}"
    return None


CONFIG_CHECK_MAIN = "BrokerConfigCheck"  # kafkalab/java/BrokerConfigCheck.java
_CONFIG_NAME = re.compile(r"for configuration (\S+?):|[Cc]onfig(?:uration)? ([a-z][a-z0-9.]+[a-z0-9])")


def check_with_kafka(planned: Mapping[str, object], spec_settings: Mapping[str, str], dist: KafkaDistribution) -> None:
    """Refuse what the brokers would refuse, before any of them starts.

    Kafka's own KafkaConfig validates `planned` (a whole broker config, see
    LocalCluster.planned_broker_config): types, ranges, valid values and the rules between
    settings. Each accepted config is remembered, so a spec pays for this JVM once. Without
    javac nothing is checked here and a broker refusing its config says so when it starts.
    """
    digest = hashlib.sha256(render_properties(dict(sorted(planned.items()))).encode()).hexdigest()[:20]
    accepted = dist.config_dir / "accepted-broker-configs" / digest
    if accepted.exists():
        return
    helper = dist.compiled_helper(CONFIG_CHECK_MAIN, against_kafka=True)
    if helper is None:
        return
    with tempfile.TemporaryDirectory(prefix="kafkalab-config-check-") as tmp:
        path = write_properties(Path(tmp) / "broker.properties", planned)
        cmd = dist.java_command(CONFIG_CHECK_MAIN, [str(path)], heap_mb=128, extra_classpath=[helper],
                                class_archive="broker")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        accepted.parent.mkdir(parents=True, exist_ok=True)
        accepted.touch()
        return
    reason = next((line.split("\t", 1)[1] for line in proc.stdout.splitlines() if "\t" in line), "")
    if not reason:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SpecError(f"cluster.broker_config: the config check of Kafka {dist.version} failed: {tail[:300]}")
    raise SpecError(f"{_field_of(reason, spec_settings)}: Kafka {dist.version} refuses it: {reason[:400]}")


def _field_of(reason: str, spec_settings: Mapping[str, str]) -> str:
    """The spec field a Kafka config error is about: cluster.broker_config.<name> when the spec set it."""
    for match in _CONFIG_NAME.finditer(reason):
        name = match.group(1) or match.group(2)
        if name in spec_settings:
            return f"cluster.broker_config.{name}"
    mentioned = [key for key in spec_settings if key in reason]
    return f"cluster.broker_config.{max(mentioned, key=len)}" if mentioned else "cluster.broker_config"
