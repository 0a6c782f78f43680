"""Class-data archives (Java AppCDS) of the Kafka jars: faster JVM starts for every node and tool.

A Kafka broker loads thousands of classes at start-up; on a small machine that is most of
its start time, paid again by every broker, controller and perf-tool instance. Once per
Kafka version, kafkalab records the classes a real broker and a real ProducerPerformance
load (`-XX:ArchiveClassesAtExit`) into archives beside the jars; later JVMs map them
(`-XX:SharedArchiveFile`). A JVM that cannot use an archive ignores it and starts normally.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from kafkalab.core.processes import ManagedProcess
from kafkalab.kafka import admin, perftools
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.properties import write_properties
from kafkalab.platforms.local.cluster import LocalCluster

KINDS = ("broker", "tools")


def ensure_class_archives(dist: KafkaDistribution, *, on_progress: Callable[[str], None] | None = None) -> None:
    """Make the archives of `dist` unless they exist (one process at a time)."""
    if all(dist.class_archive(kind).exists() for kind in KINDS):
        return
    dist.config_dir.mkdir(parents=True, exist_ok=True)
    with open(dist.config_dir / ".class-archives.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(dist.class_archive(kind).exists() for kind in KINDS):
            return
        if on_progress:
            on_progress(f"recording class-data archives of Kafka {dist.version} for faster JVM starts (once)")
        with tempfile.TemporaryDirectory(prefix="class-archives-", dir=dist.config_dir) as tmp:
            _record(dist, Path(tmp))


def _record(dist: KafkaDistribution, work: Path) -> None:
    broker_archive, tools_archive = work / "broker.jsa", work / "tools.jsa"
    cluster = LocalCluster(dist, work / "cluster", BrokerSettings(), heap_mb=256, controller_heap_mb=192,
                           record_class_archive=broker_archive)
    try:
        cluster.deploy(1)
        cluster.wait_ready(timeout_s=300)
        admin.create_topic(cluster.bootstrap_servers, "warm-up", partitions=1, replication_factor=1)
        config = write_properties(work / "producer.properties",
                                  {"bootstrap.servers": cluster.bootstrap_servers, "acks": "1"})
        args = perftools.producer_args(topic="warm-up", num_records=2000, record_size=100, throughput=-1,
                                       config_file=config)
        cmd = dist.java_command(perftools.PRODUCER_MAIN, args, heap_mb=128,
                                jvm_options=[f"-XX:ArchiveClassesAtExit={tools_archive}"])
        ManagedProcess("warm-up producer", cmd, work / "producer.log").wait(timeout=300)
    finally:
        cluster.stop(grace_s=120)  # the broker writes its archive while it exits
    for kind, made in (("broker", broker_archive), ("tools", tools_archive)):
        if made.exists() and made.stat().st_size > 0:
            shutil.move(str(made), str(dist.class_archive(kind)))
