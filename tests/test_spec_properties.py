"""Property-based tests: no spec mapping, YAML text or `--set` value makes the spec model
crash with a traceback. Each is accepted, or rejected with a SpecError naming the problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafkalab.errors import SpecError
from kafkalab.spec import apply_override, load_spec, parse_spec

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
]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _accepted_or_named(call) -> None:
    try:
        call()
    except SpecError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message.strip() and "Traceback" not in message, message


@SETTINGS
@given(st.sampled_from(KEYS), values)
def test_any_value_at_a_known_path(key: str, value) -> None:
    data = copy.deepcopy(BASE)

    def set_and_parse() -> None:
        node = data
        parts = key.split(".")
        # settings mappings take the rest of the path as one Kafka name
        head = 3 if parts[0] in ("cluster", "topic", "producer") and len(parts) > 2 else len(parts)
        *path, last = parts[:head - 1] + [".".join(parts[head - 1:])] if head < len(parts) else parts
        for part in path:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[last] = value
        parse_spec(data)

    _accepted_or_named(set_and_parse)


@SETTINGS
@given(st.sampled_from(KEYS + ["", ".", "a..b", "producer.props"]), st.text(max_size=30))
def test_any_set_override(key: str, raw: str) -> None:
    data = copy.deepcopy(BASE)

    def override_and_parse() -> None:
        apply_override(data, f"{key}={raw}")
        parse_spec(data)

    _accepted_or_named(override_and_parse)


@SETTINGS
@given(st.text(max_size=30))
def test_any_set_item_without_structure(item: str) -> None:
    _accepted_or_named(lambda: (apply_override(copy.deepcopy(BASE), item), None))


@SETTINGS
@given(values)
def test_any_top_level_value(value) -> None:
    _accepted_or_named(lambda: parse_spec(value))
    _accepted_or_named(lambda: parse_spec({**BASE, "cluster": value}))


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("specs")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_yaml_text(spec_dir: Path, text: str) -> None:
    path = spec_dir / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    _accepted_or_named(lambda: load_spec(path))
