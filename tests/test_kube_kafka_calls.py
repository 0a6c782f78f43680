"""The flow's Kafka calls behind a command prefix (kafkalab/platforms/kubernetes/kafka_calls.py).

Against a real local broker: every call of the KafkaLevel seam goes through the subprocess
protocol (kafkalab.kafka.admin_call) and answers as the in-process calls do. Behind
`ip netns exec` of a network namespace this test creates, the same broker is out of reach:
the calls really run in the namespace (its own loopback), and say so in one line.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

import pytest

from kafkalab.core.errors import ClusterError
from kafkalab.core.waiting import wait_until
from kafkalab.kafka import admin
from kafkalab.platforms.base import KafkaLevel
from kafkalab.platforms.kubernetes.kafka_calls import PrefixedKafka, kafka_level
from kafkalab.spec import parse_spec
from kafkalab.spec.models import TopicSpec


def test_the_spec_chooses_where_the_calls_go():
    spec = parse_spec({"name": "k", "platform": "kubernetes", "producer": {"num_records": 1},
                       "cluster": {"kubernetes": {"kafka_calls_via": ["ip", "netns", "exec", "kl-node"]}}})
    level = kafka_level(spec.cluster.kubernetes)
    assert isinstance(level, PrefixedKafka) and level.prefix == ["ip", "netns", "exec", "kl-node"]
    default = parse_spec({"name": "k", "platform": "kubernetes", "producer": {"num_records": 1}})
    assert type(kafka_level(default.cluster.kubernetes)) is KafkaLevel  # in the flow's process


@pytest.fixture(scope="module")
def broker(one_broker_cluster):
    return one_broker_cluster


@pytest.mark.kafka
def test_every_call_through_the_subprocess_protocol_answers_as_in_process(broker):
    calls = PrefixedKafka(["env"])  # a prefix that stays in this namespace: the protocol alone
    assert calls.registered_brokers(broker) == admin.registered_brokers(broker.endpoint)
    topic = f"calls-{secrets.token_hex(3)}"
    broker.kafka = calls
    try:
        broker.create_topic(TopicSpec(partitions=2, replication_factor=1), topic)
        assert admin.topic_assignment(broker.bootstrap_servers, topic) == {0: [0], 1: [0]}
        assert broker.smoke_test().startswith("kafkalab smoke test ")  # produced and read back, in the subprocess
        assert broker.records_in_topic(topic) == 0
        assert topic in calls.delete_user_topics(broker)
        wait_until(lambda: topic not in admin.user_topics(broker.bootstrap_servers), 30, f"{topic} deleted")
    finally:
        broker.kafka = KafkaLevel()
    with pytest.raises(ClusterError) as info:
        calls.records_in_topic(broker, "no-such-topic-here")
    assert "\n" not in str(info.value)
    time.sleep(1)  # a topic the lookup had made would be listed by now
    assert "no-such-topic-here" not in admin.user_topics(broker.bootstrap_servers)  # asking made no topic


@pytest.fixture
def netns():
    """A network namespace of this test's own (only its loopback, down), removed after."""
    name = f"kltest-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
    assert not Path("/run/netns", name).exists()


@pytest.mark.kafka
def test_calls_behind_ip_netns_exec_run_inside_the_namespace(broker, netns):
    calls = PrefixedKafka(["ip", "netns", "exec", netns])
    with pytest.raises(ClusterError) as info:
        calls.registered_brokers(broker)  # the broker listens on the host's 127.0.0.1, not the namespace's
    message = str(info.value)
    assert message.startswith(f"cluster at {broker.endpoint} does not answer") and "\n" not in message, message
    missing = PrefixedKafka(["no-such-prefix-command"])
    with pytest.raises(ClusterError, match=r"^kafka calls via no-such-prefix-command: no-such-prefix-command not found$"):
        missing.registered_brokers(broker)
