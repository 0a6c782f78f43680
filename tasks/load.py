"""The perf tests (the guide's Step 6). No retries here: a retried load test is a new run,
decided by the flow from the spec's `retries.perf_tests`."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger

from kafkalab.experiment import steps
from kafkalab.model import ConsumerOutcome, ProducerOutcome, RunFigures, RunRecord
from kafkalab.platforms import Cluster
from kafkalab.platforms.faults import FaultInjector
from kafkalab.results import figures
from kafkalab.results.integrity import Integrity
from kafkalab.spec import ExperimentSpec
from tasks import KAFKA_RETRIES, kafkalab_task


def _tool_lines():
    logger = get_run_logger()
    return lambda source, line: logger.info("%s | %s", source, line)


def _producers_run_name(parameters: dict[str, Any]) -> str:
    spec = parameters["spec"]
    faults = f", {len(spec.faults)} broker faults" if spec.faults else ""
    return f"producers x{spec.producer.instances} {parameters.get('label', '')}".rstrip() + faults


@kafkalab_task(name="producers", task_run_name=_producers_run_name)
def producer_fanout(
    spec: ExperimentSpec, cluster: Cluster, topic: str, faults: FaultInjector | None = None, label: str = ""
) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
    """The producers, and the consumers when they read alongside. `label` names the run in
    the task run's name (e.g. "rep 2/5")."""
    producers, consumers = steps.producer_fanout(spec, cluster, topic, on_line=_tool_lines(), faults=faults)
    _log_failures(producers, consumers)
    return producers, consumers


@kafkalab_task(name="consumer test", task_run_name="consumer test {label}")
def consumer_test(spec: ExperimentSpec, cluster: Cluster, topic: str, records_held: int,
                  label: str = "") -> list[ConsumerOutcome]:
    outcomes = steps.consumer_test(spec, cluster, topic, records_held, on_line=_tool_lines())
    _log_failures([], outcomes)
    return outcomes


def _log_failures(producers: list[ProducerOutcome], consumers: list[ConsumerOutcome]) -> None:
    logger = get_run_logger()
    for p in producers:
        if p.status != "ok":
            logger.error("producer-%d failed: %s", p.instance, p.error)
    for c in consumers:
        if c.status != "ok":
            logger.error("consumer-%d failed: %s", c.instance, c.error)


@kafkalab_task(name="figures")
def run_figures(spec: ExperimentSpec, record: RunRecord) -> RunFigures:
    """The run's throughput over its common window and its merged latency; saturated or not, and why."""
    result = figures.run_figures(record.producers, record.consumers,
                                 target_per_instance=spec.producer.target_records_per_sec, warmup_s=spec.load.warmup_s)
    logger = get_run_logger()
    if result.window_s is not None:
        latency = ", ".join(f"{s.kind} p99 {s.p99_ms:,.2f} ms" for s in result.latency)
        logger.info("window %.1f s after a %.1f s warm-up: %s records/s; %s", result.window_s, result.warmup_s or 0,
                    f"{result.achieved_records_per_sec:,.0f}", latency or "no latency recorded")
    if result.saturated:
        logger.warning("saturated: %s", result.saturation_reason)
    return result


@kafkalab_task(name="records in topic", **KAFKA_RETRIES)
def records_in_topic(cluster: Cluster, topic: str) -> int:
    count = cluster.records_in_topic(topic)
    get_run_logger().info("topic %s holds %d records", topic, count)
    return count


@kafkalab_task(name="integrity", **KAFKA_RETRIES)
def integrity(
    spec: ExperimentSpec, cluster: Cluster, topic: str, producers: list[ProducerOutcome], in_topic: int | None
) -> Integrity:
    result = steps.integrity(spec, cluster, topic, producers, in_topic)
    held = f"{result.consumed} read back" if result.check == "consume" else f"{result.in_topic} in the topic"
    message = f"integrity: {result.acknowledged} acknowledged, {held}, lost {result.lost}"
    logger = get_run_logger()
    (logger.warning if result.lost else logger.info)(message)
    return result
