"""The machine-wide kernel settings a kubelet rewrites, put back when the test bed stops.

kubelet (with protectKernelDefaults off, the only way it starts here) sets these sysctls at
start, for the whole machine, not just its namespaces: on this machine vm.overcommit_memory
0 -> 1, kernel.panic 1 -> 10, kernel.panic_on_oops 0 -> 1. They are recorded before the
first kubelet starts and written back on stop, at interpreter exit and (through the test
bed's stop paths) on SIGTERM. Test beds running at once share them: the values recorded are
the first live one's, and only the last one to stop writes them back.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from pathlib import Path

# kubelet's setupKernelTunables (pkg/kubelet/cm/container_manager_linux.go) writes these.
KUBELET_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls(names: tuple[str, ...] = KUBELET_SYSCTLS) -> dict[str, str]:
    return {name: sysctl_path(name).read_text().strip() for name in names if sysctl_path(name).exists()}


class KernelSettings:
    """Recorded values of KUBELET_SYSCTLS; restore() writes back what changed (idempotent).

    `recorded`: the values to restore, when known from before another kubelet started;
    `others_running`: whether another test bed's kubelet still needs them as they are."""

    def __init__(self, recorded: dict[str, str] | None = None,
                 others_running: Callable[[], bool] = lambda: False) -> None:
        self.recorded = dict(recorded) if recorded else read_sysctls()
        self._others_running = others_running
        self._restored = False
        atexit.register(self.restore)  # a test process that dies of an exception still restores

    def changed(self) -> dict[str, tuple[str, str]]:
        """{name: (recorded, now)} for every setting that differs from the recorded value."""
        now = read_sysctls(tuple(self.recorded))
        return {name: (value, now.get(name, "")) for name, value in self.recorded.items() if now.get(name) != value}

    def restore(self) -> None:
        if self._restored:
            return
        if not self._others_running():  # else the last test bed to stop restores them
            for name, (recorded, _now) in self.changed().items():
                sysctl_path(name).write_text(recorded + "\n")
        self._restored = True
        atexit.unregister(self.restore)
