"""Real nodes whose owner died without stopping them (SIGKILL, a crash of the machine's
test runner): found by their record and removed, the next time a test bed starts one.

Every real node writes `<tmp>/kafkalab-<id>-N/node.json` (its owner's pid and start time,
its namespaces, cgroup and bridge); a record whose owner is gone is a leftover. Its
removal is the node's own stop path: kill what is in its cgroups, then namespaces,
mounts, links, cgroup dirs and the runtime dir.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from kubetestbed.cgroups import NodeCgroups
from kubetestbed.kernel import sysctl_path
from kubetestbed.netns import NodeNamespaces, TestbedBridge

RECORD = "node.json"
PREFIX = "kafkalab-"


@dataclass(frozen=True)
class NodeRecord:
    owner_pid: int
    owner_started: float  # psutil create_time: a reused pid is not the owner
    system_name: str  # netns, cgroup and runtime dir name
    workdir: str
    bridge_index: int
    ordinal: int
    sysctls: dict[str, str]  # the kernel settings before the test bed's first kubelet

    def owner_alive(self) -> bool:
        try:
            return psutil.Process(self.owner_pid).create_time() == self.owner_started
        except psutil.Error:
            return False


def write_record(runtime_dir: Path, *, system_name: str, workdir: Path, bridge_index: int, ordinal: int,
                 sysctls: dict[str, str]) -> None:
    me = psutil.Process(os.getpid())
    record = NodeRecord(me.pid, me.create_time(), system_name, str(workdir), bridge_index, ordinal, sysctls)
    (runtime_dir / RECORD).write_text(json.dumps(asdict(record)))


def remove_node(system_name: str, namespaces: NodeNamespaces, runtime_dir: Path) -> list[str]:
    """Kill and remove what a node left (its processes must be stopped or orphaned)."""
    cgroups = NodeCgroups(system_name)
    problems = []
    survivors = cgroups.kill_all()
    if survivors:
        problems.append(f"processes of {system_name} still alive: {survivors}")
    problems += namespaces.remove()
    problems += [f"cgroup left: {path}" for path in cgroups.remove()]
    if not problems:  # with a mount left, rmtree could reach into what it holds
        shutil.rmtree(runtime_dir, ignore_errors=True)
    return problems


def _records() -> list[tuple[Path, NodeRecord]]:
    found = []
    for record_path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*/{RECORD}"):
        try:
            found.append((record_path, NodeRecord(**json.loads(record_path.read_text()))))
        except (OSError, ValueError, TypeError):
            continue  # being written, or not ours
    return found


def live_nodes() -> list[NodeRecord]:
    """Real nodes on this machine whose owner still runs (any test bed's, ours included)."""
    return [record for _path, record in _records() if record.owner_alive()]


def sysctls_before_any_kubelet() -> dict[str, str] | None:
    """What the oldest live node recorded: with another test bed's kubelet running, the
    settings now are that kubelet's, not the machine's."""
    live = sorted(live_nodes(), key=lambda record: record.owner_started)
    return dict(live[0].sysctls) if live and live[0].sysctls else None


def sweep() -> list[str]:
    """Remove every real node whose owner is dead, and put back the kernel settings its
    kubelet changed when no live node is left; returns what could not be removed."""
    problems: list[str] = []
    records = _records()
    dead = [(path, record) for path, record in records if not record.owner_alive()]
    for record_path, record in dead:
        bridge = TestbedBridge(record.bridge_index)
        namespaces = NodeNamespaces(record.system_name, bridge, record.ordinal, Path(record.workdir))
        problems += remove_node(record.system_name, namespaces, record_path.parent)
        if not any(Path(f"/sys/class/net/{bridge.name}/brif").glob("*")):
            problems += bridge.remove()
    if dead and len(dead) == len(records):  # no kubelet of a live test bed relies on them
        for name, value in dead[0][1].sysctls.items():
            sysctl_path(name).write_text(value + "\n")
    return problems
