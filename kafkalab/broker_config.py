"""Broker settings from a spec, checked against what the running Kafka version knows.

The guide's options.json was written for a 2018 Confluent/ZooKeeper cluster on DC/OS.
Some of its keys are DC/OS package options, some were removed with ZooKeeper in Kafka 4,
and some name metric reporter classes that are not on the classpath. A broker given those
may refuse to start, so they are skipped, each with the reason, and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.distribution import KafkaDistribution

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
