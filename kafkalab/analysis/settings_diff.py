"""What differs between the runs of two sides: their stored settings and fingerprints.

Settings are what each run stored: its spec, producer properties, broker and topic
configuration, Kafka version, platform and hardware. Where runs carry a fingerprint of
their environment (runs.fingerprint, kafkalab.metrics.fingerprint), its differences are
listed too. The experiment's name and description are no setting and are left out.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafkalab.results.store import Store

_COLUMNS = ("spec", "producer_props", "broker_config", "topic_config", "kafka_version", "platform", "hardware",
            "producer_tool")
_NOT_SETTINGS = {"spec.name", "spec.description", "spec.repetitions"}
# The spec's copies of what runs store in columns of their own (producer_props, topic_config).
_SPEC_COPIES = ("spec.producer.props.", "spec.topic.config.")


def differences(store: Store, run_ids_a: Sequence[int], run_ids_b: Sequence[int]) -> list[str]:
    """One line per setting whose values differ between the sides, e.g.
    `producer_props.linger.ms: 0 (A) -> 20 (B)`; a side whose own runs disagree shows each value."""
    has_fingerprint = bool(store.query(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'runs' AND column_name = 'fingerprint'", {})[1])
    columns = [*_COLUMNS, *(["fingerprint"] if has_fingerprint else [])]
    _, rows = store.query(f"SELECT id, {', '.join(columns)} FROM runs WHERE id = ANY(:ids)",
                          {"ids": [*run_ids_a, *run_ids_b]})
    by_run = {row[0]: dict(zip(columns, row[1:], strict=True)) for row in rows}
    side_a = [by_run[r] for r in run_ids_a if r in by_run]
    side_b = [by_run[r] for r in run_ids_b if r in by_run]
    lines = _setting_lines([_flat(run, _COLUMNS) for run in side_a], [_flat(run, _COLUMNS) for run in side_b])
    if has_fingerprint:
        lines += _fingerprint_lines([r.get("fingerprint") for r in side_a], [r.get("fingerprint") for r in side_b])
    return lines


def _setting_lines(a: list[dict[str, str]], b: list[dict[str, str]]) -> list[str]:
    lines = []
    keys = {k for run in (*a, *b) for k in run if not k.startswith(_SPEC_COPIES)} - _NOT_SETTINGS
    for key in sorted(keys):
        values_a = sorted({run.get(key, "(unset)") for run in a})
        values_b = sorted({run.get(key, "(unset)") for run in b})
        if values_a != values_b:
            lines.append(f"{key}: {' | '.join(values_a)} (A) -> {' | '.join(values_b)} (B)")
    return lines


def _fingerprint_lines(a: list[Any], b: list[Any]) -> list[str]:
    """The fingerprint module's own account of the first fingerprint of each side."""
    first_a = next((f for f in a if f), None)
    first_b = next((f for f in b if f), None)
    if first_a is None or first_b is None:
        return [] if first_a is None and first_b is None else ["fingerprint: only one side's runs have one"]
    try:  # kafkalab.metrics.fingerprint comes with schema 0008; without it the raw keys are compared
        describe = importlib.import_module("kafkalab.metrics.fingerprint").differences
    except (ImportError, AttributeError):
        return [line.replace("fingerprint.", "fingerprint: ", 1)
                for line in _setting_lines([_flat({"fingerprint": first_a}, ["fingerprint"])],
                                           [_flat({"fingerprint": first_b}, ["fingerprint"])])]
    return [f"fingerprint: {line}" for line in describe(first_a, first_b)]


def _flat(run: Mapping[str, Any], columns: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for column in columns:
        _flatten(column, run.get(column), out)
    return out


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif value is not None:
        out[prefix] = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
