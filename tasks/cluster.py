"""Framework install, readiness, endpoints and teardown of a Kafka cluster (the guide's Steps 1 and 3)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from kafkalab.kafka import distribution

from kafkalab.experiment import steps

from kafkalab.core import secrets
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.platforms import Cluster
from kafkalab.spec import ExperimentSpec


def _prefect_secret(block_name: str) -> str:
    """`prefect-secret:NAME` in a spec: the value of the Prefect Secret block NAME."""
    from prefect.blocks.system import Secret

    return str(Secret.load(block_name).get())


secrets.register_resolver("prefect-secret", _prefect_secret)


@task(name="kafka jars", retries=2, retry_delay_seconds=[5, 20], cache_policy=NO_CACHE)
def fetch_kafka(version: str) -> KafkaDistribution:
    logger = get_run_logger()
    dist = distribution.resolve(version, on_progress=logger.info)
    logger.info("Apache Kafka %s from %s", dist.version, dist.libs)
    return dist


@task(name="install framework", cache_policy=NO_CACHE)
def install_framework(spec: ExperimentSpec, dist: KafkaDistribution, run_dir: Path) -> Cluster:
    logger = get_run_logger()
    cluster = experiment.deploy_cluster(spec, dist, run_dir, on_progress=logger.info)
    logger.info("run directory %s", run_dir)
    return cluster


@task(name="broker ready", retries=2, retry_delay_seconds=[2, 5], cache_policy=NO_CACHE)
def wait_broker_ready(cluster: Cluster, broker_id: int, timeout_s: float) -> str:
    """The guide's `plan status deploy`: this broker is registered in the cluster metadata."""
    (broker,) = cluster.wait_ready([broker_id], timeout_s=timeout_s)
    get_run_logger().info("kafka-%d:[broker] (COMPLETE) at %s", broker.node_id, broker.address)
    return broker.address


@task(name="endpoints", cache_policy=NO_CACHE)
def endpoints(cluster: Cluster) -> str:
    servers = experiment.open_endpoints(cluster)
    protocol = cluster.security.protocol if cluster.security else "PLAINTEXT"
    get_run_logger().info("bootstrap servers: %s (%s)", servers, protocol)
    return servers


@task(name="teardown", cache_policy=NO_CACHE)
def teardown(cluster: Cluster) -> None:
    cluster.stop()
    cluster.remove_data()
    get_run_logger().info("cluster stopped; configs and logs kept in %s", cluster.run_dir)


@task(name="scale brokers", retries=1, retry_delay_seconds=[5], cache_policy=NO_CACHE)
def scale_brokers(cluster: Cluster, to_brokers: int) -> list[int]:
    """Add or remove brokers on the live cluster; returns the ids added (empty when removing)."""
    logger = get_run_logger()
    if to_brokers > len(cluster.brokers):
        added = experiment.scale_up(cluster, to_brokers, on_progress=logger.info)
        logger.info("added brokers %s", added)
        return added
    experiment.scale_down(cluster, to_brokers, on_progress=logger.info)
    return []


@task(name="reassign partitions", cache_policy=NO_CACHE)
def reassign_partitions(cluster: Cluster, timeout_s: float) -> int:
    moved = experiment.reassign_partitions(cluster, timeout_s)
    get_run_logger().info(
        "reassigned %d partitions of %d topics onto brokers %s",
        sum(len(a) for a in moved.values()), len(moved), cluster.broker_ids,
    )
    return sum(len(a) for a in moved.values())
