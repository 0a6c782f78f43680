"""Where the flow's Kafka calls go on Kubernetes (docs/kubernetes.md, "Where the flow's Kafka calls go").

The brokers advertise their pods' DNS names (kafka-broker-K.kafka-broker.<ns>.svc), so the
flow's own Kafka calls (registration, topics, the smoke test, end offsets, reassignment)
work only where those names resolve and the pods' addresses route:

- in-process (KafkaLevel, the default): the flow runs inside the cluster (a Prefect
  Kubernetes work-pool job), where the cluster's DNS answers;
- behind a command prefix (`cluster.kubernetes.kafka_calls_via`, PrefixedKafka): each call
  runs as `<prefix> <python> -m kafkalab.kafka.admin_call <call> <json>`, e.g. behind
  `ip netns exec <ns>` (which also binds /etc/netns/<ns>/resolv.conf over /etc/resolv.conf)
  or the test bed's node prefix (nsenter into a real node's network and mount namespaces,
  whose resolv.conf names the cluster DNS). The flow stays where it is; only its Kafka
  traffic enters the namespace. A subprocess per call costs about half a second of start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from kafkalab.core.errors import ClusterError
from kafkalab.kafka import admin
from kafkalab.kafka.security import PLAINTEXT, endpoint_of
from kafkalab.platforms.base import Cluster, KafkaLevel

CALL_MODULE = "kafkalab.kafka.admin_call"
MARGIN_S = 30  # start-up of the subprocess beyond the call's own time limit


class PrefixedKafka(KafkaLevel):
    """The Kafka-level steps as subprocesses behind `prefix` (see the module doc)."""

    def __init__(self, prefix: Sequence[str], *, python: str = sys.executable) -> None:
        if not prefix:
            raise ValueError("cluster.kubernetes.kafka_calls_via: an empty command prefix")
        self.prefix = list(prefix)
        self.python = python

    def _call(self, call: str, limit_s: float, cluster: Cluster, /, **arguments: Any) -> Any:
        """`call` with `arguments` and the cluster's bootstrap servers, allowed `limit_s` and MARGIN_S."""
        endpoint = endpoint_of(cluster.endpoint)
        if endpoint.security != PLAINTEXT:
            raise ClusterError("kafka calls via a command prefix carry no credentials: PLAINTEXT clusters only")
        arguments["bootstrap"] = endpoint.servers
        command = [*self.prefix, self.python, "-m", CALL_MODULE, call, json.dumps(arguments)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=limit_s + MARGIN_S, check=False)
        except FileNotFoundError:
            raise ClusterError(f"kafka calls via {' '.join(self.prefix)}: {self.prefix[0]} not found") from None
        except subprocess.TimeoutExpired:
            raise ClusterError(f"kafka call {call} via {' '.join(self.prefix)}: no answer in "
                               f"{limit_s + MARGIN_S:.0f}s") from None
        answer = _last_json(proc.stdout)
        if answer is None:
            why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            raise ClusterError(f"kafka call {call} via {' '.join(self.prefix)} failed: {why[:300]}")
        if "error" in answer:
            raise ClusterError(answer["error"])
        return answer.get("ok")

    def registered_brokers(self, cluster: Cluster) -> list[admin.BrokerInfo]:
        rows = self._call("registered_brokers", 3, cluster, timeout_s=3)
        return [admin.BrokerInfo(int(i), str(h), int(p)) for i, h, p in rows]

    def create_topic(self, cluster: Cluster, name: str, *, partitions: int, replication_factor: int,
                     config: dict[str, str]) -> None:
        self._call("create_topic", 60, cluster, name=name, partitions=partitions,
                   replication_factor=replication_factor, config=dict(config))

    def smoke_test(self, cluster: Cluster, *, replication_factor: int) -> str:
        return str(self._call("smoke_test", 60, cluster, replication_factor=replication_factor))

    def records_in_topic(self, cluster: Cluster, topic: str) -> int:
        return int(self._call("records_in_topic", 30, cluster, topic=topic))

    def upsert_scram_user(self, cluster: Cluster, security) -> None:
        raise ClusterError("kafka calls via a command prefix carry no credentials: PLAINTEXT clusters only")

    def delete_user_topics(self, cluster: Cluster) -> list[str]:
        return list(self._call("delete_user_topics", 60, cluster))

    def set_client_quotas(self, cluster: Cluster, quotas: dict[str, float]) -> None:
        self._call("set_client_quotas", 120, cluster, dist=_dist_arguments(cluster), quotas=dict(quotas),
                   work_dir=str(cluster.run_dir))

    def reassign(self, cluster: Cluster, timeout_s: float) -> dict[str, dict[int, list[int]]]:
        moved = self._call("reassign", timeout_s + 120, cluster, brokers=cluster.broker_ids,
                           dist=_dist_arguments(cluster), work_dir=str(cluster.run_dir), timeout_s=timeout_s)
        return {topic: {int(p): list(r) for p, r in parts.items()} for topic, parts in moved.items()}


def _dist_arguments(cluster: Cluster) -> dict[str, str]:
    """The Kafka jars for a call that runs one of Kafka's own commands (admin_call rebuilds the distribution)."""
    dist = cluster.dist
    return {"version": dist.version, "libs": str(dist.libs), "java": dist.java}


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def kafka_level(options: object) -> KafkaLevel:
    """The spec's choice (cluster.kubernetes.kafka_calls_via): in-process, or behind a command prefix."""
    prefix = getattr(options, "kafka_calls_via", None)
    return PrefixedKafka(prefix) if prefix else KafkaLevel()
