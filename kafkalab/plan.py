"""A sweep's plan: its cells, each a full experiment spec, in the order that reuses clusters.

Cells are the product of the axes (then any explicit cells), numbered in that order; the
number is the cell's identity, which `--resume` relies on. The run order groups cells by
cluster (everything broker-level but the broker count), so a cluster is deployed once per
group and scaled between broker counts in the order the axis lists them, and redeployed
only when a broker-level setting changes.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from kafkalab.core.errors import SpecError
from kafkalab.spec import ExperimentSpec, SweepSpec, apply_override, parse_spec, spec_to_dict

# Short names for the usual axes, for cell labels such as "brokers=6 producers=10 size=250".
_SHORT = {
    "cluster.brokers": "brokers",
    "producer.instances": "producers",
    "producer.record_size": "size",
    "topic.partitions": "partitions",
    "topic.replication_factor": "rf",
    "producer.num_records": "records",
}


@dataclass(frozen=True)
class Cell:
    index: int
    values: dict[str, Any]
    spec: ExperimentSpec

    @property
    def label(self) -> str:
        if not self.values:
            return f"cell {self.index}"
        return " ".join(f"{_SHORT.get(k, k)}={v}" for k, v in self.values.items())

    @property
    def cluster_key(self) -> str:
        """What makes two cells need different clusters (the broker count aside)."""
        c = self.spec.cluster
        return json.dumps(
            [self.spec.kafka_version, self.spec.platform, c.controllers, c.heap_mb, c.controller_heap_mb,
             sorted(c.broker_config.items()), sorted(c.client_quotas.kafka_names().items())]
            + ([c.kubernetes.model_dump(exclude=_PER_RUN_KUBERNETES)] if self.spec.platform == "kubernetes" else [])
            + ([c.bootstrap_servers, c.security.model_dump()] if self.spec.platform == "external" else [])
        )

    @property
    def records_per_run(self) -> int:
        return self.spec.producer.num_records * self.spec.producer.instances


# Settings of cluster.kubernetes that shape the perf-test pods, not the cluster: no redeploy for them.
_PER_RUN_KUBERNETES = {"producer_cpu", "producer_memory", "schedule_timeout_s", "index_retries"}


@dataclass(frozen=True)
class ClusterStep:
    """What happens to the cluster before a cell: deploy, scale, or nothing."""

    action: str  # "deploy" | "redeploy" | "scale up" | "scale down" | "keep"; external: "connect" | "reuse"
    from_brokers: int | None
    to_brokers: int

    def describe(self) -> str:
        if self.action == "connect":
            return "connect (external)"
        if self.action == "reuse":
            return "same cluster"
        if self.action in ("deploy", "redeploy"):
            return f"{self.action} {self.to_brokers} brokers"
        if self.action == "keep":
            return f"keep {self.to_brokers} brokers"
        return f"{self.action} {self.from_brokers} -> {self.to_brokers}"


@dataclass(frozen=True)
class SweepPlan:
    spec: SweepSpec
    cells: list[Cell]  # in run order

    @property
    def repetitions(self) -> int:
        return self.spec.repetitions

    @property
    def fingerprint(self) -> str:
        """Identifies the plan: a resume must find the same cells with the same specs."""
        body = json.dumps(
            [[c.index, c.values, spec_to_dict(c.spec)] for c in sorted(self.cells, key=lambda c: c.index)]
            + [self.spec.repetitions],
            sort_keys=True, default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def cluster_steps(self) -> list[ClusterStep]:
        """The cluster change before each cell (in run order), on a sweep run from the start."""
        steps: list[ClusterStep] = []
        key: str | None = None
        brokers: int | None = None
        for cell in self.cells:
            want = cell.spec.cluster.brokers
            if cell.spec.platform == "external":  # nothing deployed or scaled: connected to, or reused
                steps.append(ClusterStep("reuse" if cell.cluster_key == key else "connect", None, want))
            elif key is None:
                steps.append(ClusterStep("deploy", None, want))
            elif cell.cluster_key != key:
                steps.append(ClusterStep("redeploy", brokers, want))
            elif want > brokers:
                steps.append(ClusterStep("scale up", brokers, want))
            elif want < brokers:
                steps.append(ClusterStep("scale down", brokers, want))
            else:
                steps.append(ClusterStep("keep", brokers, want))
            key, brokers = cell.cluster_key, want
        return steps

    def estimated_records(self) -> int:
        return sum(c.records_per_run for c in self.cells) * self.repetitions


def plan_sweep(sweep: SweepSpec) -> SweepPlan:
    """Expand a sweep into validated cells; a bad cell is reported by its values."""
    combos: list[dict[str, Any]] = []
    if sweep.axes:
        keys = list(sweep.axes)
        combos = [dict(zip(keys, values)) for values in itertools.product(*(sweep.axes[k] for k in keys))]
    combos += [dict(c) for c in sweep.cells]
    cells: list[Cell] = []
    for index, values in enumerate(combos):
        data = copy.deepcopy(sweep.base)
        data.setdefault("name", sweep.name)
        data["repetitions"] = sweep.repetitions
        label = " ".join(f"{k}={v}" for k, v in values.items())
        try:
            for key, value in values.items():
                apply_override(data, f"{key}={json.dumps(value) if not isinstance(value, str) else value}")
            spec = parse_spec(data, source=f"cell {index} ({label})")
        except SpecError as exc:
            raise SpecError(f"{sweep.name}: {exc}") from None
        cells.append(Cell(index, values, spec))
    return SweepPlan(sweep, _run_order(cells, sweep))


def _run_order(cells: list[Cell], sweep: SweepSpec) -> list[Cell]:
    """Group by cluster (first seen first), then broker count in the order first seen, then cell number."""
    cluster_rank: dict[str, int] = {}
    broker_rank: dict[int, int] = {}
    axis = sweep.axes.get("cluster.brokers")
    for value in axis or []:
        broker_rank.setdefault(int(value), len(broker_rank))
    for cell in cells:
        cluster_rank.setdefault(cell.cluster_key, len(cluster_rank))
        broker_rank.setdefault(cell.spec.cluster.brokers, len(broker_rank))
    return sorted(cells, key=lambda c: (cluster_rank[c.cluster_key], broker_rank[c.spec.cluster.brokers], c.index))


def render_plan(plan: SweepPlan) -> str:
    """The dry-run view: cells in run order, the cluster change before each, estimated records."""
    rows = []
    for order, (cell, step) in enumerate(zip(plan.cells, plan.cluster_steps()), start=1):
        s = cell.spec
        rows.append([
            str(order), str(cell.index), cell.label, step.describe(), str(s.cluster.brokers), str(s.topic.partitions),
            str(s.producer.instances), str(s.producer.record_size), s.profile or "-",
            f"{cell.records_per_run:,}", str(plan.repetitions),
        ])
    header = ["#", "cell", "values", "cluster", "brokers", "partitions", "producers", "size", "profile",
              "records/run", "reps"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    study = plan.spec.capacity
    if study is not None:  # a study instead of each cell's fixed-rate runs: records/run and reps do not apply
        summary = (f"sweep {plan.spec.name}: {len(plan.cells)} cells, a capacity study at {study.slo} in each "
                   f"(its steps replace the fixed-rate runs: records/run and reps do not apply)")
    else:
        summary = (f"sweep {plan.spec.name}: {len(plan.cells)} cells x {plan.repetitions} repetitions = "
                   f"{len(plan.cells) * plan.repetitions} runs, {plan.estimated_records():,} records in all")
    lines = [summary, fmt(header), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)
