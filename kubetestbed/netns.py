"""The namespaces a real node lives in: a network namespace joined by a veth pair to the
test bed's bridge in the host's namespace, and a mount namespace of its own, all created
and removed by the test bed.

    host netns                          node netns "<name>" (one per real node K)
    127.0.0.1 apiserver, etcd, kwok     127.0.0.1 kubelet healthz, containerd's stream server
    bridge klbN 10.250.N.1/24  <-veth-> eth0 10.250.N.(2+K) node IP: kubelet :10250, DNS :53
                                        cni0 bridge -> pods (10.245.K.0/24)
                                        routes: 10.245.J.0/24 via node J's IP, for every other J

The nodes' links meet on the bridge, so pods of different nodes reach each other (each
node forwards to its own pods; the host forwards nothing, and has no route to the pods).

The mount namespace (kept alive by a bind mount of its ns file) is shared by kubelet,
containerd and the commands run "on the node": kubelet's volume mounts must be visible to
containerd, so each cannot get its own (as `ip netns exec` would give). Every mount made on
the node (volumes, container root file systems, pod netns files) lives only there, and goes
away with the namespace when the node stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")  # where `ip netns` keeps its namespace files
_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(RuntimeError):
    """A namespace could not be made or entered (the message names the command)."""


def run(command: list[str]) -> str:
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NamespaceError(f"{' '.join(command)} failed (exit {proc.returncode}): "
                             f"{(proc.stderr or proc.stdout).strip()[-500:]}")
    return proc.stdout


def _setns(fd: int, nstype: int) -> None:
    if _libc.setns(fd, nstype) != 0:
        errno = ctypes.get_errno()
        raise NamespaceError(f"setns failed: {os.strerror(errno)}")


@contextlib.contextmanager
def entered(netns_path: Path) -> Iterator[None]:
    """Run the block's thread in the network namespace (sockets made in it stay there after).

    A network namespace is per thread: only the calling thread moves, and it moves back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        _setns(target, CLONE_NEWNET)
        try:
            yield
        finally:
            _setns(own, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)


