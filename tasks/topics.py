"""Topic creation and the smoke test (the guide's Steps 2 and 5)."""

from __future__ import annotations

from prefect import get_run_logger

from kafkalab.platforms import Cluster
from kafkalab.spec import ExperimentSpec
from tasks import KAFKA_RETRIES, kafkalab_task


@kafkalab_task(name="create topic", **KAFKA_RETRIES,
               task_run_name="topic {name} ({spec.topic.partitions} partitions, RF {spec.topic.replication_factor})")
def create_topic(spec: ExperimentSpec, cluster: Cluster, name: str) -> str:
    topic = cluster.create_topic(spec.topic, name)
    get_run_logger().info(
        "created topic %s (%d partitions, replication %d)", topic, spec.topic.partitions, spec.topic.replication_factor
    )
    return topic


@kafkalab_task(name="smoke test", **KAFKA_RETRIES)
def smoke_test(spec: ExperimentSpec, cluster: Cluster) -> None:
    message = cluster.smoke_test()
    get_run_logger().info("produced and read back: %s", message)
