"""The guard rails of platform external, checked before anything connects.

The cluster is someone's real one: kafkalab never deploys, scales or breaks its brokers,
asks for a rate limit and a byte budget, and names its topics so that they cannot be
mistaken for the owner's (and so that it can tell which ones it may delete).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafkalab.spec import ExperimentSpec

_EXTERNAL_ONLY_SECURITY = ("ca_file", "client_certificate", "client_key", "client_key_password")


def prefixed_topic(prefix: str, name: str) -> str:
    """The name kafkalab gives a topic on an external cluster: the spec's name behind the prefix."""
    return name if name.startswith(prefix) else prefix + name


def planned_bytes(spec: ExperimentSpec) -> int:
    """What the producers of one run would write without a budget: every instance's records' values."""
    return spec.producer.instances * spec.producer.num_records * spec.producer.record_size


def written_bytes_at_most(spec: ExperimentSpec) -> int:
    """What one run may write: the planned values, capped by load.max_bytes."""
    planned = planned_bytes(spec)
    return planned if spec.load.max_bytes is None else min(planned, spec.load.max_bytes)


def check_spec(spec: ExperimentSpec) -> str | None:
    """One refusal line naming the field, or None; see the module doc."""
    cluster, security = spec.cluster, spec.cluster.security
    if spec.faults:
        return "faults: platform external never injects broker faults (kafkalab did not deploy these brokers)"
    if cluster.broker_config:
        return "cluster.broker_config: platform external does not change broker settings"
    if cluster.client_quotas.kafka_names():
        return "cluster.client_quotas: platform external does not change the cluster's quotas"
    if spec.load.platform != "local":
        return "load.platform: kubernetes Jobs against an external cluster are not offered yet; use local"
    if spec.producer.throughput == -1 and not spec.load.allow_unthrottled:
        return ("producer.throughput: platform external needs a rate limit (records/s per instance); "
                "set load.allow_unthrottled: true to run without one")
    if security.protocol.startswith("SASL_") and security.password is None:
        return ("cluster.security.password: platform external needs the SASL user's password as a reference "
                "(env:VARIABLE or prefect-secret:BLOCK_NAME)")
    if not security.protocol.endswith("SSL"):
        for name in _EXTERNAL_ONLY_SECURITY:
            if getattr(security, name) is not None:
                return f"cluster.security.{name}: needs a TLS protocol (SSL or SASL_SSL), not {security.protocol}"
    budget = spec.load.max_bytes
    if spec.producer.tool == "kafka-perf" and budget is not None and planned_bytes(spec) > budget:
        return (f"producer.num_records: {spec.producer.instances} x {spec.producer.num_records} records of "
                f"{spec.producer.record_size} B would write {planned_bytes(spec)} bytes, above load.max_bytes "
                f"({budget}); ProducerPerformance cannot stop at a budget (tool kafkalab can)")
    return None
