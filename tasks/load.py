"""The perf tests (the guide's Step 6). No retries here: a retried load test is a new run,
decided by the flow from the spec's `retries.perf_tests`."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger

from kafkalab.experiment import steps
from kafkalab.model import ConsumerOutcome, ProducerOutcome
from kafkalab.platforms import Cluster
from kafkalab.platforms.faults import FaultInjector
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
) -> list[ProducerOutcome]:
    """`label` names the run in the task run's name (e.g. "rep 2/5")."""
    outcomes = steps.producer_fanout(spec, cluster, topic, on_line=_tool_lines(), faults=faults)
    logger = get_run_logger()
    for o in outcomes:
        if o.status != "ok":
            logger.error("producer-%d failed: %s", o.instance, o.error)
    return outcomes


@kafkalab_task(name="consumer test", task_run_name="consumer test {label}")
def consumer_test(spec: ExperimentSpec, cluster: Cluster, topic: str, records_held: int,
                  label: str = "") -> ConsumerOutcome:
    outcome = steps.consumer_test(spec, cluster, topic, records_held, on_line=_tool_lines())
    if outcome.status != "ok":
        get_run_logger().error("consumer test failed: %s", outcome.error)
    return outcome


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
