"""The perf tests (the guide's Step 6). No retries here: a retried load test is a new run,
decided by the flow from the spec's `retries.perf_tests`."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from kafkalab.experiment import steps
from kafkalab.platforms.faults import FaultInjector
from kafkalab.results.integrity import Integrity
from kafkalab.model import ConsumerOutcome, ProducerOutcome
from kafkalab.platforms import Cluster
from kafkalab.spec import ExperimentSpec


def _tool_lines():
    logger = get_run_logger()
    return lambda source, line: logger.info("%s | %s", source, line)


@task(name="producers", cache_policy=NO_CACHE)
def producer_fanout(
    spec: ExperimentSpec, cluster: Cluster, topic: str, faults: FaultInjector | None = None
) -> list[ProducerOutcome]:
    outcomes = experiment.producer_fanout(spec, cluster, topic, on_line=_tool_lines(), faults=faults)
    logger = get_run_logger()
    for o in outcomes:
        if o.status != "ok":
            logger.error("producer-%d failed: %s", o.instance, o.error)
    return outcomes


@task(name="consumer test", cache_policy=NO_CACHE)
def consumer_test(spec: ExperimentSpec, cluster: Cluster, topic: str, records_held: int) -> ConsumerOutcome:
    outcome = experiment.consumer_test(spec, cluster, topic, records_held, on_line=_tool_lines())
    if outcome.status != "ok":
        get_run_logger().error("consumer test failed: %s", outcome.error)
    return outcome


@task(name="records in topic", retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def records_in_topic(cluster: Cluster, topic: str) -> int:
    count = experiment.records_in_topic(cluster, topic)
    get_run_logger().info("topic %s holds %d records", topic, count)
    return count


@task(name="integrity", retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def integrity(
    spec: ExperimentSpec, cluster: Cluster, topic: str, producers: list[ProducerOutcome], in_topic: int | None
) -> Integrity:
    result = experiment.integrity(spec, cluster, topic, producers, in_topic)
    held = f"{result.consumed} read back" if result.check == "consume" else f"{result.in_topic} in the topic"
    message = f"integrity: {result.acknowledged} acknowledged, {held}, lost {result.lost}"
    logger = get_run_logger()
    (logger.warning if result.lost else logger.info)(message)
    return result
