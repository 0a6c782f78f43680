"""Where a Kafka cluster runs: local JVMs on 127.0.0.1 (local/), pods (kubernetes/), or a
cluster kafkalab did not deploy and only connects to (external/).

Every platform implements one interface, `Cluster` (base.py); the experiment steps, the
Prefect tasks and the fault injector use nothing else. Adding a platform is one subpackage
exposing `CAPABILITIES`, `deploy(spec, dist, run_dir, *, on_progress) -> Cluster` and
`check_broker_settings(spec, dist)`, plus one line in PLATFORMS (kafkalab/spec/platforms.py,
where the spec's `platform` field reads it too). Subpackages are imported on
first use (the Kubernetes one brings the kubernetes client along).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from kafkalab.core.errors import SpecError
from kafkalab.platforms.base import (
    FAULTS,
    GENERATOR,
    REASSIGN,
    SCALE,
    SECURITY,
    Cluster,
    KafkaLevel,
    MetricsTarget,
)
from kafkalab.spec.platforms import PLATFORMS

if TYPE_CHECKING:
    from kafkalab.kafka.broker_config import BrokerSettings
    from kafkalab.kafka.distribution import KafkaDistribution
    from kafkalab.plan import SweepPlan
    from kafkalab.spec import ExperimentSpec

__all__ = ["FAULTS", "GENERATOR", "PLATFORMS", "REASSIGN", "SCALE", "SECURITY", "Cluster", "KafkaLevel", "MetricsTarget",
           "capabilities", "check_broker_settings", "check_plan", "check_spec", "deploy", "platform_module"]


def platform_module(name: str) -> ModuleType:
    """The subpackage of platform `name`, imported now."""
    try:
        return importlib.import_module(PLATFORMS[name])
    except KeyError:
        raise SpecError(f"platform: unknown platform {name!r} (known: {', '.join(PLATFORMS)})") from None


def capabilities(name: str) -> frozenset[str]:
    return platform_module(name).CAPABILITIES


def deploy(spec: ExperimentSpec, dist: KafkaDistribution, run_dir: Path, *,
           on_progress: Callable[[str], None]) -> Cluster:
    """Step 1 on the spec's platform: the cluster, deployed and starting (not yet waited for)."""
    return platform_module(spec.platform).deploy(spec, dist, run_dir, on_progress=on_progress)


def check_broker_settings(spec: ExperimentSpec, dist: KafkaDistribution) -> BrokerSettings:
    """The spec's broker settings, checked by Kafka's own config check as the platform would start them."""
    return platform_module(spec.platform).check_broker_settings(spec, dist)


def check_spec(spec: ExperimentSpec, *, source: str = "spec") -> None:
    """Refuse what the spec asks that its platform cannot do: one SpecError line naming the field.

    A platform module may add its own rules as `check_spec(spec) -> str | None` (a refusal
    line naming the field, or None); they come first, in that platform's words.
    """
    module = platform_module(spec.platform)
    own_rules = getattr(module, "check_spec", None)
    refusal = (own_rules(spec) if own_rules is not None else None) or _missing_capability(spec, module.CAPABILITIES)
    if refusal:
        raise SpecError(f"{source}: {refusal}")


def _missing_capability(spec: ExperimentSpec, offered: frozenset[str]) -> str | None:
    if spec.faults and FAULTS not in offered:
        return f"faults: platform {spec.platform} cannot inject broker faults yet"
    if spec.cluster.security.protocol != "PLAINTEXT" and SECURITY not in offered:
        return (f"cluster.security.protocol: platform {spec.platform} offers only PLAINTEXT so far, "
                f"not {spec.cluster.security.protocol}")
    if GENERATOR not in offered:
        for field, tool in (("producer.tool", spec.producer.tool),
                            ("consumer.tool", spec.consumer.tool if spec.consumer.enabled else None)):
            if tool == "kafkalab":
                return f"{field}: platform {spec.platform} runs only Kafka's perf tools so far: set it to kafka-perf"
    return None


def check_plan(plan: SweepPlan) -> None:
    """check_spec for every cell of a sweep, and what scaling between its cells needs."""
    by_key: dict[str, set[int]] = {}
    for cell in plan.cells:
        source = f"{plan.spec.name}: cell {cell.index} ({' '.join(f'{k}={v}' for k, v in cell.values.items())})"
        check_spec(cell.spec, source=source)
        by_key.setdefault(cell.cluster_key, set()).add(cell.spec.cluster.brokers)
        offered = capabilities(cell.spec.platform)
        if len(by_key[cell.cluster_key]) > 1 and SCALE not in offered:
            why = getattr(platform_module(cell.spec.platform), "NO_SCALING", "cannot scale a live cluster yet")
            raise SpecError(f"{source}: cluster.brokers: platform {cell.spec.platform} {why}")
        if plan.spec.scaling.reassign_partitions and REASSIGN not in offered:
            raise SpecError(f"{plan.spec.name}: scaling.reassign_partitions: platform {cell.spec.platform} "
                            "cannot reassign partitions yet")
