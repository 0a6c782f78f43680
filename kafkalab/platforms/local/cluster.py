"""The embedded platform: a KRaft cluster of local JVMs on 127.0.0.1 (the guide's Step 1).

One run directory per cluster holds each node's config, data and log. Controllers form a
static quorum; brokers get node ids 0..N-1 (the guide's kafka-0, kafka-1, ...). All nodes
are formatted and started in parallel, so three brokers start about as fast as one.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kafkalab.core.errors import ClusterError
from kafkalab.core.net import LOOPBACK, free_port
from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import wait_until
from kafkalab.kafka import admin
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.distribution import BROKER_MAIN, STORAGE_TOOL_MAIN, KafkaDistribution
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import PLAINTEXT, ClusterSecurity, Endpoint
from kafkalab.load import runner
from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad
from kafkalab.model import ConsumerOutcome, ProducerOutcome
from kafkalab.platforms.base import FAULTS, GENERATOR, REASSIGN, SCALE, SECURITY, Cluster, KafkaLevel, MetricsTarget

CONTROLLER_ID_BASE = 1000  # controllers 1000.., brokers 0..N-1: distinct KRaft node ids
# What a broker logs once it is registered, caught up, unfenced and serving (BrokerServer).
BROKER_STARTED_LINE = b"Transition from STARTING to STARTED"
LOOPBACK_JMX_MAIN = "LoopbackJmx"  # kafkalab/java/LoopbackJmx.java: starts the broker with JMX on loopback


def new_cluster_id() -> str:
    """A Kafka Uuid: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's Uuid.randomUuid, never one starting with '-' (it would read as an option).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


@dataclass
class Node:
    node_id: int
    role: str  # "controller" | "broker"
    port: int
    directory: Path
    process: ManagedProcess | None = None
    jmx_port: int | None = None  # brokers: their JMX, on 127.0.0.1 only (LOOPBACK_JMX_MAIN)

    @property
    def name(self) -> str:
        return f"controller-{self.node_id}" if self.role == "controller" else f"broker-{self.node_id}"

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"


