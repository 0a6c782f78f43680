"""What a run request carries when it comes from the Prefect UI, a schedule or the CLI.

A request names its experiment one of two ways, exactly one of them: a spec file (a path
like `experiments/quickstart.yaml`, relative to the working directory or the project) or
an inline spec (the form in the UI, or an ExperimentSpec from Python). `SpecOverrides`
then changes a few common settings with typed fields, so that the UI shows number inputs
with bounds and dropdowns (compression, acks) instead of a JSON editor; anything else goes
through `settings`, the same `key=value` items as `kafkalab run --set`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kafkalab.core.errors import SpecError
from kafkalab.platforms import check_spec
from kafkalab.spec.models import (
    ExperimentSpec,
    _format_error,
    apply_override,
    form_order,
    load_spec,
    parse_spec,
    read_yaml,
)
from kafkalab.spec.profiles import ProfileName

PROJECT_DIR = Path(__file__).resolve().parents[2]

Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]
Acks = Literal["0", "1", "-1", "all"]

# Override field -> the spec setting it replaces (a `--set` path).
_OVERRIDE_PATHS = {
    "name": "name",
    "profile": "profile",
    "brokers": "cluster.brokers",
    "partitions": "topic.partitions",
    "replication_factor": "topic.replication_factor",
    "producer_instances": "producer.instances",
    "num_records": "producer.num_records",
    "record_size": "producer.record_size",
    "throughput": "producer.throughput",
    "compression_type": "producer.props.compression.type",
    "acks": "producer.props.acks",
    "batch_size": "producer.props.batch.size",
    "linger_ms": "producer.props.linger.ms",
    "repetitions": "repetitions",
}


class SpecOverrides(BaseModel):
    """Settings that replace the spec's for this run; an empty field keeps the spec's value."""

    model_config = ConfigDict(extra="forbid", title="Overrides", json_schema_extra=form_order)

    name: str | None = Field(
        None, title="Experiment name", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="Store the runs under this name instead of the spec's.",
    )
    profile: ProfileName | None = Field(
        None, title="Tuning profile", description="A preset of the guide (baseline, throughput-lower, ...); "
        "settings written in the spec win over it.",
    )
    brokers: int | None = Field(None, ge=1, le=64, title="Brokers", description="Number of brokers (cluster.brokers).")
    partitions: int | None = Field(None, ge=1, le=10000, title="Partitions", description="Topic partitions.")
    replication_factor: int | None = Field(
        None, ge=1, le=64, title="Replication factor", description="Topic replication factor (at most the brokers)."
    )
    producer_instances: int | None = Field(
        None, ge=1, le=100, title="Producer instances", description="Parallel ProducerPerformance instances."
    )
    num_records: int | None = Field(
        None, ge=1, le=10**12, title="Records per producer", description="--num-records of each producer instance."
    )
    record_size: int | None = Field(
        None, ge=1, le=100 * 1024 * 1024, title="Record size (bytes)", description="--record-size."
    )
    throughput: float | None = Field(
        None, ge=-1, title="Throughput (records/s per producer)", description="--throughput; -1 for no limit."
    )
    compression_type: Compression | None = Field(
        None, title="Compression", description="Producer compression.type."
    )
    acks: Acks | None = Field(None, title="Acks", description="Producer acks (all = -1).")
    batch_size: int | None = Field(None, ge=0, le=2**31 - 1, title="Batch size (bytes)", description="Producer batch.size.")
    linger_ms: int | None = Field(None, ge=0, le=3_600_000, title="Linger (ms)", description="Producer linger.ms.")
    repetitions: int | None = Field(None, ge=1, le=100, title="Repetitions", description="Runs of the same case.")
    settings: list[str] = Field(
        default_factory=list, title="Other settings (key=value)",
        description="Any spec setting as `kafkalab run --set` takes it, e.g. cluster.heap_mb=256 or "
        "producer.props.buffer.memory=33554432.",
    )

    def as_set_items(self) -> list[str]:
        """The overrides as `--set key=value` items, typed fields first."""
        items = []
        for field, path in _OVERRIDE_PATHS.items():
            value = getattr(self, field)
            if value is not None:
                items.append(f"{path}={json.dumps(value)}")  # JSON is YAML: strings stay strings
        return items + list(self.settings)


def resolve_spec(
    spec: ExperimentSpec | dict[str, Any] | None = None,
    spec_file: str | Path | None = None,
    overrides: SpecOverrides | dict[str, Any] | None = None,
) -> ExperimentSpec:
    """The experiment a request asks for, validated (its platform too); SpecError naming the field otherwise."""
    spec = _parse_request(spec, spec_file, overrides)
    check_spec(spec)
    return spec


def _parse_request(
    spec: ExperimentSpec | dict[str, Any] | None, spec_file: str | Path | None,
    overrides: SpecOverrides | dict[str, Any] | None,
) -> ExperimentSpec:
    if spec_file is not None and not str(spec_file).strip():
        spec_file = None  # an emptied form field
    if (spec is None) == (spec_file is None):
        raise SpecError("give either spec (inline) or spec_file (a path such as experiments/quickstart.yaml), not "
                        + ("both" if spec is not None else "neither"))
    items = _overrides(overrides).as_set_items()
    if spec_file is not None:
        return load_spec(find_spec_file(spec_file), items)
    if isinstance(spec, ExperimentSpec):
        if not items:
            return spec  # already resolved (options.json merged, profile applied)
        data = spec.model_dump(mode="json", exclude_unset=True)
        data.get("cluster", {}).pop("options_json", None)  # merged into broker_config already
    elif isinstance(spec, dict):
        data = json.loads(json.dumps(spec))  # a deep copy the overrides may change
    else:
        raise SpecError(f"spec: must be an experiment spec mapping, got {type(spec).__name__}")
    for item in items:
        apply_override(data, item)
    return parse_spec(data, source="spec", base_dir=Path.cwd())


def find_spec_file(spec_file: str | Path) -> Path:
    """`spec_file` as given, else relative to the project (where experiments/ lives)."""
    path = Path(spec_file).expanduser()
    if path.is_absolute() or path.exists():
        return path
    in_project = PROJECT_DIR / path
    if in_project.exists():
        return in_project
    raise SpecError(f"spec_file: no such spec file {spec_file} (looked in {Path.cwd()} and {PROJECT_DIR})")


def request_name(spec: Any = None, spec_file: Any = None, overrides: Any = None) -> str:
    """A flow run name from the raw request, before validation (never raises)."""
    try:
        over = overrides.get("name") if isinstance(overrides, dict) else getattr(overrides, "name", None)
        if over:
            return str(over)
        if isinstance(spec, ExperimentSpec):
            return spec.name
        if isinstance(spec, dict) and spec.get("name"):
            return str(spec["name"])
        if spec_file:
            path = Path(str(spec_file))
            try:
                name = read_yaml(find_spec_file(path)).get("name")
            except SpecError:
                name = None
            return str(name or path.stem)
    except Exception:  # noqa: BLE001 - a name must never fail a run
        pass
    return "experiment"


def _overrides(overrides: SpecOverrides | dict[str, Any] | None) -> SpecOverrides:
    if overrides is None:
        return SpecOverrides()
    if isinstance(overrides, SpecOverrides):
        return overrides
    try:
        return SpecOverrides.model_validate(overrides)
    except ValidationError as exc:
        raise SpecError(f"overrides: {_format_error(exc)}") from None
