"""Kept clusters: local KRaft clusters started outside any flow and left running
(`kafkalab cluster up|down|status`), for manual work and as a target of platform external.

Each lives in <data dir>/clusters/<name>/, apart from the run directories, and its
cluster.json is marked `kept`: the reaping of clusters whose owner died
(reap_stale_clusters) leaves it alone, since it outlives its command on purpose. kept.json
says how to reach it; credentials are only in files readable by the user (0600): the
client properties, the password, the CA certificate.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kafkalab.core.errors import ClusterError, SpecError
from kafkalab.core.net import port_is_free
from kafkalab.core.paths import data_dir, read_json
from kafkalab.kafka import distribution
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import ClusterSecurity, write_private
from kafkalab.platforms.local.cluster import LocalCluster

# --security choices: (security.protocol, SASL mechanism)
SECURITY_CHOICES = {
    "plaintext": ("PLAINTEXT", "PLAIN"),
    "ssl": ("SSL", "PLAIN"),
    "sasl-plaintext-plain": ("SASL_PLAINTEXT", "PLAIN"),
    "sasl-plaintext-scram": ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
    "sasl-ssl-plain": ("SASL_SSL", "PLAIN"),
    "sasl-ssl-scram": ("SASL_SSL", "SCRAM-SHA-512"),
}
USERNAME = "kafkalab"
STATE_FILE = "kept.json"


def kept_clusters_dir() -> Path:
    return data_dir() / "clusters"


@dataclass(frozen=True)
class KeptCluster:
    name: str
    directory: str
    created_at: str  # ISO 8601, UTC
    kafka_version: str
    brokers: int
    bootstrap_servers: str
    protocol: str
    mechanism: str | None
    username: str | None
    client_properties: str  # 0600: bootstrap.servers and the client's credentials
    ca_file: str | None
    password_file: str | None  # 0600
    pids: dict[str, int]
    ports: list[int]

    @property
    def age_s(self) -> float:
        return (datetime.now(UTC) - datetime.fromisoformat(self.created_at)).total_seconds()

    def running(self) -> list[int]:
        """The pids of its nodes still alive (and still this cluster's: a pid may be reused)."""
        return [pid for pid in self.pids.values() if _is_node_of(pid, Path(self.directory))]


def up(name: str, *, brokers: int = 1, security: str = "plaintext", kafka_version: str | None = None,
       heap_mb: int = 256, controller_heap_mb: int = 192, ready_timeout_s: float = 180,
       on_progress: Callable[[str], None] | None = None) -> KeptCluster:
    """Start a kept cluster and wait until its brokers serve; stopped again when that fails."""
    from kafkalab.platforms.local.class_archives import ensure_class_archives

    if security not in SECURITY_CHOICES:
        raise SpecError(f"--security: one of {', '.join(SECURITY_CHOICES)}, not {security!r}")
    directory = kept_clusters_dir() / name
    existing = find(name)
    if existing is not None and existing.running():
        raise SpecError(f"cluster {name} is running already ({existing.bootstrap_servers}); "
                        f"`kafkalab cluster down {name}` stops it")
    shutil.rmtree(directory, ignore_errors=True)  # what a dead one left
    dist = distribution.resolve(kafka_version, on_progress=on_progress)
    ensure_class_archives(dist, on_progress=on_progress)
    protocol, mechanism = SECURITY_CHOICES[security]
    cluster_security = (None if protocol == "PLAINTEXT"
                        else ClusterSecurity.create(protocol, mechanism, USERNAME, None, directory))
    cluster = LocalCluster(dist, directory, BrokerSettings(), heap_mb=heap_mb, controller_heap_mb=controller_heap_mb,
                           security=cluster_security, kept=True)
    try:
        cluster.deploy(brokers, on_progress=on_progress)
        cluster.wait_ready(timeout_s=ready_timeout_s)
        servers = cluster.open_endpoints()  # the SCRAM user, now that the brokers are up
        kept = _describe(name, cluster, servers, cluster_security)
    except BaseException:
        cluster.stop(grace_s=2)
        shutil.rmtree(directory, ignore_errors=True)
        raise
    for process in cluster.processes():
        process.detach()  # from here on it outlives this process
    (directory / STATE_FILE).write_text(json.dumps(asdict(kept), indent=2))
    return kept


def _describe(name: str, cluster: LocalCluster, servers: str, security: ClusterSecurity | None) -> KeptCluster:
    client = cluster.client_endpoint.security
    properties = write_properties(cluster.run_dir / "client.properties",
                                  {"bootstrap.servers": servers, **client.java_properties()})
    password_file = None
    if security is not None and security.uses_sasl:
        password_file = write_private(cluster.run_dir / "password", security.password.encode())
    return KeptCluster(
        name=name, directory=str(cluster.run_dir), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        kafka_version=cluster.dist.version, brokers=len(cluster.brokers), bootstrap_servers=servers,
        protocol=security.protocol if security else "PLAINTEXT",
        mechanism=security.mechanism if security and security.uses_sasl else None,
        username=security.username if security and security.uses_sasl else None,
        client_properties=str(properties), ca_file=str(security.tls.ca_cert) if security and security.tls else None,
        password_file=str(password_file) if password_file else None,
        pids={n.name: n.process.pid for n in cluster.controllers + cluster.brokers if n.process},
        ports=[n.port for n in cluster.controllers + cluster.brokers],
    )


def find(name: str) -> KeptCluster | None:
    data = read_json(kept_clusters_dir() / name / STATE_FILE)
    return KeptCluster(**data) if isinstance(data, dict) else None


def every() -> list[KeptCluster]:
    """Every kept cluster, oldest first."""
    root = kept_clusters_dir()
    found = [find(path.parent.name) for path in root.glob(f"*/{STATE_FILE}")] if root.is_dir() else []
    return sorted((k for k in found if k is not None), key=lambda k: k.created_at)


def down(name: str, *, grace_s: float = 15, ports_timeout_s: float = 30) -> KeptCluster:
    """Stop a kept cluster (brokers first, then controllers), wait until its ports are free,
    remove its directory."""
    kept = find(name)
    if kept is None:
        known = ", ".join(k.name for k in every()) or "none"
        raise SpecError(f"cluster {name}: no such cluster (running: {known})")
    directory = Path(kept.directory)
    order = sorted(kept.pids.items(), key=lambda item: item[0].startswith("controller"))
    for role_first in (False, True):
        group = [pid for node, pid in order if node.startswith("controller") == role_first]
        _stop_pids(group, directory, grace_s)
    deadline = time.monotonic() + ports_timeout_s
    while not all(port_is_free(port) for port in kept.ports):
        if time.monotonic() > deadline:
            raise ClusterError(f"cluster {name}: ports {kept.ports} still taken {ports_timeout_s:g} s after its stop")
        time.sleep(0.2)
    shutil.rmtree(directory, ignore_errors=True)
    return kept


def _stop_pids(pids: list[int], directory: Path, grace_s: float) -> None:
    mine = [pid for pid in pids if _is_node_of(pid, directory)]
    for pid in mine:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(_is_node_of(pid, directory) for pid in mine) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in mine:
        if _is_node_of(pid, directory):
            _signal(pid, signal.SIGKILL)
    _wait_gone(mine, directory, timeout_s=30)


def _signal(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # started in a session of its own: the JVM and anything it started
    except ProcessLookupError:
        pass


def _wait_gone(pids: list[int], directory: Path, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(_is_node_of(pid, directory) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)


def _is_node_of(pid: int, directory: Path) -> bool:
    """Whether `pid` runs and its command line points into `directory` (a node of that cluster)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # our own child (the test process that started it): reap it
            return False
        return str(directory) + os.sep in " ".join(process.cmdline())
    except psutil.Error:
        return False

