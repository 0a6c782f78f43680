"""One Kafka-level call (kafkalab.kafka.admin, reassign) as a command: JSON in, one JSON line out.

    python -m kafkalab.kafka.admin_call registered_brokers '{"bootstrap": "b:9092", "timeout_s": 3}'
    -> {"ok": [[0, "kafka-broker-0.kafka-broker.ns.svc", 9092]]}    (exit 0)
    -> {"error": "cluster at b:9092 does not answer: ..."}          (exit 1)

It lets the flow make its calls from where the brokers' names resolve and their addresses
route, when that is not where the flow runs: behind `ip netns exec <ns>` or nsenter
(kafkalab.platforms.kubernetes.kafka_calls). PLAINTEXT bootstrap strings only, so no
credential is ever on a command line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafkalab.core.errors import ClusterError
from kafkalab.kafka import admin


def _registered_brokers(bootstrap: str, timeout_s: float = 3) -> list[list[Any]]:
    return [[b.node_id, b.host, b.port] for b in admin.registered_brokers(bootstrap, timeout_s=timeout_s)]


def _create_topic(bootstrap: str, name: str, partitions: int, replication_factor: int,
                  config: dict[str, str]) -> None:
    admin.create_topic(bootstrap, name, partitions=partitions, replication_factor=replication_factor, config=config)


def _delete_user_topics(bootstrap: str) -> list[str]:
    topics = admin.user_topics(bootstrap)
    admin.delete_topics(bootstrap, topics)
    return topics


def _distribution(dist: dict[str, str]):
    from kafkalab.kafka.distribution import KafkaDistribution

    return KafkaDistribution(version=dist["version"], libs=Path(dist["libs"]), java=dist["java"])


def _reassign(bootstrap: str, dist: dict[str, str], brokers: list[int], work_dir: str,
              timeout_s: float) -> dict[str, dict[str, list[int]]]:
    from kafkalab.kafka.reassign import reassign_onto

    moved = reassign_onto(_distribution(dist), bootstrap, brokers, Path(work_dir), timeout_s=timeout_s)
    return {topic: {str(p): r for p, r in parts.items()} for topic, parts in moved.items()}


def _set_client_quotas(bootstrap: str, dist: dict[str, str], quotas: dict[str, float], work_dir: str) -> None:
    from kafkalab.kafka.quotas import set_default_client_quotas

    set_default_client_quotas(_distribution(dist), bootstrap, quotas, Path(work_dir))


CALLS: dict[str, Callable[..., Any]] = {
    "registered_brokers": _registered_brokers,
    "create_topic": _create_topic,
    "smoke_test": lambda bootstrap, replication_factor: admin.smoke_test(bootstrap,
                                                                         replication_factor=replication_factor),
    "records_in_topic": lambda bootstrap, topic: admin.records_in_topic(bootstrap, topic),
    "delete_user_topics": _delete_user_topics,
    "reassign": _reassign,
    "set_client_quotas": _set_client_quotas,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in CALLS:
        print(json.dumps({"error": f"usage: admin_call <{'|'.join(CALLS)}> '<json arguments>'"}))
        return 2
    try:
        result = CALLS[argv[0]](**json.loads(argv[1]))
    except (ClusterError, TimeoutError, ValueError, TypeError) as exc:
        print(json.dumps({"error": " ".join(str(exc).split()) or type(exc).__name__}))
        return 1
    print(json.dumps({"ok": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
