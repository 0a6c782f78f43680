"""Kafka-level steps through the admin and client APIs: readiness, topics, smoke test, offsets.

Platform-independent: everything here needs only where the cluster answers (a bootstrap
servers string, or an Endpoint that also says how to authenticate), so the local and the
Kubernetes platform share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafkalab.core.errors import ClusterError
from kafkalab.core.waiting import wait_until
from kafkalab.kafka.security import Endpoint, endpoint_of

Target = str | Endpoint

SMOKE_TOPIC = "kafkalab-smoke"
_QUIET = {"log_level": 0}  # librdkafka stays silent: connection errors while brokers start are expected and retried here


@dataclass(frozen=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def client_config(target: Target) -> dict[str, object]:
    """librdkafka settings for a client of `target`: servers, credentials, quiet logs."""
    endpoint = endpoint_of(target)
    return {"bootstrap.servers": endpoint.servers, **endpoint.security.librdkafka_config(), **_QUIET}


def admin_client(bootstrap: Target) -> AdminClient:
    # librdkafka's admin handle is a producer, whose metadata requests ask the broker to
    # create a topic they name (a cluster's default auto.create.topics.enable is true):
    # looking a topic up must never make it.
    return AdminClient({**client_config(bootstrap), "allow.auto.create.topics": False})


def registered_brokers(bootstrap: Target, timeout_s: float = 5.0) -> list[BrokerInfo]:
    """The brokers the cluster metadata lists as registered and unfenced."""
    client = admin_client(bootstrap)  # must outlive the future: a collected client cancels it
    try:
        result = client.describe_cluster(request_timeout=timeout_s).result(timeout=timeout_s + 1)
    except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
        raise ClusterError(f"cluster at {bootstrap} does not answer: {exc}") from exc
    return sorted((BrokerInfo(n.id, n.host, n.port) for n in result.nodes), key=lambda b: b.node_id)


def wait_until_registered(
    list_brokers: Callable[[], list[BrokerInfo]],
    expected: set[int],
    *,
    timeout_s: float,
    on_ready: Callable[[BrokerInfo], None] | None = None,
    is_alive: Callable[[], str | None] | None = None,
    poll_s: float = 0.25,
) -> list[BrokerInfo]:
    """Wait until every expected broker is among `list_brokers()`; report each as it appears.

    `list_brokers` raises ClusterError while the cluster does not answer (retried until the
    timeout). `is_alive` returns a reason when a process of the cluster died, so a broker
    that can never come up fails fast instead of after the whole timeout.
    """
    seen: set[int] = set()
    registered: list[BrokerInfo] = []
    last_seen = "no answer yet"

    def all_registered() -> bool:
        nonlocal last_seen
        if is_alive and (reason := is_alive()):
            raise ClusterError(reason)
        try:
            brokers = list_brokers()
        except ClusterError as exc:
            last_seen = str(exc)
            return False
        for broker in brokers:
            if broker.node_id in expected and broker.node_id not in seen:
                seen.add(broker.node_id)
                if on_ready:
                    on_ready(broker)
        if expected <= seen:
            registered[:] = sorted((b for b in brokers if b.node_id in expected), key=lambda b: b.node_id)
            return True
        last_seen = f"registered: {sorted(seen)}, waiting for {sorted(expected - seen)}"
        return False

    wait_until(all_registered, timeout_s, "brokers registered", interval=poll_s, detail=lambda: last_seen,
               error=ClusterError)
    return registered


def create_topic(
    bootstrap: Target,
    name: str,
    *,
    partitions: int,
    replication_factor: int,
    config: dict[str, str] | None = None,
    timeout_s: float = 60,
) -> None:
    """Create a topic and wait until every partition has a leader (ready to produce to)."""
    client = admin_client(bootstrap)
    topic = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=dict(config or {}))
    future = client.create_topics([topic], request_timeout=timeout_s)[name]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        err = exc.args[0]
        if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            # A retried creation whose first attempt went through: fine if it is the same topic.
            existing = topic_assignment(bootstrap, name)
            if len(existing) != partitions:
                raise ClusterError(f"topic {name} already exists with {len(existing)} partitions") from None
            wait_for_leaders(bootstrap, name, partitions, timeout_s=timeout_s)
            return
        reason = err.str() if isinstance(err, KafkaError) else str(err)
        raise ClusterError(f"topic {name} could not be created: {reason}") from None
    wait_for_leaders(bootstrap, name, partitions, timeout_s=timeout_s)


def wait_for_leaders(bootstrap: Target, topic: str, partitions: int, *, timeout_s: float) -> None:
    client = admin_client(bootstrap)
    led = 0

    def every_partition_led() -> bool:
        nonlocal led
        meta = client.list_topics(topic=topic, timeout=5).topics.get(topic)
        ok = meta is not None and meta.error is None
        led = sum(1 for p in meta.partitions.values() if p.leader >= 0) if ok else 0
        return led == partitions

    wait_until(every_partition_led, timeout_s, f"topic {topic}: a leader for every partition",
               detail=lambda: f"{led} of {partitions} partitions have one", error=ClusterError)


def topic_assignment(bootstrap: Target, topic: str) -> dict[int, list[int]]:
    """Partition -> replica broker ids, as the cluster metadata has them."""
    client = admin_client(bootstrap)
    meta = client.list_topics(topic=topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None:
        raise ClusterError(f"topic {topic} not found on {bootstrap}")
    return {p.id: list(p.replicas) for p in meta.partitions.values()}


def smoke_test(bootstrap: Target, *, replication_factor: int, timeout_s: float = 60, topic: str = SMOKE_TOPIC) -> str:
    """The guide's Step 5: produce one message to `topic` (created when missing) and read it back. Returns the message."""
    client = admin_client(bootstrap)
    if topic not in client.list_topics(timeout=10).topics:
        create_topic(bootstrap, topic, partitions=1, replication_factor=replication_factor, timeout_s=timeout_s)
    message = f"kafkalab smoke test {uuid.uuid4()}"
    producer = Producer({**client_config(bootstrap), "acks": "all"})
    delivered: list[str] = []

    def on_delivery(err, _msg) -> None:
        delivered.append("ok" if err is None else str(err))

    producer.produce(topic, message.encode(), on_delivery=on_delivery)
    producer.flush(timeout_s)
    if delivered != ["ok"]:
        raise ClusterError(f"smoke test: producing to {topic} failed: {delivered or 'no delivery report'}")
    consumer = Consumer({
        **client_config(bootstrap), "group.id": f"kafkalab-smoke-{uuid.uuid4()}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })
    def read_back() -> bool:
        msg = consumer.poll(0.5)  # waits for a message: no pause needed between polls
        return msg is not None and not msg.error() and msg.value() == message.encode()

    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        wait_until(read_back, timeout_s, f"smoke test: the message produced to {topic} read back", interval=0,
                   error=ClusterError)
    finally:
        consumer.close()
    return message


def records_in_topic(bootstrap: Target, topic: str, timeout_s: float = 30) -> int:
    """Sum over partitions of (end offset - start offset): what the topic holds."""
    client = admin_client(bootstrap)
    meta = client.list_topics(topic=topic, timeout=timeout_s).topics.get(topic)
    if meta is None or meta.error is not None:
        raise ClusterError(f"topic {topic} not found on {bootstrap}")
    consumer = Consumer({**client_config(bootstrap), "group.id": f"kafkalab-offsets-{uuid.uuid4()}"})
    try:
        total = 0
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            total += high - low
        return total
    finally:
        consumer.close()


def user_topics(bootstrap: Target) -> list[str]:
    """Topics a test made (not Kafka's internal `__` topics, not the smoke-test topic)."""
    client = admin_client(bootstrap)
    names = client.list_topics(timeout=10).topics
    return sorted(n for n in names if not n.startswith("__") and n != SMOKE_TOPIC)


def delete_topics(bootstrap: Target, names: list[str], timeout_s: float = 60) -> None:
    if not names:
        return
    client = admin_client(bootstrap)
    for name, future in client.delete_topics(names, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise ClusterError(f"topic {name} could not be deleted: {exc.args[0]}") from None


def balanced_assignment(partitions: dict[int, list[int]], brokers: list[int]) -> dict[int, list[int]]:
    """Round-robin replicas over `brokers`, keeping each partition's replication factor.

    Partition p gets brokers p, p+1, ... (mod n), the placement Kafka itself uses for a new
    topic without racks, so new brokers take their share of replicas and preferred leaders.
    """
    ordered = sorted(brokers)
    n = len(ordered)
    return {p: [ordered[(p + j) % n] for j in range(len(replicas))] for p, replicas in sorted(partitions.items())}


def elect_preferred_leaders(bootstrap: Target, topic: str, partitions: list[int], timeout_s: float = 30) -> None:
    """Move leadership to each partition's first replica (after a reassignment)."""
    from confluent_kafka import ElectionType

    client = admin_client(bootstrap)
    future = client.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, p) for p in partitions])
    try:
        future.result(timeout=timeout_s)
    except KafkaException:
        pass  # ELECTION_NOT_NEEDED and the like: leadership is where it should be


def upsert_scram_user(bootstrap: Target, username: str, password: str, mechanism: str, *,
                      iterations: int, timeout_s: float = 30) -> None:
    """Create (or reset) a SCRAM credential; Kafka keeps it in the cluster metadata."""
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    kind = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256, "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}[mechanism]
    upsert = UserScramCredentialUpsertion(username, ScramCredentialInfo(kind, iterations), password.encode())
    client = admin_client(bootstrap)
    for future in client.alter_user_scram_credentials([upsert], request_timeout=timeout_s).values():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise ClusterError(f"SCRAM user {username} could not be created: {exc.args[0]}") from None
