"""Tuning profiles: the guide's recommendations as named presets.

From the guide's "Increase Throughput" and "Other Design Goals" sections. A profile may
touch producer, consumer, broker and topic settings; settings written in the spec win
over the profile's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kafkalab.spec.keys import normalize_key

ProfileName = Literal["baseline", "throughput-lower", "throughput-upper", "latency", "durability", "availability"]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    producer: dict[str, str] = field(default_factory=dict)
    consumer: dict[str, str] = field(default_factory=dict)
    broker: dict[str, str] = field(default_factory=dict)
    topic: dict[str, str] = field(default_factory=dict)
    replication_factor: int | None = None


_GUIDE_BUFFER = "67108864"  # every producer command of the guide passes buffer.memory=67108864

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "baseline",
            "The guide's Step 6 producer settings.",
            producer={"acks": "1", "buffer.memory": _GUIDE_BUFFER, "compression.type": "none", "batch.size": "8196"},
        ),
        Profile(
            "throughput-lower",
            "Increase Throughput, lower end: batch.size 100000, linger.ms 10, lz4, acks 1; consumer fetch.min.bytes ~1 MB.",
            producer={"acks": "1", "buffer.memory": _GUIDE_BUFFER, "compression.type": "lz4", "batch.size": "100000",
                      "linger.ms": "10", "retries": "0"},
            consumer={"fetch.min.bytes": "1000000"},
        ),
        Profile(
            "throughput-upper",
            "Increase Throughput, upper end: batch.size 200000, linger.ms 100, lz4, acks 1; consumer fetch.min.bytes ~1 MB.",
            producer={"acks": "1", "buffer.memory": _GUIDE_BUFFER, "compression.type": "lz4", "batch.size": "200000",
                      "linger.ms": "100", "retries": "0"},
            consumer={"fetch.min.bytes": "1000000"},
        ),
        Profile(
            "latency",
            "Optimize for Latency: linger.ms 0, no compression, acks 1; consumer fetch.min.bytes 1.",
            producer={"linger.ms": "0", "compression.type": "none", "acks": "1"},
            consumer={"fetch.min.bytes": "1"},
        ),
        Profile(
            "durability",
            "Optimize for Durability: acks all, replication 3, min.insync.replicas 2, one request in flight, "
            "no unclean leader election, no automatic topic creation, no consumer auto-commit.",
            producer={"acks": "all", "retries": "1", "max.in.flight.requests.per.connection": "1"},
            consumer={"enable.auto.commit": "false"},
            broker={"default.replication.factor": "3", "auto.create.topics.enable": "false",
                    "min.insync.replicas": "2", "unclean.leader.election.enable": "false"},
            topic={"min.insync.replicas": "2", "unclean.leader.election.enable": "false"},
            replication_factor=3,
        ),
        Profile(
            "availability",
            "Optimize for Availability: unclean leader election on, min.insync.replicas 1, one recovery thread per "
            "log dir (kafkalab brokers have one); consumer session.timeout.ms as low as the broker allows (6000).",
            consumer={"session.timeout.ms": "6000"},
            broker={"unclean.leader.election.enable": "true", "min.insync.replicas": "1",
                    "num.recovery.threads.per.data.dir": "1"},
            topic={"unclean.leader.election.enable": "true", "min.insync.replicas": "1"},
        ),
    )
}


def apply_profile(data: dict[str, Any]) -> dict[str, Any]:
    """Raw spec data with its profile's settings filled in beneath the explicit ones."""
    name = data.get("profile")
    if not isinstance(name, str) or name not in PROFILES:
        return data  # no profile, or an unknown name the model reports by field
    profile = PROFILES[name]
    out = dict(data)

    def merged(section: str, key: str, defaults: dict[str, str]) -> None:
        if not defaults:
            return
        part = dict(out.get(section) or {})
        explicit = part.get(key) or {}
        if not isinstance(explicit, dict):
            return  # the model reports the type error
        # Explicit keys may use the options.json form; compare in Kafka's dotted form.

        given = {normalize_key(k) for k in explicit}
        part[key] = {**{k: v for k, v in defaults.items() if k not in given}, **explicit}
        out[section] = part

    merged("producer", "props", profile.producer)
    merged("consumer", "props", profile.consumer)
    merged("cluster", "broker_config", profile.broker)
    merged("topic", "config", profile.topic)
    if profile.replication_factor is not None:
        topic = dict(out.get("topic") or {})
        topic.setdefault("replication_factor", profile.replication_factor)
        out["topic"] = topic
    return out