@dataclass
class LocalCluster(Cluster):
    """A running (or stopped) local KRaft cluster: every operation of the platform interface."""

    dist: KafkaDistribution
    run_dir: Path
    settings: BrokerSettings
    heap_mb: int = 512
    controller_heap_mb: int = 256
    cluster_id: str = field(default_factory=new_cluster_id)
    controllers: list[Node] = field(default_factory=list)
    brokers: list[Node] = field(default_factory=list)
    # SASL and/or TLS on the broker listener (None: PLAINTEXT). See kafkalab/kafka/security.py.
    security: ClusterSecurity | None = field(default=None, repr=False)
    # Set only while kafkalab records the broker class-data archive (class_archives.py).
    record_class_archive: Path | None = None
    # Left running past its owner on purpose (`kafkalab cluster up`): never reaped as stale.
    kept: bool = False
    kafka: KafkaLevel = field(default_factory=KafkaLevel, repr=False)

    platform = "local"
    capabilities = frozenset({FAULTS, SCALE, REASSIGN, SECURITY, GENERATOR})

    # -- layout -------------------------------------------------------------------------

    @property
    def broker_java(self) -> str:
        return self.dist.java

    @property
    def quorum_voters(self) -> str:
        return ",".join(f"{c.node_id}@{LOOPBACK}:{c.port}" for c in self.controllers)

    @property
    def bootstrap_servers(self) -> str:
        """The guide's Step 3 endpoint list: host:port of every broker, comma-separated."""
        return ",".join(f"{LOOPBACK}:{b.port}" for b in self.brokers)

    @property
    def endpoint(self) -> Endpoint:
        """kafkalab's own client calls (readiness, topics, offsets): the brokers' internal user."""
        return Endpoint(self.bootstrap_servers, self.security.internal_client() if self.security else PLAINTEXT)

    @property
    def client_endpoint(self) -> Endpoint:
        """The perf tools: the spec's user and mechanism."""
        return Endpoint(self.bootstrap_servers, self.security.user_client() if self.security else PLAINTEXT)

    @property
    def listener(self) -> str:
        return self.security.listener if self.security else "PLAINTEXT"

    def _common_config(self, node: Node) -> dict[str, object]:
        return {
            "process.roles": node.role,
            "node.id": node.node_id,
            "controller.quorum.voters": self.quorum_voters,
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{self.listener}:{self.listener}",
            "log.dirs": str(node.directory / "data"),
        }

    def planned_broker_config(self, broker_count: int) -> dict[str, object]:
        """The config broker 0 would start with, before any node exists (placeholder port,
        directory and quorum): what kafkalab checks with Kafka before it starts anything."""
        node = Node(0, "broker", 9092, self.run_dir / "planned" / "broker")
        return {**self._broker_config(node, broker_count),
                "controller.quorum.voters": f"{CONTROLLER_ID_BASE}@{LOOPBACK}:9093"}

    def _controller_config(self, node: Node) -> dict[str, object]:
        return {**self._common_config(node), "listeners": f"CONTROLLER://{LOOPBACK}:{node.port}"}

    def _broker_config(self, node: Node, broker_count: int) -> dict[str, object]:
        listener = f"{self.listener}://{LOOPBACK}:{node.port}"
        return {
            **self.settings.defaults_for(broker_count),
            **self._common_config(node),
            "listeners": listener,
            "advertised.listeners": listener,
            "inter.broker.listener.name": self.listener,
            **self.settings.applied,
            **(self.security.broker_properties() if self.security else {}),
        }

    def _new_node(self, node_id: int, role: str) -> Node:
        directory = self.run_dir / (f"controller-{node_id}" if role == "controller" else f"broker-{node_id}")
        directory.mkdir(parents=True, exist_ok=False)
        return Node(node_id, role, free_port(), directory, jmx_port=free_port() if role == "broker" else None)

    # -- lifecycle ----------------------------------------------------------------------

    def deploy(self, brokers: int, controllers: int = 1, *, on_progress: Callable[[str], None] | None = None) -> None:
        """Write configs, format storage and start every node in parallel (not yet waiting for readiness)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "cluster.json").write_text(json.dumps({
            "cluster_id": self.cluster_id, "owner_pid": os.getpid(), "kafka_version": self.dist.version,
            **({"kept": True} if self.kept else {}),
        }))
        self.controllers = [self._new_node(CONTROLLER_ID_BASE + i, "controller") for i in range(controllers)]
        new_brokers = [self._new_node(i, "broker") for i in range(brokers)]
        self.brokers = new_brokers
        self._start_nodes(self.controllers + new_brokers, broker_count=brokers, on_progress=on_progress)

    def add_brokers(self, count: int, *, on_progress: Callable[[str], None] | None = None) -> list[int]:
        """Scale up a live cluster: start `count` more brokers with the next node ids."""
        first = max(self.broker_ids, default=-1) + 1
        new = [self._new_node(first + i, "broker") for i in range(count)]
        self.brokers.extend(new)
        self._start_nodes(new, broker_count=len(self.brokers), on_progress=on_progress)
        return [n.node_id for n in new]

    def _start_nodes(self, nodes: list[Node], *, broker_count: int, on_progress: Callable[[str], None] | None) -> None:
        for node in nodes:
            config = self._controller_config(node) if node.role == "controller" else self._broker_config(node, broker_count)
            write_properties(node.config_path, config)
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            list(pool.map(self._format, nodes))  # controllers run StorageTool, brokers need no JVM
        for node in nodes:
            heap = self.controller_heap_mb if node.role == "controller" else self.heap_mb
            options = [f"-Dkafka.logs.dir={node.directory}"]
            if self.record_class_archive is not None and node.role == "broker":
                options.append(f"-XX:ArchiveClassesAtExit={self.record_class_archive}")
            main, args, classpath = BROKER_MAIN, [str(node.config_path)], []
            jmx = self.dist.compiled_helper(LOOPBACK_JMX_MAIN, against_kafka=False) if node.role == "broker" else None
            if jmx is None:
                node.jmx_port = None  # no javac: no JMX, and the run's broker metrics say so
            else:  # the broker's JMX on 127.0.0.1:<jmx_port> only (kafkalab/java/LoopbackJmx.java)
                main, args, classpath = LOOPBACK_JMX_MAIN, [str(node.jmx_port), BROKER_MAIN, *args], [jmx]
            cmd = self.dist.java_command(
                main, args, heap_mb=heap, log_config="broker", jvm_options=options, extra_classpath=classpath,
                class_archive=None if self.record_class_archive else "broker",
            )
            node.process = ManagedProcess(node.name, cmd, node.log_path, cwd=node.directory)
            if on_progress:
                on_progress(f"{node.name} started (pid {node.process.pid}, {LOOPBACK}:{node.port})")
        self._write_pids()

    def _format(self, node: Node) -> None:
        if node.role == "broker":
            self._write_broker_meta(node)
            return
        args = ["format", "-t", self.cluster_id, "-c", str(node.config_path)]
        cmd = self.dist.java_command(STORAGE_TOOL_MAIN, args, heap_mb=128)
        proc = ManagedProcess(f"format {node.name}", cmd, node.directory / "format.log")
        try:
            code = proc.wait(timeout=120)
        except TimeoutError as exc:
            raise ClusterError(f"formatting {node.name} storage timed out") from exc
        if code != 0:
            detail = _last_meaningful_line(proc.output())
            raise ClusterError(f"formatting {node.name} storage failed: {detail}")

    def _write_broker_meta(self, node: Node) -> None:
        """What `StorageTool format` writes for a broker of a static quorum: meta.properties only.

        Saves a JVM start per broker; controllers still go through StorageTool, which also
        writes the bootstrap metadata (the feature levels) the quorum starts from.
        """
        data = node.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        write_properties(data / "meta.properties", {
            "version": 1, "cluster.id": self.cluster_id, "node.id": node.node_id, "directory.id": new_cluster_id(),
        })

    def _write_pids(self) -> None:
        pids = {n.name: n.process.pid for n in self.controllers + self.brokers if n.process}
        (self.run_dir / "pids.json").write_text(json.dumps(pids))

    def dead_node(self) -> str | None:
        """A reason if any node process has exited (a broker that will never register)."""
        for node in self.controllers + self.brokers:
            if node.process is not None and node.process.poll() is not None:
                return f"{node.name} exited with code {node.process.poll()}: {_last_meaningful_line(node.process.output())} (log: {node.log_path})"
        return None

    def wait_ready(self, broker_ids: list[int] | None = None, *, timeout_s: float = 120,
                   on_ready: Callable[[admin.BrokerInfo], None] | None = None) -> list[admin.BrokerInfo]:
        """Readiness as the guide's `plan status deploy` COMPLETE: every broker registered."""
        expected = set(self.broker_ids if broker_ids is None else broker_ids)
        return admin.wait_until_registered(
            lambda: self.kafka.registered_brokers(self), expected, timeout_s=timeout_s, on_ready=on_ready,
            is_alive=self.dead_node,
        )

    def remove_brokers(self, broker_ids: list[int], grace_s: float = 30) -> None:
        """Scale down: stop these brokers cleanly (controlled shutdown) and forget them."""
        gone = [b for b in self.brokers if b.node_id in broker_ids]
        with ThreadPoolExecutor(max_workers=max(1, len(gone))) as pool:
            list(pool.map(lambda n: n.process and n.process.stop(grace_s), gone))
        self.brokers = [b for b in self.brokers if b.node_id not in broker_ids]
        self._write_pids()

    # -- the load -----------------------------------------------------------------------

    def run_producers(self, load: ProducerLoad, instances: int, *, client_prefix: str, spread: str = "any",
                      on_line: LineSink | None = None, on_go: Callable[[], None] | None = None,
                      ) -> list[ProducerOutcome]:
        """JVMs on this machine behind kafkalab's start barrier (`spread` has nothing to choose here)."""
        return runner.run_producers(self.dist, self.client_endpoint, load, instances, self.run_dir / load.topic,
                                    client_prefix=client_prefix, on_line=on_line, on_go=on_go)

    def run_consumer(self, load: ConsumerLoad, *, group: str, on_line: LineSink | None = None) -> ConsumerOutcome:
        return runner.run_consumer(self.dist, self.client_endpoint, load, self.run_dir / load.topic, group=group,
                                   on_line=on_line)

    def run_load(self, load: ProducerLoad, instances: int, *, alongside: ConsumerLoad | None = None,
                 client_prefix: str, spread: str = "any", on_line: LineSink | None = None,
                 on_go: Callable[[], None] | None = None) -> tuple[list[ProducerOutcome], list[ConsumerOutcome]]:
        """Either tool's JVMs on this machine behind one start barrier (`spread` has nothing to choose here)."""
        return runner.run_load(self.dist, self.client_endpoint, load, instances, self.run_dir / load.topic,
                               alongside=alongside, client_prefix=client_prefix, on_line=on_line, on_go=on_go)

    def run_consumers(self, load: ConsumerLoad, *, on_line: LineSink | None = None) -> list[ConsumerOutcome]:
        return runner.run_consumers(self.dist, self.client_endpoint, load, self.run_dir / load.topic, on_line=on_line)

    # -- faults (kafkalab.platforms.faults) ----------------------------------------------

    def broker_node(self, node_id: int) -> Node:
        for node in self.brokers:
            if node.node_id == node_id:
                return node
        raise ClusterError(f"broker {node_id} is not part of this cluster (brokers: {self.broker_ids})")

    def kill_broker(self, node_id: int) -> None:
        """SIGKILL the broker's JVM: no controlled shutdown, as when its machine dies."""
        node = self.broker_node(node_id)
        if node.process is not None:
            node.process.kill()

    def stop_broker(self, node_id: int, grace_s: float = 30) -> None:
        """Clean shutdown (SIGTERM: the broker hands its leaderships over first), SIGKILL after `grace_s`."""
        node = self.broker_node(node_id)
        if node.process is not None:
            node.process.stop(grace_s)

    def start_broker(self, node_id: int) -> int:
        """Start a stopped or killed broker again: same command, config, data directory and port.

        Its output is appended to the same server.log; returns the log's size before the
        restart (where wait_broker_back looks). Not waiting for readiness.
        """
        node = self.broker_node(node_id)
        old = node.process
        if old is None:
            raise ClusterError(f"broker {node_id} was never started")
        if old.poll() is None:
            raise ClusterError(f"broker {node_id} is still running (pid {old.pid})")
        offset = node.log_path.stat().st_size if node.log_path.exists() else 0
        node.process = ManagedProcess(node.name, old.command, node.log_path, cwd=old.cwd, env=old.env, append=True)
        self._write_pids()
        return offset

    def wait_broker_back(self, node_id: int, since: int, timeout_s: float = 120) -> None:
        """Until the restarted broker logs that it started: registered, caught up, unfenced and serving.

        Read from its own log (after `since`, start_broker's log offset) rather than asked of the
        cluster: right after a SIGKILL the controller still lists the old incarnation until its
        session times out.
        """
        node = self.broker_node(node_id)

        def serving() -> bool:
            with open(node.log_path, "rb") as log:
                log.seek(since)
                if BROKER_STARTED_LINE in log.read():
                    return True
            code = node.process.poll() if node.process is not None else None
            if code is not None:
                raise ClusterError(
                    f"{node.name} exited with code {code} after its restart: "
                    f"{_last_meaningful_line(node.process.output())} (log: {node.log_path})"
                )
            return False

        wait_until(serving, timeout_s, f"{node.name} serving after its restart", error=ClusterError,
                   detail=lambda: f"log: {node.log_path}")

    def down_brokers(self) -> list[int]:
        return [n.node_id for n in self.brokers if n.process is not None and n.process.poll() is not None]

    def stop(self, grace_s: float = 10) -> None:
        """Stop brokers (in parallel, while the controllers can still take their shutdown), then controllers."""
        for group in (self.brokers, self.controllers):
            running = [n for n in group if n.process is not None]
            if running:
                with ThreadPoolExecutor(max_workers=len(running)) as pool:
                    list(pool.map(lambda n: n.process.stop(grace_s), running))
        pids = self.run_dir / "pids.json"
        if pids.exists():
            pids.unlink()

    def metrics_targets(self) -> list[MetricsTarget]:
        """Each live broker's JMX (127.0.0.1:<port>) and JVM, and each controller's JVM."""
        targets = [MetricsTarget("broker-jmx", b.name, f"{LOOPBACK}:{b.jmx_port}" if b.jmx_port else None,
                                 b.process.pid)
                   for b in self.brokers if b.process is not None and b.process.poll() is None]
        return targets + [MetricsTarget("process", c.name, pid=c.process.pid)
                          for c in self.controllers if c.process is not None and c.process.poll() is None]

    def processes(self) -> list[ManagedProcess]:
        return [n.process for n in self.controllers + self.brokers if n.process is not None]

    def remove_data(self) -> None:
        """Free the disk a finished cluster used, keeping configs and logs."""
        for node in self.controllers + self.brokers:
            shutil.rmtree(node.directory / "data", ignore_errors=True)


