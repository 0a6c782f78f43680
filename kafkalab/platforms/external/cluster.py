"""A cluster kafkalab did not deploy: it connects, runs its load from local processes, and
leaves the cluster as it found it.

Deploying is connecting: the metadata must answer (DescribeCluster) with the spec's
credentials, and the brokers it lists are the cluster's. There is nothing to scale, break
or tear down; stopping deletes the topics this cluster object created, and only those
(unless `topic.keep`). Every topic it creates carries the spec's prefix and must not exist
before: kafkalab writes only into topics it made.
"""

from __future__ import annotations

import contextlib
import secrets as _random
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from kafkalab.core.errors import ClusterError, SpecError
from kafkalab.kafka import admin
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.security import ClientSecurity, Endpoint
from kafkalab.load import runner
from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad
from kafkalab.model import ConsumerOutcome, ProducerOutcome
from kafkalab.platforms.base import (
    FAULTS,
    GENERATOR,
    REASSIGN,
    SCALE,
    SECURITY,
    Cluster,
    KafkaLevel,
)
from kafkalab.platforms.external.rules import prefixed_topic
from kafkalab.platforms.external.version import DetectedVersion, detect_version
from kafkalab.spec import TopicSpec

# librdkafka errors that mean "these credentials or this TLS setup will never work": fail at
# once instead of waiting out the readiness timeout.
_AUTH_ERRORS = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
_TLS_ERRORS = {KafkaError._SSL}


