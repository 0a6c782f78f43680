"""Framework install, readiness, endpoints and teardown of a Kafka cluster (the guide's Steps 1 and 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger

from kafkalab import platforms
from kafkalab.core import secrets
from kafkalab.experiment import steps
from kafkalab.kafka import distribution
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.security import endpoint_of
from kafkalab.platforms import Cluster
from kafkalab.spec import ExperimentSpec
from kafkalab.spec.models import ClientQuotasSpec
from tasks import DOWNLOAD_RETRIES, KAFKA_RETRIES, kafkalab_task


def _prefect_secret(block_name: str) -> str:
    """`prefect-secret:NAME` in a spec: the value of the Prefect Secret block NAME."""
    from prefect.blocks.system import Secret

    return str(Secret.load(block_name).get())


secrets.register_resolver("prefect-secret", _prefect_secret)


@kafkalab_task(name="kafka jars", **DOWNLOAD_RETRIES)
def fetch_kafka(version: str) -> KafkaDistribution:
    logger = get_run_logger()
    dist = distribution.resolve(version, on_progress=logger.info)
    logger.info("Apache Kafka %s from %s", dist.version, dist.libs)
    return dist


def _install_run_name(parameters: dict[str, Any]) -> str:
    spec = parameters["spec"]
    if spec.platform == "external":  # nothing is installed: the deploy step connects
        return f"connect to {spec.cluster.bootstrap_servers}"
    return f"install framework: {spec.cluster.brokers} brokers"


@kafkalab_task(name="install framework", task_run_name=_install_run_name)
def install_framework(spec: ExperimentSpec, dist: KafkaDistribution, run_dir: Path) -> Cluster:
    logger = get_run_logger()
    cluster = platforms.deploy(spec, dist, run_dir, on_progress=logger.info)
    logger.info("run directory %s", run_dir)
    return cluster


@kafkalab_task(name="broker ready", task_run_name="broker {broker_id} ready", **KAFKA_RETRIES)
def wait_broker_ready(cluster: Cluster, broker_id: int, timeout_s: float) -> str:
    """The guide's `plan status deploy`: this broker is registered in the cluster metadata."""
    (broker,) = cluster.wait_ready([broker_id], timeout_s=timeout_s)
    get_run_logger().info("kafka-%d:[broker] (COMPLETE) at %s", broker.node_id, broker.address)
    return broker.address


@kafkalab_task(name="endpoints")
def endpoints(cluster: Cluster, client_quotas: ClientQuotasSpec | None = None) -> str:
    quotas = client_quotas.kafka_names() if client_quotas is not None else {}
    servers = cluster.open_endpoints(quotas)  # a SCRAM user and the quotas, now that the brokers are up
    protocol = endpoint_of(cluster.endpoint).security.protocol
    get_run_logger().info("bootstrap servers: %s (%s)", servers, protocol)
    if quotas:
        get_run_logger().info("client quotas of every client: %s",
                              ", ".join(f"{name} {value:g}" for name, value in sorted(quotas.items())))
    return servers


@kafkalab_task(name="teardown")
def teardown(cluster: Cluster) -> None:
    # Its data is removed next: no broker needs a controlled shutdown to keep it, and the
    # 1-2 s that takes on a small machine are the run's overhead.
    cluster.stop(grace_s=0)
    cluster.remove_data()
    get_run_logger().info("cluster stopped; configs and logs kept in %s", cluster.run_dir)


def _scale_run_name(parameters: dict[str, Any]) -> str:
    # Named before the task body runs: the cluster still has its old broker count.
    return f"scale brokers {len(parameters['cluster'].brokers)} -> {parameters['to_brokers']}"


@kafkalab_task(name="scale brokers", task_run_name=_scale_run_name, retries=1, retry_delay_seconds=[5])
def scale_brokers(cluster: Cluster, to_brokers: int) -> list[int]:
    """Add or remove brokers on the live cluster; returns the ids added (empty when removing)."""
    logger = get_run_logger()
    if to_brokers > len(cluster.brokers):
        added = steps.scale_up(cluster, to_brokers, on_progress=logger.info)
        logger.info("added brokers %s", added)
        return added
    cluster.scale_down(to_brokers, on_progress=logger.info)
    return []


def _reassign_run_name(parameters: dict[str, Any]) -> str:
    return f"reassign partitions onto {len(parameters['cluster'].brokers)} brokers"


@kafkalab_task(name="reassign partitions", task_run_name=_reassign_run_name)
def reassign_partitions(cluster: Cluster, timeout_s: float) -> int:
    moved = cluster.reassign(timeout_s)
    partitions = sum(len(assignment) for assignment in moved.values())
    get_run_logger().info("reassigned %d partitions of %d topics onto brokers %s", partitions, len(moved),
                          cluster.broker_ids)
    return partitions