def reap_stale_clusters(runs_root: Path, *, on_progress: Callable[[str], None] | None = None) -> list[Path]:
    """Stop the JVMs of clusters whose kafkalab process died (SIGKILL, a crashed worker).

    A run directory belongs to the process named in its cluster.json; while its cluster is up
    it holds pids.json. When the owner is gone but pids.json is still there, every process
    whose command line points into the directory (brokers, controllers, perf tools) is an orphan.
    The directory is marked stale so that nothing reuses it; clusters marked `kept` in their
    cluster.json (`kafkalab cluster up`) are left alone. Returns the directories reaped.
    """
    import psutil

    reaped: list[Path] = []
    for pids_file in runs_root.glob("*/pids.json"):
        run_dir = pids_file.parent
        try:
            info = json.loads((run_dir / "cluster.json").read_text())
            owner = info["owner_pid"]
        except (OSError, ValueError, KeyError):
            continue
        if info.get("kept"):
            continue  # `kafkalab cluster up`: outlives the command that started it, on purpose
        if psutil.pid_exists(owner):
            try:
                if psutil.Process(owner).status() != psutil.STATUS_ZOMBIE:
                    continue  # its owner still runs it
            except psutil.Error:
                pass
        marker = str(run_dir) + os.sep
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                if marker in " ".join(proc.info["cmdline"] or []) and proc.pid != os.getpid():
                    proc.kill()
                    proc.wait(timeout=30)
                    if on_progress:
                        on_progress(f"stopped pid {proc.pid}, left running in {run_dir} by dead process {owner}")
            except psutil.Error:
                continue
        pids_file.unlink(missing_ok=True)
        (run_dir / "STALE").write_text(f"owner process {owner} died; its JVMs were stopped by process {os.getpid()}\n")
        reaped.append(run_dir)
    return reaped


def clean_stale_runs(runs_root: Path, *, on_progress: Callable[[str], None] | None = None) -> list[tuple[Path, int]]:
    """`kafkalab clean`: reap clusters of dead processes, then free the data of every stale run.

    Stale run directories (marked STALE by reap_stale_clusters, now or earlier) lose their
    nodes' data directories; configs, logs and spooled results stay. Returns (run dir, bytes
    freed) for each directory that held data or processes.
    """
    reaped = set(reap_stale_clusters(runs_root, on_progress=on_progress))
    cleaned: list[tuple[Path, int]] = []
    for marker in sorted(runs_root.glob("*/STALE")):
        run_dir = marker.parent
        freed = 0
        for data in run_dir.glob("*/data"):
            if data.is_dir() and not data.is_symlink():
                freed += sum(f.stat().st_size for f in data.rglob("*") if f.is_file() and not f.is_symlink())
                shutil.rmtree(data, ignore_errors=True)
        if freed or run_dir in reaped:
            cleaned.append((run_dir, freed))
    return cleaned


def _last_meaningful_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "ERROR" in ln or "Exception" in ln or "Error" in ln:
            return ln[:300]
    return lines[-1][:300] if lines else "no output"
