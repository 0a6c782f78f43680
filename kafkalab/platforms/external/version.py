"""Which Kafka an external cluster runs, as far as the cluster tells.

Brokers do not announce their release, but they announce the `metadata.version` feature
levels they support (KIP-584/KIP-778, DescribeFeatures). Its levels are named after the
release that brought them (`4.0-IV3`), so the highest level a broker supports names its
release up to the minor version. Kafka's own FeatureCommand (kafka-features.sh describe)
asks for them with the client settings the load uses; kafkalab reads its output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kafkalab.core.processes import ManagedProcess
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import Endpoint

FEATURE_MAIN = "org.apache.kafka.tools.FeatureCommand"
_METADATA_LINE = re.compile(
    r"Feature:\s*metadata\.version\s+SupportedMinVersion:\s*(?P<min>\S+)\s+SupportedMaxVersion:\s*(?P<max>\S+)"
    r"\s+FinalizedVersionLevel:\s*(?P<finalized>\S+)"
)
_RELEASE = re.compile(r"^(\d+\.\d+)-IV\d+$")


@dataclass(frozen=True)
class DetectedVersion:
    release: str  # e.g. "4.0": what the newest metadata.version the brokers support names
    supported_max: str  # e.g. "4.0-IV3"
    finalized: str  # the level the cluster runs at (lower until an upgrade is finalized)


def parse_feature_describe(output: str) -> DetectedVersion | None:
    """The metadata.version line of `kafka-features.sh describe`, or None without one."""
    match = _METADATA_LINE.search(output)
    if match is None:
        return None
    release = _RELEASE.match(match["max"])
    if release is None:
        return None
    return DetectedVersion(release[1], match["max"], match["finalized"])


def detect_version(dist: KafkaDistribution, endpoint: Endpoint, work_dir: Path, *,
                   timeout_s: float = 60) -> DetectedVersion | None:
    """Ask the cluster (one FeatureCommand JVM); None when it does not say."""
    config = write_properties(work_dir / "features.properties", endpoint.security.java_properties())
    cmd = dist.java_command(FEATURE_MAIN, ["--bootstrap-server", endpoint.servers, "--command-config", str(config),
                                           "describe"], heap_mb=128, class_archive="tools")
    process = ManagedProcess("kafka-features describe", cmd, work_dir / "features-describe.log")
    try:
        code = process.wait(timeout=timeout_s)
    except TimeoutError:
        return None
    return parse_feature_describe(process.output()) if code == 0 else None
