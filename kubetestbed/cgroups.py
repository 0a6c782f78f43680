"""A real node's cgroups: one subtree `/<name>` in every cgroup hierarchy of the machine.

kubelet's cgroupRoot is `/<name>`, so its kubepods (and every container) land under it;
kubelet, containerd and containerd's shims are started in `/<name>/daemons`. The pids
hierarchy therefore lists every process the node has, whoever forked it: stopping kills
them all (shims and containers are not in kubelet's or containerd's process group) and
removes the subtree, deepest first. cgroups here are hybrid (v1 controllers, a v2 mount
with no controllers of note): kubelet runs with failCgroupV1: false.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
KILL_ROUNDS = 50


def hierarchies() -> list[Path]:
    """Mount points of every cgroup (v1) and cgroup2 file system."""
    found = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            _device, target, fstype, *_ = line.split()
            if fstype in ("cgroup", "cgroup2"):
                found.append(Path(target))
    return found


class NodeCgroups:
    def __init__(self, name: str) -> None:
        self.name = name
        self.root = f"/{name}"  # kubelet's cgroupRoot
        self._pids = CGROUP_ROOT / "pids" / name

    def create(self) -> None:
        for hierarchy in hierarchies():
            for path in (hierarchy / self.name, hierarchy / self.name / "daemons"):
                path.mkdir(exist_ok=True)
                if (path / "cpuset.cpus").exists():
                    # A v1 cpuset cgroup takes no task until it has cpus and mems: the parent's.
                    for knob in ("cpuset.cpus", "cpuset.mems"):
                        (path / knob).write_text((path.parent / knob).read_text())

    def join_prefix(self) -> list[str]:
        """argv prefix that moves the command into `/<name>/daemons` (every hierarchy) and
        execs it, so it and all its children (shims, containers) are found at stop."""
        procs = [str(h / self.name / "daemons" / "cgroup.procs") for h in hierarchies()
                 if (h / self.name / "daemons" / "cgroup.procs").exists()]
        script = 'for f in $CGROUP_PROCS; do echo $$ > "$f" || exit 1; done; exec "$@"'
        return ["env", f"CGROUP_PROCS={' '.join(procs)}", "sh", "-c", script, "sh"]

    def pids(self) -> list[int]:
        found: list[int] = []
        if not self._pids.exists():
            return found
        for directory, _dirs, files in os.walk(self._pids):
            if "cgroup.procs" in files:
                text = Path(directory, "cgroup.procs").read_text()
                found += [int(pid) for pid in text.split()]
        return found

    def kill_all(self) -> list[int]:
        """SIGKILL every process in the subtree until none is left; returns any survivors."""
        for _ in range(KILL_ROUNDS):
            pids = self.pids()
            if not pids:
                return []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        return self.pids()

    def remove(self) -> list[str]:
        """rmdir the subtree in every hierarchy, deepest first; returns the dirs left."""
        left = []
        for hierarchy in hierarchies():
            top = hierarchy / self.name
            if not top.exists():
                continue
            for attempt in range(20):
                for directory, _dirs, _files in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
                    try:
                        os.rmdir(directory)
                    except OSError:
                        pass
                if not top.exists():
                    break
                time.sleep(0.1 * (attempt + 1))  # a killed task leaves its cgroup a moment later
            if top.exists():
                left.append(str(top))
        return left
