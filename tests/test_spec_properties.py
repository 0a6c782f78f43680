"""Property-based tests: no spec mapping, YAML text or `--set` value makes the spec model
crash with a traceback. Each is accepted, or rejected with a SpecError naming the problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafkalab.core.errors import SpecError
from kafkalab.spec import apply_override, load_spec, parse_spec
from tests.spec_strategies import BASE, KEYS, values

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