@dataclass
class ExternalCluster(Cluster):
    """The platform interface over a cluster that is there already (see the module doc)."""

    dist: KafkaDistribution  # the clients' jars (perf tools, FeatureCommand), not the brokers'
    run_dir: Path
    servers: str
    client: ClientSecurity
    topic_prefix: str = "kafkalab-"
    keep_topics: bool = False
    connect_timeout_s: float = 30
    settings: BrokerSettings = field(default_factory=BrokerSettings)  # kafkalab applies none
    security: None = None  # no listener of kafkalab's: `client` is how it connects
    brokers: list[admin.BrokerInfo] = field(default_factory=list)
    kafka: KafkaLevel = field(default_factory=KafkaLevel, repr=False)
    detected: DetectedVersion | None = None
    created_topics: list[str] = field(default_factory=list)  # the only topics stop() may delete
    smoke_topics: list[str] = field(default_factory=list)  # of those, the smoke tests' (deleted even with keep)

    platform = "external"
    capabilities = frozenset({SECURITY, GENERATOR})

    # -- layout -------------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return self.servers

    @property
    def endpoint(self) -> Endpoint:
        """kafkalab's own calls and the load alike: the spec's user, nothing more privileged."""
        return Endpoint(self.servers, self.client)

    @property
    def kafka_version(self) -> str:
        return self.detected.release if self.detected else "unknown"

    @property
    def observed(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.servers,
            "brokers": [{"node_id": b.node_id, "address": b.address} for b in self.brokers],
            "metadata_version": {"supported_max": self.detected.supported_max, "finalized": self.detected.finalized}
            if self.detected else None,
        }

    # -- lifecycle ----------------------------------------------------------------------

    def deploy(self, brokers: int, controllers: int = 1, *, on_progress: Callable[[str], None] | None = None) -> None:
        """Nothing to start: connect, list the brokers, ask for the version."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.brokers = probe_brokers(self.endpoint, timeout_s=self.connect_timeout_s)
        if on_progress:
            on_progress(f"external cluster at {self.servers}: {len(self.brokers)} brokers "
                        f"({', '.join(f'{b.node_id}@{b.address}' for b in self.brokers)}); nothing deployed")
        self.detected = detect_version(self.dist, self.endpoint, self.run_dir)
        if on_progress:
            on_progress(f"Kafka {self.detected.release} (metadata.version {self.detected.supported_max} supported, "
                        f"{self.detected.finalized} finalized)" if self.detected
                        else "WARNING the cluster did not tell its Kafka version (stored as unknown)")

    def wait_ready(self, broker_ids: list[int] | None = None, *, timeout_s: float = 120,
                   on_ready: Callable[[admin.BrokerInfo], None] | None = None) -> list[admin.BrokerInfo]:
        """The brokers the metadata lists now (the ones deploy found: an owner may have changed it since)."""
        expected = set(self.broker_ids if broker_ids is None else broker_ids)
        return admin.wait_until_registered(lambda: probe_brokers(self.endpoint, timeout_s=min(timeout_s, 10)),
                                           expected, timeout_s=timeout_s, on_ready=on_ready)

    def open_endpoints(self, client_quotas: dict[str, float] | None = None) -> str:
        # No SCRAM user to create (the owner made the user kafkalab connects as), and no quota
        # to set: the spec rules refuse cluster.client_quotas here.
        return self.servers

    def stop(self, grace_s: float = 10) -> None:
        """Delete the topics this run created (the run topics kept with topic.keep); never any other."""
        wanted = self.smoke_topics if self.keep_topics else self.created_topics
        # A creation that timed out may have made nothing: delete only what is there.
        existing = admin.admin_client(self.endpoint).list_topics(timeout=10).topics
        doomed = [t for t in wanted if t in existing]
        if doomed:
            admin.delete_topics(self.endpoint, doomed)
            self._delete_groups_of(doomed)
        self.created_topics = [t for t in self.created_topics if t not in wanted]
        self.smoke_topics = []

    def _delete_groups_of(self, topics: list[str]) -> None:
        """The consumer groups kafkalab's consumers formed on these topics: `kafkalab-<topic>-consumer`,
        and `-<i>` after it for a group per instance (kafkalab.experiment.steps.consumer_load).

        Best effort: a user allowed to delete its topics but not groups leaves empty groups,
        which the brokers expire (offsets.retention.minutes); the topics are gone already.
        """
        client = admin.admin_client(self.endpoint)
        with contextlib.suppress(KafkaException, FutureTimeout):
            listed = client.list_consumer_groups(request_timeout=10).result(timeout=15)
            ours = [g.group_id for g in listed.valid if any(
                g.group_id == f"kafkalab-{topic}-consumer" or g.group_id.startswith(f"kafkalab-{topic}-consumer-")
                for topic in topics)]
            for future in (client.delete_consumer_groups(ours, request_timeout=10).values() if ours else []):
                future.result(timeout=15)

    def remove_data(self) -> None:
        """Nothing of the cluster's is on this machine; the run directory keeps the tools' output."""

    # -- topics: the guard rails --------------------------------------------------------

    def check_fits(self, topic: TopicSpec) -> None:
        """Bad input only the cluster can tell: more replicas than it has brokers (before anything is written)."""
        if len(self.brokers) < topic.replication_factor:
            raise SpecError(f"topic.replication_factor: {topic.replication_factor} exceeds the {len(self.brokers)} "
                            f"brokers of the cluster at {self.servers}")

    def create_topic(self, topic: TopicSpec, name: str) -> str:
        """The run's topic, behind the prefix; refused when it exists and is not this run's."""
        full = prefixed_topic(self.topic_prefix, name)
        self.check_fits(topic)  # again: a sweep's later cell may ask for more replicas
        self._create_own_topic(full, partitions=topic.partitions, replication_factor=topic.replication_factor,
                               config=dict(topic.config))
        return full

    def smoke_test(self) -> str:
        """Step 5 on a topic of its own (deleted at stop), never one the owner might read."""
        topic = f"{self.topic_prefix}smoke-{_random.token_hex(4)}"
        self.smoke_topics.append(topic)
        self._create_own_topic(topic, partitions=1, replication_factor=min(3, len(self.brokers)), config={})
        return admin.smoke_test(self.endpoint, replication_factor=min(3, len(self.brokers)), topic=topic)

    def _create_own_topic(self, name: str, *, partitions: int, replication_factor: int, config: dict[str, str],
                          timeout_s: float = 60) -> None:
        existing = admin.admin_client(self.endpoint).list_topics(timeout=10).topics
        if name in existing and name not in self.created_topics:
            raise ClusterError(f"topic {name} already exists on the cluster at {self.servers}: kafkalab writes only "
                               "to topics it creates (choose another topic.name or topic.prefix)")
        retry = name in self.created_topics  # a retried task whose first attempt went through
        if not retry:
            self.created_topics.append(name)  # before the request: a timeout may still create it
        client = admin.admin_client(self.endpoint)
        new = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=config)
        try:
            client.create_topics([new], request_timeout=timeout_s)[name].result(timeout=timeout_s)
        except KafkaException as exc:
            err = exc.args[0]
            if not (retry and isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                reason = err.str() if isinstance(err, KafkaError) else str(err)
                raise ClusterError(f"topic {name} could not be created on {self.servers}: {reason}") from None
        admin.wait_for_leaders(self.endpoint, name, partitions, timeout_s=timeout_s)

    # -- the load: local processes, as on the local platform ----------------------------

    def run_producers(self, load: ProducerLoad, instances: int, *, client_prefix: str, spread: str = "any",
                      on_line: LineSink | None = None, on_go: Callable[[], None] | None = None,
                      ) -> list[ProducerOutcome]:
        return runner.run_producers(self.dist, self.endpoint, load, instances, self.run_dir / load.topic,
                                    client_prefix=client_prefix, on_line=on_line, on_go=on_go)

    def run_consumer(self, load: ConsumerLoad, *, group: str, on_line: LineSink | None = None) -> ConsumerOutcome:
        return runner.run_consumer(self.dist, self.endpoint, load, self.run_dir / load.topic, group=group,
                                   on_line=on_line)

    def run_load(self, load: ProducerLoad, instances: int, *, alongside: ConsumerLoad | None = None,
                 client_prefix: str, spread: str = "any", on_line: LineSink | None = None,
                 on_go: Callable[[], None] | None = None) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
        return runner.run_load(self.dist, self.endpoint, load, instances, self.run_dir / load.topic,
                               alongside=alongside, client_prefix=client_prefix, on_line=on_line, on_go=on_go)

    def run_consumers(self, load: ConsumerLoad, *, on_line: LineSink | None = None) -> list[ConsumerOutcome]:
        return runner.run_consumers(self.dist, self.endpoint, load, self.run_dir / load.topic, on_line=on_line)

    # -- what kafkalab never does to someone's brokers ----------------------------------

    def add_brokers(self, count: int, *, on_progress: Callable[[str], None] | None = None) -> list[int]:
        raise self.never(SCALE, "add brokers")

    def remove_brokers(self, broker_ids: list[int], grace_s: float = 30) -> None:
        raise self.never(SCALE, "remove brokers")

    def scale_down(self, to_brokers: int, *, on_progress: Callable[[str], None]) -> list[int]:
        raise self.never(SCALE, "remove brokers")  # the base one deletes every user topic first

    def reassign(self, timeout_s: float) -> dict[str, dict[int, list[int]]]:
        raise self.never(REASSIGN, "reassign partitions")

    def kill_broker(self, node_id: int) -> None:
        raise self.never(FAULTS, "kill a broker")

    def stop_broker(self, node_id: int, grace_s: float = 30) -> None:
        raise self.never(FAULTS, "stop a broker")

    def start_broker(self, node_id: int) -> int:
        raise self.never(FAULTS, "start a broker")

    def wait_broker_back(self, node_id: int, since: int, timeout_s: float = 120) -> None:
        raise self.never(FAULTS, "restart a broker")

    def down_brokers(self) -> list[int]:
        return []  # kafkalab stopped none

    def never(self, capability: str, what: str) -> ClusterError:
        return ClusterError(f"platform external does not {what}: kafkalab did not deploy these brokers "
                            f"(no {capability!r} capability)")


def probe_brokers(endpoint: Endpoint, *, timeout_s: float) -> list[admin.BrokerInfo]:
    """The brokers the cluster metadata lists; one ClusterError line naming the address, or the
    mechanism when authentication fails (at once, not after the timeout)."""
    errors: list[KafkaError] = []
    client = AdminClient({**admin.client_config(endpoint), "error_cb": errors.append})
    future = client.describe_cluster(request_timeout=timeout_s)
    deadline = time.monotonic() + timeout_s + 1
    while True:
        try:
            result = future.result(timeout=0.2)
            break
        except FutureTimeout:
            client.poll(0)  # serves error_cb
            if (failure := _fatal(endpoint, errors)) or time.monotonic() > deadline:
                future.cancel()
                raise ClusterError(failure or _unreachable(endpoint, errors, timeout_s)) from None
        except KafkaException as exc:
            client.poll(0)
            raise ClusterError(_fatal(endpoint, errors) or _unreachable(endpoint, [*errors, exc.args[0]], timeout_s)
                               ) from None
        except Exception as exc:  # noqa: BLE001 - e.g. a host name that does not resolve
            raise ClusterError(_unreachable(endpoint, [*errors, exc], timeout_s)) from None
    return sorted((admin.BrokerInfo(n.id, n.host, n.port) for n in result.nodes), key=lambda b: b.node_id)


def _fatal(endpoint: Endpoint, errors: list[KafkaError]) -> str | None:
    security = endpoint.security
    for err in errors:
        if err.code() in _AUTH_ERRORS:
            return (f"cluster.security: {security.mechanism} authentication as user {security.username} failed at "
                    f"{endpoint.servers}: {_reason(err)}")
        if err.code() in _TLS_ERRORS:
            return (f"cluster.security: TLS with {endpoint.servers} failed (check cluster.security.ca_file): "
                    f"{_reason(err)}")
    return None


def _unreachable(endpoint: Endpoint, errors: list[Any], timeout_s: float) -> str:
    # The connection's own error (refused, unresolvable) says more than the request's timeout.
    why = _reason(errors[0]) if errors else "no answer"
    return f"cluster.bootstrap_servers: no broker at {endpoint.servers} answered within {timeout_s:g} s ({why})"


def _reason(err: Any) -> str:
    text = err.str() if isinstance(err, KafkaError) else str(err)
    return " ".join(text.split())[:300]
