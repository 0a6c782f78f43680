"""Topic creation and the smoke test (the guide's Steps 2 and 5)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from kafkalab.experiment import steps
from kafkalab.platforms import Cluster
from kafkalab.spec import ExperimentSpec


@task(name="create topic", retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def create_topic(spec: ExperimentSpec, cluster: Cluster, name: str) -> str:
    topic = experiment.create_topic(spec, cluster, name)
    get_run_logger().info(
        "created topic %s (%d partitions, replication %d)", topic, spec.topic.partitions, spec.topic.replication_factor
    )
    return topic


@task(name="smoke test", retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def smoke_test(spec: ExperimentSpec, cluster: Cluster) -> None:
    message = experiment.smoke_test(spec, cluster)
    get_run_logger().info("produced and read back: %s", message)
