"""Client quotas of the cluster's default client-id, set with Kafka's own ConfigCommand.

librdkafka (confluent-kafka) has no AlterClientQuotas, so kafkalab runs what
`kafka-configs.sh --alter --entity-type clients --entity-default --add-config ...` runs: the
quota is stored in the cluster metadata and every broker throttles each client beyond it.
The command moved from core (kafka.admin, Kafka 4.0) to tools (org.apache.kafka.tools, 4.1).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from kafkalab.core.errors import ClusterError
from kafkalab.core.processes import ManagedProcess
from kafkalab.kafka.admin import Target
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.perftools import first_error_line
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import endpoint_of

CONFIG_COMMAND_MAINS = ("org.apache.kafka.tools.ConfigCommand", "kafka.admin.ConfigCommand")


def config_command_main(dist: KafkaDistribution) -> str:
    """The ConfigCommand class this distribution's jars hold."""
    wanted = {main.replace(".", "/") + ".class": main for main in CONFIG_COMMAND_MAINS}
    for jar in sorted(dist.libs.glob("kafka*.jar")):
        with zipfile.ZipFile(jar) as archive:
            for entry in wanted.keys() & set(archive.namelist()):
                return wanted[entry]
    raise ClusterError(f"Kafka {dist.version}: no ConfigCommand in {dist.libs}")


def set_default_client_quotas(dist: KafkaDistribution, bootstrap: Target, quotas: dict[str, float],
                              work_dir: Path) -> None:
    """Every client-id without a quota of its own gets `quotas` (Kafka's names, e.g. producer_byte_rate)."""
    if not quotas:
        return
    endpoint = endpoint_of(bootstrap)
    work_dir.mkdir(parents=True, exist_ok=True)
    client_config = write_properties(work_dir / "quotas-client.properties", endpoint.security.java_properties())
    values = ",".join(f"{name}={value:g}" for name, value in sorted(quotas.items()))
    args = ["--bootstrap-server", endpoint.servers, "--command-config", str(client_config), "--alter",
            "--entity-type", "clients", "--entity-default", "--add-config", values]
    proc = ManagedProcess("client-quotas", dist.java_command(config_command_main(dist), args, heap_mb=128),
                          work_dir / "client-quotas.log")
    code = proc.wait(timeout=120)
    if code != 0:
        raise ClusterError(f"client quotas {values} were refused: {first_error_line(proc.output()) or f'exit {code}'}")
