"""Partition reassignment onto new brokers after a scale-up.

The move itself is Kafka's: `ReassignPartitionsCommand --execute` submits the plan
through the admin API (alterPartitionReassignments). kafkalab writes the plan (Kafka's
own round-robin placement over all brokers), then waits until the cluster metadata shows
every partition on its target replicas, and moves leadership to the preferred replicas.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kafkalab.core.errors import ClusterError
from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import wait_until
from kafkalab.kafka import admin
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.kafka.perftools import first_error_line
from kafkalab.kafka.properties import write_properties
from kafkalab.kafka.security import endpoint_of

REASSIGN_MAIN = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"


def reassign_onto(
    dist: KafkaDistribution, bootstrap: admin.Target, brokers: list[int], work_dir: Path, *, timeout_s: float = 600
) -> dict[str, dict[int, list[int]]]:
    """Spread every test topic's replicas over `brokers`; returns the target assignment."""
    targets: dict[str, dict[int, list[int]]] = {}
    for topic in admin.user_topics(bootstrap):
        current = admin.topic_assignment(bootstrap, topic)
        target = admin.balanced_assignment(current, brokers)
        if target != current:
            targets[topic] = target
    if not targets:
        return {}
    plan = {
        "version": 1,
        "partitions": [
            {"topic": t, "partition": p, "replicas": replicas}
            for t, assignment in targets.items() for p, replicas in assignment.items()
        ],
    }
    work_dir.mkdir(parents=True, exist_ok=True)
    plan_file = work_dir / f"reassignment-{int(time.time())}.json"
    plan_file.write_text(json.dumps(plan, indent=1))
    endpoint = endpoint_of(bootstrap)
    client_config = write_properties(work_dir / "reassign-client.properties", endpoint.security.java_properties())
    args = ["--bootstrap-server", endpoint.servers, "--command-config", str(client_config),
            "--reassignment-json-file", str(plan_file), "--execute"]
    proc = ManagedProcess("reassign", dist.java_command(REASSIGN_MAIN, args, heap_mb=128), plan_file.with_suffix(".log"))
    code = proc.wait(timeout=120)
    if code != 0:
        raise ClusterError(f"partition reassignment was refused: {first_error_line(proc.output()) or 'exit ' + str(code)}")
    _wait_until_moved(bootstrap, targets, timeout_s)
    for topic, assignment in targets.items():
        admin.elect_preferred_leaders(bootstrap, topic, list(assignment))
    return targets


def _wait_until_moved(bootstrap: admin.Target, targets: dict[str, dict[int, list[int]]], timeout_s: float) -> None:
    """Done when the metadata lists exactly the target replicas (while moving it lists both sets)."""
    pending = dict(targets)

    def all_moved() -> bool:
        for topic in list(pending):
            current = admin.topic_assignment(bootstrap, topic)
            if all(sorted(current.get(p, [])) == sorted(r) for p, r in pending[topic].items()):
                del pending[topic]
        return not pending

    wait_until(all_moved, timeout_s, "partition reassignment complete", interval=0.5,
               detail=lambda: f"still moving: {sorted(pending)}", error=ClusterError)
