"""A real Kubernetes node in the test bed: kubelet and containerd in namespaces of their own.

    node = RealNode(name, index, workdir, server_port=..., pki=..., api=...)
    node.start()                      # node Ready, labelled kafkalab.dev/node=real
    node.containerd_socket            # `ctr --address <it> -n k8s.io image import ...`
    node.command_prefix()             # argv prefix: run a command on the node (its netns,
                                      # its mount ns, the cluster DNS in /etc/resolv.conf)
    node.stop()                       # nothing left: processes, mounts, netns, cgroups

What runs where (netns.py draws it): containerd (Debian's 1.6, runc, private root/state,
unix sockets, stream server on the namespace's 127.0.0.1), kubelet (built from the pinned
k8s.io/kubernetes; serves on the node IP inside the namespace) and the pods (CNI bridge +
host-local IPAM on 10.245.K.0/24, a bridge inside the namespace) live in the node's network
and mount namespaces; every process is in the node's cgroup subtree (cgroups.py). kubelet
reaches the apiserver through forward.py, pods through the `kubernetes` service's IP (a DNAT
rule in the namespace, another forwarder); the cluster DNS (dns.py) answers on the node IP.
Nothing listens on the host's interfaces. The nodes of a test bed share a bridge in the
host's namespace (netns.TestbedBridge), so their pods reach each other.

What this machine needs, found by trying on it: containerd's CRI
`restrict_oom_score_adj` (no CAP_SYS_RESOURCE: a negative oom_score_adj fails runc), runc
(crun refuses hybrid cgroups), kubelet `failCgroupV1: false`, a node IP that is not
loopback. kubelet rewrites global sysctls: kernel.py records and restores them (the
control plane owns that, once for all its nodes).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import yaml
from kubernetes import client

from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import wait_until
from kubetestbed import certs, images, layout, leftovers, netns
from kubetestbed.cgroups import NodeCgroups
from kubetestbed.dns import CLUSTER_DOMAIN, ClusterDns
from kubetestbed.forward import LoopbackForwarder
from kubetestbed.netns import NodeNamespaces, TestbedBridge

REAL_NODE_LABEL = "kafkalab.dev/node"
REAL_NODE_VALUE = "real"
CONTAINERD_NAMESPACE = "k8s.io"  # the CRI plugin's: images for pods are imported here
# The pod sandbox image, imported, never pulled: the one kubetestbed/images.py builds.
PAUSE_IMAGE = images.pause_image_name(layout.K8S_VERSION)


class RealNodeError(RuntimeError):
    """A part of a real node did not come up (the message names it, with its log's tail)."""


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class RealNode:
    def __init__(self, name: str, ordinal: int, workdir: Path, *, bridge: TestbedBridge, server_port: int,
                 pki: certs.Pki, api: client.ApiClient, version: str = layout.K8S_VERSION,
                 sandbox_image: str = PAUSE_IMAGE, timeout_s: float = 180.0,
                 sysctls_before: dict[str, str] | None = None, kubernetes_service_ip: str = "10.96.0.1") -> None:
        """`ordinal`: the node's number in its test bed (0..250); it picks the node's IP on
        `bridge` and its pods' subnet 10.245.<ordinal>.0/24. `sysctls_before`: the kernel
        settings before the test bed's first kubelet (kept in the node's leftover record).
        `kubernetes_service_ip`: the `kubernetes` service's cluster IP (in the apiserver's cert)."""
        self.kubernetes_service_ip = kubernetes_service_ip
        self._sysctls_before = dict(sysctls_before or {})
        self.name = name
        self.ordinal = ordinal
        self.workdir = workdir
        self.version = version
        self.sandbox_image = sandbox_image
        self.timeout_s = timeout_s
        self._server_port = server_port
        self._pki = pki
        self._api = api
        system_name = f"kafkalab-{uuid.uuid4().hex[:8]}-{ordinal}"  # netns, cgroup, runtime dir: unique
        self.namespaces = NodeNamespaces(system_name, bridge, ordinal, workdir)
        self.cgroups = NodeCgroups(system_name)
        self.pod_subnet = f"10.245.{ordinal}.0/24"
        # Unix sockets (kubelet's, containerd's) need paths under 108 bytes: a short dir
        # beside the workdir (which may be deep in pytest's tree) holds them.
        self.runtime_dir = Path(tempfile.gettempdir()) / system_name
        self.containerd_dir = workdir / "containerd"
        self.containerd_socket = self.runtime_dir / "containerd.sock"
        self.processes: list[ManagedProcess] = []
        self._forwarder: LoopbackForwarder | None = None
        self._pod_forwarder: LoopbackForwarder | None = None
        self.dns: ClusterDns | None = None

    @property
    def node_ip(self) -> str:
        return self.namespaces.node_ip

    def command_prefix(self, workdir: Path | None = None) -> list[str]:
        """argv prefix that runs a command on this node (its network and mount namespaces)."""
        return self.namespaces.command_prefix(workdir)

    def ctr(self, *args: str) -> list[str]:
        """A `ctr` command line for this node's containerd, in the CRI namespace."""
        return ["ctr", "--address", str(self.containerd_socket), "--namespace", CONTAINERD_NAMESPACE, *args]

    def route_to(self, other: RealNode) -> None:
        """Let this node's pods reach `other`'s pods (through `other`'s IP on the bridge)."""
        self.namespaces.add_route(other.pod_subnet, other.node_ip)

    def log_path(self, component: str) -> Path:
        return self.workdir / "logs" / f"{component}.log"

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        """Bring the node up; on failure the caller's stop() removes what was made."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(mode=0o700)
        # First: a node whose owner dies from here on is found and removed by leftovers.sweep().
        leftovers.write_record(self.runtime_dir, system_name=self.cgroups.name, workdir=self.workdir,
                               bridge_index=self.namespaces.bridge.index, ordinal=self.ordinal,
                               sysctls=self._sysctls_before)
        self.cgroups.create()
        self.namespaces.create(resolv_conf=self._resolv_conf())
        self._forwarder = LoopbackForwarder(self.namespaces.netns_path, self._server_port)
        self._route_kubernetes_service()
        self.dns = ClusterDns(self._api, self.namespaces.netns_path, self.node_ip)
        node_certs = certs.make_node_certs(self._pki, self.workdir / "pki", self.name, self.node_ip)
        self._write_cni_config()
        self._start_containerd()
        self._start_kubelet(node_certs)

    def _route_kubernetes_service(self) -> None:
        """Pods (and commands on the node) reach the apiserver at the `kubernetes` service's
        IP, port 443, as in-cluster clients do: there is no kube-proxy, so a DNAT rule in the
        node's namespace sends it to a forwarder on the node IP (nothing of the host's)."""
        self._pod_forwarder = LoopbackForwarder(self.namespaces.netns_path, self._server_port,
                                                listen_host=self.node_ip)
        target = f"{self.node_ip}:{self._pod_forwarder.port}"
        # The node has no default route: without one for the IP, its own connects fail
        # before the OUTPUT rule (applied after routing) can redirect them.
        netns.run(["ip", "-n", self.namespaces.name, "route", "add", f"{self.kubernetes_service_ip}/32", "dev", "eth0"])
        for chain in ("PREROUTING", "OUTPUT"):  # from pods; from the node's own processes
            netns.run(["nsenter", f"--net={self.namespaces.netns_path}", "--", "iptables", "-w", "-t", "nat",
                       "-A", chain, "-d", f"{self.kubernetes_service_ip}/32", "-p", "tcp", "--dport", "443",
                       "-j", "DNAT", "--to-destination", target])

    def _resolv_conf(self) -> str:
        return (f"nameserver {self.node_ip}\n"
                f"search svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\n"
                "options ndots:5\n")

    def _spawn(self, component: str, command: list[str]) -> ManagedProcess:
        proc = ManagedProcess(component, [*self.cgroups.join_prefix(), *self.command_prefix(self.workdir), *command],
                              self.log_path(component), cwd=self.workdir)
        self.processes.append(proc)
        return proc

    def _write_cni_config(self) -> None:
        conf_dir = self.workdir / "cni" / "net.d"
        conf_dir.mkdir(parents=True, exist_ok=True)
        gateway = self.pod_subnet.rsplit(".", 1)[0] + ".1"
        (conf_dir / "10-testbed.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "testbed",
            "plugins": [{
                "type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": self.pod_subnet, "gateway": gateway}]],
                         "routes": [{"dst": "0.0.0.0/0"}],
                         "dataDir": str(self.workdir / "cni" / "ipam")},
            }],  # (containerd sets up each pod's loopback itself)
        }, indent=2))

    def _start_containerd(self) -> None:
        directory = self.containerd_dir
        directory.mkdir(parents=True, exist_ok=True)
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""\
version = 2
root = "{directory / 'root'}"
state = "{self.runtime_dir / 'containerd-state'}"
# Snapshotters and processors this node does not use: fewer warnings, faster start.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{self.containerd_socket}"

[ttrpc]
  address = "{self.containerd_socket}.ttrpc"

[debug]
  address = "{self.runtime_dir / 'containerd-debug.sock'}"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{directory / 'opt'}"

[{cri}]
  sandbox_image = "{self.sandbox_image}"
  # No CAP_SYS_RESOURCE here: runc cannot give a container a negative oom_score_adj.
  restrict_oom_score_adj = true
  # The v2 mount has no hugetlb controller of use to kubelet's cgroup v1 manager.
  tolerate_missing_hugetlb_controller = true
  # kubelet's exec/attach/port-forward streams: the namespace's loopback only.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  # Debian's runc; crun refuses hybrid cgroups.
  BinaryName = "{shutil.which('runc')}"
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "{layout.CNI_BIN_DIR}"
  conf_dir = "{self.workdir / 'cni' / 'net.d'}"
  max_conf_num = 1
"""
        config_path = directory / "config.toml"
        config_path.write_text(config)
        self._spawn("containerd", [shutil.which("containerd") or "containerd", "--config", str(config_path)])
        self._wait("containerd", "its socket answers", self._containerd_answers)

    def _containerd_answers(self) -> bool:
        if not self.containerd_socket.exists():
            return False
        proc = subprocess.run(self.ctr("version"), capture_output=True, text=True, timeout=10, check=False)
        return proc.returncode == 0

    def _start_kubelet(self, node_certs: certs.NodeCerts) -> None:
        kubelet_dir = self.workdir / "kubelet"
        kubelet_dir.mkdir(parents=True, exist_ok=True)
        kubeconfig = kubelet_dir / "kubeconfig"
        assert self._forwarder is not None
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "node",
            "clusters": [{"name": "testbed", "cluster": {
                "server": f"https://127.0.0.1:{self._forwarder.port}",  # the forwarder, in the namespace
                "certificate-authority": str(self._pki.ca_cert)}}],
            "users": [{"name": "node", "user": {"client-certificate": str(node_certs.client_cert),
                                                 "client-key": str(node_certs.client_key)}}],
            "contexts": [{"name": "node", "context": {"cluster": "testbed", "user": "node"}}],
        }))
        host_resolv = kubelet_dir / "host-resolv.conf"  # nothing of the host's resolver reaches pods
        host_resolv.write_text("")
        config_path = kubelet_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(self._kubelet_config(node_certs, host_resolv)))
        self._spawn("kubelet", [
            str(layout.kubelet_binary(self.version)),
            f"--config={config_path}",
            f"--kubeconfig={kubeconfig}",
            f"--root-dir={self.runtime_dir / 'kubelet'}",
            f"--cert-dir={kubelet_dir / 'certs'}",
            f"--hostname-override={self.name}",
            f"--node-ip={self.node_ip}",
            f"--node-labels={REAL_NODE_LABEL}={REAL_NODE_VALUE}",
            "--v=1",
        ])
        self._wait("kubelet", f"node {self.name} Ready", self._ready)

    def _kubelet_config(self, node_certs: certs.NodeCerts, host_resolv: Path) -> dict:
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            # Served on the node IP inside the namespace; the apiserver calls it for logs/exec.
            "address": self.node_ip, "port": 10250, "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
            "tlsCertFile": str(node_certs.serving_cert), "tlsPrivateKeyFile": str(node_certs.serving_key),
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(self._pki.ca_cert)}},
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroups.root,  # every pod's cgroup under the node's subtree
            "failCgroupV1": False,  # this machine's cgroups are hybrid (v1 controllers)
            "protectKernelDefaults": False,  # else kubelet refuses to start; kernel.py restores
            "failSwapOn": False,
            "clusterDNS": [self.node_ip], "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(host_resolv),
            "podLogsDir": str(self.workdir / "pod-logs"),
            "volumePluginDir": str(self.workdir / "kubelet" / "volume-plugins"),
            "staticPodPath": "",
            "maxPods": 30,
            # A busy shared disk must not evict the test's pods or collect its imported images
            # (they cannot be pulled back).
            "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                             "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "nodeStatusUpdateFrequency": "4s", "nodeStatusReportFrequency": "10s",
            "syncFrequency": "10s",
            "shutdownGracePeriod": "0s",
            "logging": {"format": "text"},
        }

    def _ready(self) -> bool:
        try:
            node = client.CoreV1Api(self._api).read_node(self.name)
        except client.ApiException as error:
            if error.status == 404:
                return False
            raise
        return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])

    def _wait(self, component: str, what: str, check) -> None:
        last_error = ""

        def ready() -> bool:
            nonlocal last_error
            for proc in self.processes:
                code = proc.poll()
                if code is not None:
                    raise RealNodeError(f"{proc.name} of node {self.name} exited with code {code} while waiting "
                                        f"for {component}: {what}; last lines of {proc.log_path}:\n"
                                        f"{log_tail(proc.log_path)}")
            try:
                return bool(check())
            except Exception as error:  # noqa: BLE001 - not up yet; the last error is shown on timeout
                last_error = f"last error: {type(error).__name__}: {str(error)[:300]}; "
                return False

        def shown() -> str:
            log = self.log_path(component)
            return f"{last_error}last lines of {log}:\n{log_tail(log)}"

        wait_until(ready, self.timeout_s, f"node {self.name}: {component} ready ({what})", detail=shown,
                   error=RealNodeError)

    # ------------------------------------------------------------------ stop

    def stop(self) -> list[str]:
        """Remove everything start() made, whatever state it got to (idempotent). Returns
        what could not be removed (empty when the node left nothing behind)."""
        problems: list[str] = []
        # kubelet first (it would restart containers), then containerd, then whatever is
        # left in the node's cgroups: shims and containers, which no process group holds.
        for proc in reversed(self.processes):
            try:
                proc.stop(grace_s=5)
            except Exception as error:  # noqa: BLE001 - the rest must still go
                problems.append(f"stopping {proc.name}: {error}")
        for service in (self.dns, self._forwarder, self._pod_forwarder):
            if service is not None:
                service.stop()
        self.dns = self._forwarder = self._pod_forwarder = None
        self._api.close()
        return problems + leftovers.remove_node(self.cgroups.name, self.namespaces, self.runtime_dir)