class TestbedBridge:
    """The bridge in the host's namespace that a test bed's real nodes are linked to.

    `index` (0..255, unique among the machine's live test beds) picks 10.250.N.0/24."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.name = f"klb{index}"
        self.host_ip = f"10.250.{index}.1"

    def node_ip(self, ordinal: int) -> str:
        return f"10.250.{self.index}.{2 + ordinal}"

    def create(self) -> None:
        if _link_exists(self.name):
            raise NamespaceError(f"link {self.name} exists already (left by an earlier run?): "
                                 f"remove it with `ip link del {self.name}`")
        run(["ip", "link", "add", self.name, "type", "bridge"])
        run(["ip", "addr", "add", f"{self.host_ip}/24", "dev", self.name])
        run(["ip", "link", "set", self.name, "up"])

    def remove(self) -> list[str]:
        if not _link_exists(self.name):
            return []
        try:
            run(["ip", "link", "del", self.name])
        except NamespaceError as error:
            return [str(error)]
        return []


class NodeNamespaces:
    """Network namespace `name` linked to the test bed's bridge, plus a private mount namespace.

    `ordinal` (the node's number in its test bed) picks its IP on the bridge's subnet."""

    def __init__(self, name: str, bridge: TestbedBridge, ordinal: int, state_dir: Path) -> None:
        self.name = name
        self.netns_path = NETNS_DIR / name
        self.bridge = bridge
        self.node_ip = bridge.node_ip(ordinal)
        # Interface names are at most 15 characters; the node's end is renamed eth0 inside.
        self.host_link = f"klh{bridge.index}n{ordinal}"
        self._ns_dir = state_dir / "ns"
        self.mount_ns_file = self._ns_dir / "mnt"
        self.etc_dir = state_dir / "etc"  # files bound over /etc inside the mount namespace

    def create(self, resolv_conf: str) -> None:
        if self.netns_path.exists():
            raise NamespaceError(f"network namespace {self.name} exists already (left by an earlier run?): "
                                 f"remove it with `ip netns del {self.name}`")
        run(["ip", "netns", "add", self.name])
        node_link = f"{self.host_link}n"[:15]
        run(["ip", "link", "add", self.host_link, "type", "veth", "peer", "name", node_link])
        run(["ip", "link", "set", node_link, "netns", self.name])
        run(["ip", "link", "set", self.host_link, "master", self.bridge.name, "up"])
        inside = ["ip", "-n", self.name]
        run([*inside, "link", "set", node_link, "name", "eth0"])
        run([*inside, "addr", "add", f"{self.node_ip}/24", "dev", "eth0"])
        run([*inside, "link", "set", "eth0", "up"])
        run([*inside, "link", "set", "lo", "up"])
        # No default route: the node reaches the bridge's subnet (the host's end, the other
        # nodes) and nothing beyond. It forwards between its link and its pods' bridge.
        run(["nsenter", f"--net={self.netns_path}", "--", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        self._create_mount_namespace(resolv_conf)

    def add_route(self, subnet: str, via: str) -> None:
        """Route `subnet` (another node's pods) through `via` (that node's IP), inside."""
        run(["ip", "-n", self.name, "route", "replace", subnet, "via", via, "dev", "eth0"])

    def _create_mount_namespace(self, resolv_conf: str) -> None:
        # A namespace file can only be bound onto a private mount: bind the dir onto itself.
        self._ns_dir.mkdir(parents=True, exist_ok=True)
        run(["mount", "--bind", str(self._ns_dir), str(self._ns_dir)])
        run(["mount", "--make-private", str(self._ns_dir)])
        self.mount_ns_file.touch()
        self.etc_dir.mkdir(parents=True, exist_ok=True)
        (self.etc_dir / "resolv.conf").write_text(resolv_conf)
        cni_state = self._ns_dir.parent / "var-lib-cni"
        cni_state.mkdir(exist_ok=True)
        # Inside: the cluster's resolver for everything run on the node; a /run of its own
        # (containerd 1.6 puts shim sockets in /run/containerd/s and runc its state in
        # /run/containerd/runc, whatever its config says; pod netns files go to /run/netns);
        # CNI's state (libcni caches results in /var/lib/cni) kept private too.
        setup = (f"mount --bind {self.etc_dir / 'resolv.conf'} /etc/resolv.conf"
                 " && mount -t tmpfs -o mode=755,size=64m tmpfs /run"
                 f" && mkdir -p /var/lib/cni && mount --bind {cni_state} /var/lib/cni")
        run(["unshare", f"--mount={self.mount_ns_file}", "--propagation", "private", "sh", "-c", setup])

    def command_prefix(self, workdir: Path | None = None) -> list[str]:
        """argv prefix that runs a command on the node: its network and mount namespaces."""
        prefix = ["nsenter", f"--net={self.netns_path}", f"--mount={self.mount_ns_file}"]
        if workdir is not None:
            prefix.append(f"--wd={workdir}")
        return [*prefix, "--"]

    def remove(self) -> list[str]:
        """Undo create() (every step that was done); returns what could not be undone."""
        problems = []
        for command in (["umount", str(self.mount_ns_file)], ["umount", str(self._ns_dir)]):
            if _mounted(Path(command[1])):
                try:
                    run(command)
                except NamespaceError as error:
                    problems.append(str(error))
        if _link_exists(self.host_link):
            try:
                run(["ip", "link", "del", self.host_link])  # its peer, in the namespace, goes with it
            except NamespaceError as error:
                problems.append(str(error))
        if self.netns_path.exists():
            try:
                run(["ip", "netns", "del", self.name])
            except NamespaceError as error:
                problems.append(str(error))
        return problems


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()
