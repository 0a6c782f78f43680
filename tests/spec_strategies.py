"""Generators of spec input for the property tests (tests/test_spec_properties.py) and the
invalid-input benchmark (bench/invalid_inputs.py): a valid base spec, the paths a user sets,
and any YAML-like value."""

from __future__ import annotations

from hypothesis import strategies as st

BASE = {
    "name": "prop",
    "cluster": {"brokers": 3, "heap_mb": 256},
    "topic": {"partitions": 6, "replication_factor": 3},
    "producer": {"instances": 1, "num_records": 1000, "record_size": 100, "props": {"acks": "all"}},
    "consumer": {"timeout_ms": 15000},
}
KEYS = [
    "name", "cluster.brokers", "cluster.heap_mb", "cluster.broker_config.num.io.threads", "topic.partitions",
    "topic.replication_factor", "topic.name", "topic.config.min.insync.replicas", "producer.instances",
    "producer.num_records", "producer.record_size", "producer.throughput", "producer.props.acks",
    "producer.props.batch.size", "producer.props.linger.ms", "producer.props.compression.type",
    "consumer.timeout_ms", "repetitions", "profile", "retries.perf_tests", "smoke_test", "nosuch", "cluster.nosuch",
    "cluster.security.protocol", "cluster.security.sasl_mechanism", "cluster.security.username",
    "cluster.security.password", "cluster.security", "producer.props.sasl.jaas.config", "faults", "integrity",
]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)
