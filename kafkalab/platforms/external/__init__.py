"""Platform external: a Kafka cluster kafkalab did not deploy (on-premises, Strimzi, Confluent,
MSK, or one `kafkalab cluster up` left running), load-tested from local processes.

Nothing is deployed, scaled, broken or torn down; the guard rails of rules.py are checked
before anything connects, the ones that need the cluster (replication factor against its
brokers, topics that exist already) before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kafkalab.core import secrets
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.security import PLAINTEXT, ClientSecurity, write_private
from kafkalab.platforms.external.cluster import ExternalCluster, probe_brokers
from kafkalab.platforms.external.rules import (
    check_spec,
    planned_bytes,
    prefixed_topic,
    written_bytes_at_most,
)

if TYPE_CHECKING:
    from kafkalab.spec import ExperimentSpec

__all__ = ["CAPABILITIES", "NO_SCALING", "ExternalCluster", "check_broker_settings", "check_spec", "client_security",
           "deploy", "planned_bytes", "prefixed_topic", "probe_brokers", "written_bytes_at_most"]

CAPABILITIES = ExternalCluster.capabilities
NO_SCALING = "does not scale brokers: kafkalab did not deploy them (drop the cluster.brokers axis)"


def deploy(spec: ExperimentSpec, dist: KafkaDistribution, run_dir: Path, *,
           on_progress: Callable[[str], None]) -> ExternalCluster:
    """Step 1 on an external cluster: resolve the credentials and connect (nothing is started)."""
    cluster = ExternalCluster(
        dist, run_dir, spec.cluster.bootstrap_servers or "", client_security(spec, run_dir),
        topic_prefix=spec.topic.prefix, keep_topics=spec.topic.keep,
        connect_timeout_s=spec.cluster.ready_timeout_s,
    )
    cluster.deploy(spec.cluster.brokers, on_progress=on_progress)
    cluster.check_fits(spec.topic)
    return cluster


def check_broker_settings(spec: ExperimentSpec, dist: KafkaDistribution) -> BrokerSettings:
    """kafkalab sets no broker settings on a cluster it did not deploy (check_spec refuses any)."""
    return BrokerSettings()


def client_security(spec: ExperimentSpec, run_dir: Path) -> ClientSecurity:
    """How kafkalab's clients authenticate to the cluster; secret references are resolved here."""
    sec = spec.cluster.security
    if sec.protocol == "PLAINTEXT":
        return PLAINTEXT
    sasl = sec.protocol.startswith("SASL_")
    password = secrets.resolve(sec.password, "cluster.security.password") if sasl and sec.password else None
    key_password = (secrets.resolve(sec.client_key_password, "cluster.security.client_key_password")
                    if sec.client_key_password else None)
    keystore = None
    if sec.client_certificate and sec.client_key:
        # The Java clients read a PEM keystore as one file: key, then certificate chain.
        (run_dir / "tls").mkdir(parents=True, exist_ok=True)
        keystore = write_private(run_dir / "tls" / "client-keystore.pem",
                                 Path(sec.client_key).read_bytes() + Path(sec.client_certificate).read_bytes())
    return ClientSecurity(
        sec.protocol, sec.sasl_mechanism if sasl else None, sec.username if sasl else None, password,
        ca_file=Path(sec.ca_file) if sec.ca_file else None,
        certificate_file=Path(sec.client_certificate) if sec.client_certificate else None,
        key_file=Path(sec.client_key) if sec.client_key else None, keystore_file=keystore, key_password=key_password,
    )
