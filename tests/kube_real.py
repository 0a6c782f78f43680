"""What the tests on the test bed's real node share: the pods' sizing, static volumes, and
the checks that a stopped test bed left nothing behind (tests/conftest.py kube_real_testbed).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from kubernetes import client as k8s

from kafkalab.platforms.kubernetes import manifests as m
from kubetestbed import leftovers
from kubetestbed.kernel import read_sysctls
from kubetestbed.realnode import RealNode

# The real node advertises the machine's 2 CPUs, shared with everything else on it. Requests
# equal limits; every pod of the largest set at once (controller + 4 brokers + 3 producers)
# fits: 200m + 4 x 300m + 3 x 150m = 1.85. Consumers take the producers' size.
POD_SIZING = {"controller_cpu": "200m", "broker_cpu": "300m", "producer_cpu": "150m",
              "storage_size": "1Gi", "controller_storage_size": "1Gi", "schedule_timeout_s": 300,
              "teardown_timeout_s": 300}
BROKER_HEAP_MB, CONTROLLER_HEAP_MB, CLIENT_HEAP_MB = 256, 192, 128  # memory: twice the heap (the default)

KUBELET_SETS = {"vm.overcommit_memory": "1", "kernel.panic": "10", "kernel.panic_on_oops": "1"}


def kubernetes_section(node: RealNode, storage_class: str, **overrides) -> dict:
    """A spec's cluster.kubernetes for the real node: the sizing, the static volumes' class,
    and the flow's Kafka calls run in the node's namespaces (where pod names resolve)."""
    return {**POD_SIZING, "storage_class": storage_class, "kafka_calls_via": node.command_prefix(), **overrides}


@contextmanager
def static_volumes(core: k8s.CoreV1Api, prefix: str, count: int) -> Iterator[str]:
    """`count` hostPath PVs of a new storage class (no provisioner on the test bed), yielded;
    deleted after, with their data. The directories are under /var/tmp, outside pytest's tmp,
    owned by the pods' uid (hostPath ignores fsGroup)."""
    storage_class = f"{prefix}-{secrets.token_hex(3)}"
    root = Path("/var/tmp") / storage_class
    names: list[str] = []
    try:
        for i in range(count):
            path = root / f"pv-{i}"
            path.mkdir(parents=True)
            os.chown(path, m.KAFKA_UID, m.KAFKA_UID)
            name = f"{storage_class}-{i}"
            core.create_persistent_volume(k8s.V1PersistentVolume(
                metadata=k8s.V1ObjectMeta(name=name),
                spec=k8s.V1PersistentVolumeSpec(
                    capacity={"storage": POD_SIZING["storage_size"]}, access_modes=["ReadWriteOnce"],
                    storage_class_name=storage_class, persistent_volume_reclaim_policy="Retain",
                    host_path=k8s.V1HostPathVolumeSource(path=str(path)))))
            names.append(name)
        yield storage_class
    finally:
        for name in names:
            core.delete_persistent_volume(name)
        shutil.rmtree(root, ignore_errors=True)


def node_traces(workdir: Path, names: list[str]) -> dict[str, list[str]]:
    """What a stopped test bed must not have left: processes, mounts, netns, cgroups, and
    the short runtime dirs. `names`: the real nodes' netns/cgroup names."""
    processes = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = process.info["cmdline"] or []
            cgroup = Path(f"/proc/{process.pid}/cgroup").read_text()
        except (OSError, psutil.Error):
            continue
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(str(workdir) in arg or any(name in arg for name in names) for arg in cmdline) \
                or any(name in cgroup for name in names):
            processes.append(" ".join(cmdline))
    with open("/proc/self/mounts") as mounts:
        mounted = [line.split()[1] for line in mounts
                   if str(workdir) in line or any(name in line for name in names)]
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    left_netns = [name for name in names if name in namespaces.split()]
    cgroups = [str(path) for name in names for path in Path("/sys/fs/cgroup").glob(f"*/{name}")]
    dirs = [str(path) for name in names for path in Path(tempfile.gettempdir()).glob(name)]
    return {"processes": processes, "mounts": mounted, "netns": left_netns, "cgroups": cgroups, "dirs": dirs}


NO_TRACES = {"processes": [], "mounts": [], "netns": [], "cgroups": [], "dirs": []}


def kubelet_settings_in_force(sysctls: dict[str, str]) -> bool:
    """Whether the settings are what a kubelet sets (one runs, or ran and was not undone)."""
    return all(sysctls.get(name) == value for name, value in KUBELET_SETS.items())


def assert_kernel_settings_put_back(before: dict[str, str]) -> None:
    """The kernel settings are what they were before, unless another test session's real
    node still runs (then they stay its kubelet's, and the last test bed to stop restores)."""
    now = read_sysctls()
    if leftovers.live_nodes():
        assert kubelet_settings_in_force(now), now
    elif not kubelet_settings_in_force(before):
        assert now == before
    else:  # `before` was another session's kubelet's, which has stopped since
        assert not kubelet_settings_in_force(now), now
