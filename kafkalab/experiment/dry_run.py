"""`--dry-run`: what a run or a sweep would create and write, and where, without doing any of it.

Nothing here connects, starts or writes: it reads the validated spec only. The topic names
and byte bounds are the ones the flows use (the external platform's prefix, load.max_bytes).
"""

from __future__ import annotations

from kafkalab.plan import SweepPlan
from kafkalab.platforms.external.rules import (
    planned_bytes,
    prefixed_topic,
    written_bytes_at_most,
)
from kafkalab.spec import ExperimentSpec


def run_lines(spec: ExperimentSpec) -> list[str]:
    """The experiment's plan: where, which topics, how many bytes at most, what is left afterwards."""
    names = [spec.topic_name(repetition) for repetition in range(1, spec.repetitions + 1)]
    return [
        f"dry run of experiment {spec.name}: nothing is started, created or written",
        f"where: {where(spec)}",
        *_topic_lines(spec, names),
        _bytes_line(spec, runs=spec.repetitions),
        f"afterwards: {afterwards(spec)}",
    ]


def sweep_lines(plan: SweepPlan) -> list[str]:
    """What the sweep's cells write (the plan itself is kafkalab.plan.render_plan)."""
    lines = [f"dry run of sweep {plan.spec.name}: nothing is started, created or written"]
    if plan.spec.capacity is not None:
        return [*lines, *_study_lines(plan)]
    for cell in plan.cells:
        spec = cell.spec
        topic = _name(spec, f"{spec.topic.name}-s<sweep id>-c{cell.index}-r<1..{plan.repetitions}>")
        lines.append(f"cell {cell.index} ({cell.label}) on {where(spec)}: topic {topic} "
                     f"({spec.topic.partitions} partitions, RF {spec.topic.replication_factor}), "
                     f"at most {_size(written_bytes_at_most(spec))} per run")
    total = sum(written_bytes_at_most(c.spec) for c in plan.cells) * plan.repetitions
    lines.append(f"writes at most {_size(total)} in all ({len(plan.cells)} cells x {plan.repetitions} repetitions)")
    lines.append(f"afterwards: {afterwards(plan.cells[0].spec)}" if plan.cells else "afterwards: nothing")
    return lines


def _study_lines(plan: SweepPlan) -> list[str]:
    """A capacity sweep: each cell's study, its steps and what one step's run writes at most."""
    study = plan.spec.capacity
    assert study is not None
    if study.rates:
        steps = f"steps at {', '.join(f'{r:,g}' for r in study.rates)} records/s"
        top = max(study.rates)
    else:
        steps = "an unthrottled probe, then steps at 10% .. 110% of its rate"
        top = None
    lines = []
    for cell in plan.cells:
        spec = cell.spec
        topic = _name(spec, f"{spec.topic.name}-cap<study id>-s<step>-r<1..{study.repetitions}>")
        step_bytes = (f", at most {_size(int(top * study.step_s * spec.producer.record_size))} a run of the top step"
                      if top is not None else "")
        lines.append(f"cell {cell.index} ({cell.label}) on {where(spec)}: a capacity study at {study.slo} "
                     f"({study.kind}): {steps}, {study.repetitions} run{'s' if study.repetitions != 1 else ''} of "
                     f"{study.step_s:g} s a step until one "
                     f"fails, then up to {study.max_bisections} bisections; topics {topic}{step_bytes}")
    lines.append(f"afterwards: {afterwards(plan.cells[0].spec)}" if plan.cells else "afterwards: nothing")
    return lines


def where(spec: ExperimentSpec) -> str:
    if spec.platform == "external":
        sec = spec.cluster.security
        user = f" {sec.sasl_mechanism} user {sec.username}" if sec.protocol.startswith("SASL_") else ""
        return f"the external cluster at {spec.cluster.bootstrap_servers} ({sec.protocol}{user}); nothing deployed"
    if spec.platform == "kubernetes":
        context = spec.cluster.kubernetes.context or "the current context"
        return f"a new Kafka {spec.kafka_version} cluster of {spec.cluster.brokers} brokers in Kubernetes ({context})"
    return f"a new local Kafka {spec.kafka_version} cluster of {spec.cluster.brokers} brokers on 127.0.0.1"


def afterwards(spec: ExperimentSpec) -> str:
    if spec.platform != "external":
        return "the cluster kafkalab deployed is stopped and its data removed"
    if spec.topic.keep:
        return "the run topics stay (topic.keep: true); the smoke-test topic is deleted; no other topic is touched"
    return "every topic kafkalab created is deleted; no other topic is touched"


def _topic_lines(spec: ExperimentSpec, names: list[str]) -> list[str]:
    t = spec.topic
    config = ", ".join(f"{k}={v}" for k, v in t.config.items())
    lines = [f"creates topic {_name(spec, name)}: {t.partitions} partitions, RF {t.replication_factor}"
             + (f", {config}" if config else "") for name in names]
    if spec.retries.perf_tests:
        lines.append(f"a retried run writes a fresh topic (<name>-attempt<N>), up to {spec.retries.perf_tests} per run")
    if spec.smoke_test:
        smoke = _name(spec, "smoke-<random>") if spec.platform == "external" else "kafkalab-smoke"
        lines.append(f"creates topic {smoke}: 1 partition, for one smoke-test message")
    if spec.consumer.enabled:
        lines.append("consumers read each run topic in consumer groups named kafkalab-<topic>-..."
                     + (" (deleted with the topics)" if spec.platform == "external" else ""))
    return lines


def _bytes_line(spec: ExperimentSpec, *, runs: int) -> str:
    p = spec.producer
    per_run, planned = written_bytes_at_most(spec), planned_bytes(spec)
    budget = f", capped by load.max_bytes {_size(spec.load.max_bytes)}" if spec.load.max_bytes is not None else ""
    rate = "unthrottled" if p.throughput == -1 else f"{p.throughput:g} records/s per instance"
    attempts = spec.retries.perf_tests + 1
    total = _size(per_run * runs * attempts)
    return (f"writes at most {_size(per_run)} of record values per run ({p.instances} producers x {p.num_records} "
            f"records x {p.record_size} B = {_size(planned)}{budget}; {rate}), at most {total} "
            f"in all ({runs} runs" + (f", {attempts} attempts each" if attempts > 1 else "") + ")")


def _name(spec: ExperimentSpec, name: str) -> str:
    return prefixed_topic(spec.topic.prefix, name) if spec.platform == "external" else name


def _size(count: int | None) -> str:
    if count is None:
        return "-"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit} ({count} bytes)"
    return f"{count} bytes"
