"""The platform interface: everything an experiment asks of the cluster it runs on.

In the spirit of the OpenMessaging Benchmark's BenchmarkDriver: the experiment steps, the
Prefect tasks and the fault injector hold a `Cluster` and never ask which platform it is.
Each platform (kafkalab/platforms/<name>/) implements every abstract method below. What a
platform cannot do yet it declares by leaving it out of `capabilities`; its method then
raises a one-line ClusterError, and `kafkalab.platforms.check_spec` refuses a spec that
asks for it before anything starts.

The Kafka-level steps (topics, smoke test, offsets, SCRAM users, reassignment) are the same
on every platform: they go through `cluster.kafka`, a KafkaLevel talking to the brokers'
admin API at `cluster.endpoint`. Tests on fake Kubernetes nodes, where no Kafka runs, swap
in one that answers from the pod list.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from kafkalab.core.errors import ClusterError
from kafkalab.kafka import admin
from kafkalab.kafka.broker_config import BrokerSettings, check_with_kafka, resolve_broker_settings

if TYPE_CHECKING:
    from kafkalab.kafka.distribution import KafkaDistribution
    from kafkalab.kafka.security import ClusterSecurity
    from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad
    from kafkalab.model import ConsumerOutcome, ProducerOutcome
    from kafkalab.spec import ExperimentSpec, TopicSpec

Progress = Callable[[str], None]
C = TypeVar("C", bound="Cluster")

# What a platform may offer beyond deploy / load / stop (Cluster.capabilities).
FAULTS = "faults"  # kill / stop / start a broker while the producers run (spec `faults:`)
SCALE = "scale"  # add and remove brokers of a live cluster (a sweep's cluster.brokers axis)
REASSIGN = "reassign"  # move existing partitions onto new brokers (sweep scaling.reassign_partitions)
SECURITY = "security"  # SASL and/or TLS on the broker listener (cluster.security)
GENERATOR = "generator"  # kafkalab's load generator as the load (producer.tool / consumer.tool kafkalab)


@dataclass(frozen=True)
class MetricsTarget:
    """Something a metrics sampler can read: a broker's JMX, a node's process or host."""

    kind: str  # e.g. "broker-jmx", "process", "host"
    name: str  # e.g. "broker-0"
    address: str | None = None  # host:port for JMX
    pid: int | None = None  # a local process
    # Where `address` is reachable, when not from this machine: e.g. a broker's pod, whose JMX
    # listens on the pod's loopback only; its sampler runs there (Cluster.run_loadgen_inside).
    inside: str | None = None


class SamplerProcess(Protocol):
    """A metrics sampler running somewhere: a local child process, or a command in a pod."""

    log_path: Path

    def poll(self) -> int | None:
        """None while it runs; its exit code once it has ended."""

    def stop(self, grace_s: float = 10) -> None:
        """End it (bounded; idempotent)."""


class KafkaLevel:
    """The Kafka-level steps of any cluster, one seam: kafkalab.kafka.admin (DescribeCluster,
    CreateTopics, ...) against `cluster.endpoint`."""

    def registered_brokers(self, cluster: Cluster) -> list[admin.BrokerInfo]:
        return admin.registered_brokers(cluster.endpoint, timeout_s=3)

    def create_topic(self, cluster: Cluster, name: str, *, partitions: int, replication_factor: int,
                     config: dict[str, str]) -> None:
        admin.create_topic(cluster.endpoint, name, partitions=partitions, replication_factor=replication_factor,
                           config=config)

    def smoke_test(self, cluster: Cluster, *, replication_factor: int) -> str:
        return admin.smoke_test(cluster.endpoint, replication_factor=replication_factor)

    def records_in_topic(self, cluster: Cluster, topic: str) -> int:
        return admin.records_in_topic(cluster.endpoint, topic)

    def upsert_scram_user(self, cluster: Cluster, security: ClusterSecurity) -> None:
        from kafkalab.kafka.security import SCRAM_ITERATIONS

        admin.upsert_scram_user(cluster.endpoint, security.username, security.password, security.mechanism,
                                iterations=SCRAM_ITERATIONS)

    def set_client_quotas(self, cluster: Cluster, quotas: dict[str, float]) -> None:
        from kafkalab.kafka.quotas import set_default_client_quotas

        set_default_client_quotas(cluster.dist, cluster.endpoint, quotas, cluster.run_dir)

    def delete_user_topics(self, cluster: Cluster) -> list[str]:
        topics = admin.user_topics(cluster.endpoint)
        admin.delete_topics(cluster.endpoint, topics)
        return topics

    def reassign(self, cluster: Cluster, timeout_s: float) -> dict[str, dict[int, list[int]]]:
        from kafkalab.kafka.reassign import reassign_onto

        return reassign_onto(cluster.dist, cluster.endpoint, cluster.broker_ids, cluster.run_dir, timeout_s=timeout_s)


class Cluster(ABC):
    """A Kafka cluster on some platform, deployed or about to be (see the module doc)."""

    platform: ClassVar[str]  # the spec's `platform:` value, stored with every run
    capabilities: ClassVar[frozenset[str]]  # of FAULTS, SCALE, REASSIGN, SECURITY

    # What every platform keeps (dataclass fields in the implementations).
    dist: KafkaDistribution
    run_dir: Path  # configs, logs and tool output kept on the machine running the flow
    settings: BrokerSettings  # the broker settings applied (and skipped)
    security: ClusterSecurity | None  # None: PLAINTEXT
    brokers: list[Any]  # one entry per live broker, each with a `node_id`
    kafka: KafkaLevel

    # -- layout ---------------------------------------------------------------------------

    @property
    @abstractmethod
    def bootstrap_servers(self) -> str:
        """The guide's Step 3 endpoint list: host:port of every broker, comma-separated."""

    @property
    @abstractmethod
    def endpoint(self) -> admin.Target:
        """Where kafkalab's own Kafka calls (readiness, topics, offsets) reach the brokers, with credentials."""

    @property
    def broker_ids(self) -> list[int]:
        return [b.node_id for b in self.brokers]

    @property
    def kafka_version(self) -> str:
        """The Kafka the brokers run, stored with every run: the distribution kafkalab started them from."""
        return self.dist.version

    @property
    def observed(self) -> dict[str, Any]:
        """What kafkalab found on the cluster rather than deployed (an external cluster's brokers),
        stored with each run's spec under `observed`. Default: nothing, kafkalab deployed it all."""
        return {}

    # -- lifecycle ------------------------------------------------------------------------

    @abstractmethod
    def deploy(self, brokers: int, controllers: int = 1, *, on_progress: Progress | None = None) -> None:
        """Create and start every node (in parallel); returns without waiting for readiness."""

    @abstractmethod
    def wait_ready(self, broker_ids: list[int] | None = None, *, timeout_s: float = 120,
                   on_ready: Callable[[admin.BrokerInfo], None] | None = None) -> list[admin.BrokerInfo]:
        """Until these brokers (default: all) are registered; `on_ready` is called for each as it comes."""

    def open_endpoints(self, client_quotas: dict[str, float] | None = None) -> str:
        """Step 3: the bootstrap servers clients use; a SCRAM user is created, and the default
        client quotas set, now that the brokers are up."""
        if self.security is not None and self.security.needs_scram_user:
            self.kafka.upsert_scram_user(self, self.security)
        if client_quotas:
            self.kafka.set_client_quotas(self, client_quotas)
        return self.bootstrap_servers

    @abstractmethod
    def stop(self, grace_s: float = 10) -> None:
        """Stop every node (and everything started for it); bounded, also after a failure."""

    @abstractmethod
    def remove_data(self) -> None:
        """Free what the stopped cluster's data used, keeping configs and logs."""

    # -- Kafka-level steps (the same on every platform, through `kafka`) -------------------

    def create_topic(self, topic: TopicSpec, name: str) -> str:
        """Step 2: a run's topic with the spec's partitions, replication and settings."""
        self.kafka.create_topic(self, name, partitions=topic.partitions, replication_factor=topic.replication_factor,
                                config=dict(topic.config))
        return name

    def smoke_test(self) -> str:
        """Step 5: one message produced and read back."""
        return self.kafka.smoke_test(self, replication_factor=min(3, len(self.brokers)))

    def records_in_topic(self, topic: str) -> int:
        """What the topic holds: the sum of its partitions' end minus start offsets."""
        return self.kafka.records_in_topic(self, topic)

    # -- the load -------------------------------------------------------------------------

    @abstractmethod
    def run_producers(self, load: ProducerLoad, instances: int, *, client_prefix: str, spread: str = "any",
                      on_line: LineSink | None = None, on_go: Callable[[], None] | None = None,
                      ) -> list[ProducerOutcome]:
        """Step 6: `instances` producers at once behind one start barrier; one outcome per instance.

        `on_go` is called when every instance starts sending (the faults' clock). `spread`
        places the instances where the platform has nodes to choose from (producer.spread).
        Output is kept in <run dir>/<topic>/ and streamed to `on_line`.
        """

    @abstractmethod
    def run_consumer(self, load: ConsumerLoad, *, group: str, on_line: LineSink | None = None) -> ConsumerOutcome:
        """Step 6, consumer side: one consumer test over the topic."""

    def run_load(self, load: ProducerLoad, instances: int, *, alongside: ConsumerLoad | None = None,
                 client_prefix: str, spread: str = "any", on_line: LineSink | None = None,
                 on_go: Callable[[], None] | None = None) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
        """The producers, with `alongside` consumers reading while they write; (producers, consumers).

        Default: run_producers, for platforms without the load generator (GENERATOR).
        """
        if alongside is not None or load.tool == "kafkalab":
            raise self.not_offered(GENERATOR, "run kafkalab's load generator")
        return self.run_producers(load, instances, client_prefix=client_prefix, spread=spread, on_line=on_line,
                                  on_go=on_go), []

    def run_consumers(self, load: ConsumerLoad, *, on_line: LineSink | None = None) -> list[ConsumerOutcome]:
        """The consumers after the producers (a drain of the backlog); one outcome per instance.

        Default: run_consumer, for platforms without the load generator (GENERATOR).
        """
        if load.tool == "kafkalab":
            raise self.not_offered(GENERATOR, "run kafkalab's load generator")
        return [self.run_consumer(load, group=load.group, on_line=on_line)]

    # -- scaling --------------------------------------------------------------------------

    @abstractmethod
    def add_brokers(self, count: int, *, on_progress: Progress | None = None) -> list[int]:
        """Scale up (the guide's broker count update): `count` more brokers with the next ids; returns them."""

    @abstractmethod
    def remove_brokers(self, broker_ids: list[int], grace_s: float = 30) -> None:
        """Stop these brokers cleanly (controlled shutdown) and forget them."""

    def scale_down(self, to_brokers: int, *, on_progress: Progress) -> list[int]:
        """Remove the newest brokers cleanly down to `to_brokers`; returns the removed ids.

        Earlier cells' topics are deleted first: their runs are stored, and replicas on a
        removed broker would only leave them under-replicated or offline.
        """
        topics = self.kafka.delete_user_topics(self)
        if topics:
            on_progress(f"deleted {len(topics)} topics of earlier cells before removing brokers")
        removed = sorted(self.broker_ids)[to_brokers:]
        self.remove_brokers(removed)
        on_progress(f"brokers {removed} removed (controlled shutdown)")
        return removed

    def reassign(self, timeout_s: float) -> dict[str, dict[int, list[int]]]:
        """After a scale-up: the existing topics' replicas spread over every broker, new ones included."""
        return self.kafka.reassign(self, timeout_s)

    # -- faults (kafkalab.platforms.faults.FaultInjector) ---------------------------------

    @abstractmethod
    def kill_broker(self, node_id: int) -> None:
        """Kill the broker without a controlled shutdown, as when its machine dies."""

    @abstractmethod
    def stop_broker(self, node_id: int, grace_s: float = 30) -> None:
        """Clean shutdown (the broker hands its leaderships over first), forced after `grace_s`."""

    @abstractmethod
    def start_broker(self, node_id: int) -> int:
        """Start a stopped or killed broker again with its data; returns a mark for wait_broker_back."""

    @abstractmethod
    def wait_broker_back(self, node_id: int, since: int, timeout_s: float = 120) -> None:
        """Until the broker started at `since` (start_broker's mark) serves again."""

    @abstractmethod
    def down_brokers(self) -> list[int]:
        """The brokers not running now (killed or stopped by a fault)."""

    def restart_broker(self, node_id: int, timeout_s: float = 120) -> None:
        """start_broker, then wait_broker_back."""
        since = self.start_broker(node_id)
        self.wait_broker_back(node_id, since, timeout_s=timeout_s)

    # -- metrics: the seam a metrics feature fills ----------------------------------------

    def metrics_targets(self) -> list[MetricsTarget]:
        """What samplers (broker JMX, host, process) could read during a run. Default: nothing yet.

        A platform returns its brokers' JMX addresses and processes here, opening what it must
        (a port-forward, say); `release_metrics_targets` closes that again after the run.
        """
        return []

    def release_metrics_targets(self) -> None:
        """Undo what metrics_targets opened. Default: nothing to undo."""

    def run_loadgen_inside(self, place: str, args: list[str], *, heap_mb: int, jvm_options: tuple[str, ...],
                           log_path: Path, on_line: Callable[[str], None]) -> SamplerProcess:
        """Run kafkalab's load generator with `args` inside `place` (a MetricsTarget.inside), its
        output lines to `on_line`, until stopped or until its stdin closes. Default: no such place."""
        raise ClusterError(f"platform {self.platform} cannot run a metrics sampler inside {place}")

    def node_descriptions(self) -> list[dict[str, Any]]:
        """The machines the brokers run on, for the run's fingerprint (kafkalab.metrics.fingerprint):
        type, CPU, memory, kernel, OS. Default: none beyond the machine running the flow."""
        return []

    @property
    def broker_java(self) -> str | None:
        """The java executable the brokers run, when they run on this machine (the fingerprint asks
        it its vendor and version). Default None: they run elsewhere."""
        return None

    # -- helpers for implementations ------------------------------------------------------

    def not_offered(self, capability: str, what: str) -> ClusterError:
        """The one-line error of a method whose capability this platform lacks."""
        return ClusterError(f"platform {self.platform} cannot {what} yet (no {capability!r} capability)")


def deploy_or_stop(cluster: C, spec: ExperimentSpec, *, on_progress: Progress) -> C:
    """Deploy `cluster` with the spec's node counts; when that fails, stop what started and
    raise the deploy's error (not one from stopping)."""
    try:
        cluster.deploy(spec.cluster.brokers, spec.cluster.controllers, on_progress=on_progress)
    except BaseException:
        with contextlib.suppress(Exception):
            cluster.stop(grace_s=2)
        raise
    return cluster


def check_broker_settings(spec: ExperimentSpec, dist: KafkaDistribution,
                          planned_config: Callable[[BrokerSettings], Mapping[str, object]]) -> BrokerSettings:
    """The settings the brokers get; a SpecError naming the setting when Kafka would refuse them.

    One check for every platform: `planned_config` is the whole config broker 0 would start
    with on that platform (its listeners and paths around the same mapped settings).
    """
    settings = resolve_broker_settings(spec.cluster.broker_config, dist)
    check_with_kafka(planned_config(settings), spec.cluster.broker_config, dist)
    return settings
