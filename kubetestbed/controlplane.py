"""A real Kubernetes control plane on 127.0.0.1 with kwok's fake nodes, for tests and benchmarks.

    with ControlPlane(nodes=3) as cp:
        api = cp.api_client()                     # kubernetes.client.ApiClient, admin
        cp.serve_logs("ns", "producer-", Path("producer.out"), termination_message="...")
        ...                                       # or: KUBECONFIG=cp.kubeconfig kubectl ...

Started, each with kernel-chosen free ports and everything in one fresh temp dir: etcd
(Debian's), kube-apiserver (client-cert auth, Node,RBAC authorization, its own CA),
kube-controller-manager (service-account tokens, statefulset/job/namespace/GC controllers,
...), kube-scheduler, and kwok, which plays the kubelet of every node annotated
kwok.x-k8s.io/node=fake: it marks them Ready, runs their pods (Running, Ready) without
containers, ends the pods of Jobs (see feeder.py) and serves their fed logs.

With `real_nodes=N` it also starts N real nodes (realnode.py: kubelet + containerd in
network and mount namespaces of their own, labelled kafkalab.dev/node=real, with the
cluster DNS), beside the kwok nodes:

    with ControlPlane(nodes=3, real_nodes=1) as cp:
        node = cp.real_nodes[0]
        subprocess.run([*node.ctr("image", "import", "image.tar")])   # images, no registry
        subprocess.run([*node.command_prefix(), "getent", "hosts", "kafka-0.kafka.ns.svc.cluster.local"])

stop() (also on errors during start, at interpreter exit and on SIGTERM via
kafkalab.processes) stops every process it started, removes the real nodes' namespaces,
mounts and cgroups, and puts back the kernel settings their kubelets changed.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from kafkalab.core import processes
from kafkalab.core.net import free_port
from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import wait_until
from kubetestbed import certs, images, layout, leftovers
from kubetestbed.feeder import OutputFeeder
from kubetestbed.kernel import KernelSettings
from kubetestbed.netns import TestbedBridge
from kubetestbed.realnode import CONTAINERD_NAMESPACE, RealNode
from kubetestbed.signals import held_signals

FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
FAKE_NODE_VALUE = "fake"
LOCALHOST = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/16"  # only allocated from, never routed: nothing listens there
# The `kubernetes` service's IP (the range's first): on real nodes it leads to the apiserver.
KUBERNETES_SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
OWN_STAGES = Path(__file__).resolve().parent / "stages"


class BinariesMissing(RuntimeError):
    """The binaries are not built yet."""


class ControlPlaneError(RuntimeError):
    """A component did not come up (the message names it and ends with its log's tail)."""



def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ControlPlane:
    def __init__(self, nodes: int = 3, *, real_nodes: int = 0, node_prefix: str = "kwok-node",
                 real_node_prefix: str = "real-node", workdir: Path | None = None,
                 timeout_s: float = 180.0, version: str = layout.K8S_VERSION,
                 node_images: Sequence[Path] = ()) -> None:
        """`workdir`: where certs, data and logs go (kept); default a temp dir removed by stop().
        `real_nodes`: how many real nodes (kubelet + containerd) to start besides the kwok ones.
        `node_images`: OCI archives (kubetestbed/images.py built_archive) imported into every real
        node as it comes up, before any pod can need them (the sandbox image among them)."""
        self._node_images = [Path(archive) for archive in node_images]
        self.version = version
        self.timeout_s = timeout_s
        self._initial_nodes = nodes
        self._node_prefix = node_prefix
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kafkalab-kube-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.workdir / "admin.kubeconfig"
        self.ports: dict[str, int] = {}
        self.processes: list[ManagedProcess] = []
        self.node_names: list[str] = []
        self._api: client.ApiClient | None = None
        self._feeder: OutputFeeder | None = None
        self._real_node_count = real_nodes
        self._real_node_prefix = real_node_prefix
        self.real_nodes: list[RealNode] = []
        self._bridge: TestbedBridge | None = None  # the real nodes' links meet there
        self._own_node_ids: set[str] = set()  # system names (netns, cgroup) of our real nodes
        self.kernel: KernelSettings | None = None  # recorded before the first kubelet starts
        # What stopping the real nodes could not remove (empty after a clean stop).
        self.cleanup_problems: list[str] = []
        self._pki: certs.Pki | None = None
        self._stopped = False
        self._started_at = 0.0
        # Seconds from start() at which each readiness check passed ("kube-apiserver: /readyz": 7.9).
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ public API

    @property
    def server(self) -> str:
        return f"https://{LOCALHOST}:{self.ports['apiserver']}"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> ControlPlane:
        missing = layout.missing_parts(self.version)
        if missing:
            raise BinariesMissing(f"Kubernetes test bed {self.version} is not built (missing: {', '.join(missing)}): "
                                 f"{layout.BUILD_HINT}")
        node_missing = layout.node_missing_parts(self.version) if self._real_node_count else []
        if node_missing:
            raise BinariesMissing(f"real nodes of the Kubernetes test bed {self.version} are not built "
                                  f"(missing: {', '.join(node_missing)}): {layout.NODE_BUILD_HINT}")
        if self._real_node_count and os.geteuid() != 0:
            raise BinariesMissing("real nodes need root (network namespaces, mounts, cgroups): run the tests as root")
        processes.install_signal_handlers()  # SIGTERM -> KeyboardInterrupt -> our stop() runs
        self._started_at = time.monotonic()
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def api_client(self) -> client.ApiClient:
        """A new admin ApiClient (system:masters) for this control plane."""
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def add_nodes(self, count: int, prefix: str | None = None, *, cpu: str = "32", memory: str = "256Gi",
                  pods: str = "110", wait: bool = True) -> list[str]:
        """Create `count` fake nodes (named `<prefix>-<n>`, numbering on from existing ones) and
        wait until they are Ready. kwok plays their kubelet."""
        prefix = prefix or self._node_prefix
        core = client.CoreV1Api(self._admin())
        existing = {n.metadata.name for n in core.list_node().items}
        names, index = [], 0
        while len(names) < count:
            name = f"{prefix}-{index}"
            index += 1
            if name in existing:
                continue
            core.create_node(self._fake_node(name, cpu=cpu, memory=memory, pods=pods))
            names.append(name)
        self.node_names += names
        if wait:
            self._wait("kwok", f"nodes {', '.join(names)} Ready", lambda: self._nodes_ready(names))
        return names

    def serve_logs(self, namespace: str, pod_name_prefix: str, log_file: Path | None, *,
                   termination_message: str | None = None, exit_code: int = 0) -> None:
        """Pods in `namespace` whose name starts with `pod_name_prefix` (created from now on)
        print `log_file`'s lines (pods/log through the API); pods of Jobs among them end
        with `exit_code` (0 Succeeded, else Failed) and `termination_message` (kept to its
        last 4096 characters, like the kubelet). The newest matching call wins."""
        assert self._feeder is not None, "start() the control plane first"
        self._feeder.add(namespace, pod_name_prefix, log_file,
                         termination_message=termination_message, exit_code=exit_code)

    def stop(self) -> None:
        """Stop every process this control plane started (idempotent; raises only a Ctrl-C that came meanwhile)."""
        # A SIGTERM or Ctrl-C during cleanup waits for its end (else it would leave a real
        # node's namespaces and containers behind), then raises.
        with held_signals():
            self._stop_everything()

    def _stop_everything(self) -> None:
        if self._feeder is not None:
            self._feeder.stop()
        interrupted: BaseException | None = None
        # Real nodes first (their kubelets would otherwise report to a dying apiserver), then
        # the kernel settings their kubelets rewrote.
        for node in reversed(self.real_nodes):
            try:
                self.cleanup_problems += node.stop()
            except BaseException as error:  # noqa: BLE001 - the other nodes and the kernel must still be put back
                interrupted = interrupted or error
        self.real_nodes = []
        if self._bridge is not None:
            self.cleanup_problems += self._bridge.remove()
            self._bridge = None
        if self.kernel is not None:
            self.kernel.restore()
        # Newest first: kwok and the controllers go before the apiserver, etcd last.
        for proc in reversed(self.processes):
            try:
                proc.stop(grace_s=5)
            except BaseException as error:  # noqa: BLE001 - a second Ctrl-C must not leave the rest running
                interrupted = interrupted or error
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._own_workdir and not self._stopped:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self._stopped = True
        if isinstance(interrupted, KeyboardInterrupt):
            raise interrupted

    def log_path(self, component: str) -> Path:
        return self.workdir / "logs" / f"{component}.log"

    def _other_test_beds_run_kubelets(self) -> bool:
        return any(record.system_name not in self._own_node_ids for record in leftovers.live_nodes())

    # ------------------------------------------------------------------ start-up

    def _start_all(self) -> None:
        bin_dir = layout.bin_dir(self.version)
        pki = self._pki = certs.make_pki(self.workdir / "pki", apiserver_ips=(KUBERNETES_SERVICE_IP,))
        for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok"):
            self.ports[name] = free_port()
        self._write_kubeconfig(pki)

        self._start_etcd()
        self._wait("etcd", "/health", lambda: self._http_ok(f"http://{LOCALHOST}:{self.ports['etcd']}/health"))
        self._start_apiserver(bin_dir, pki)
        api_context = self._admin_ssl_context(pki)
        self._wait("kube-apiserver", "/readyz", lambda: self._http_ok(f"{self.server}/readyz", api_context))
        self._start_controller_manager(bin_dir, pki)
        self._start_scheduler(bin_dir)
        self._install_kwok_logs_crd()  # before kwok, which watches Logs objects from its start
        self._start_kwok(bin_dir, pki)
        unverified = ssl._create_unverified_context()  # their serving certs are self-signed, made at start
        self._wait("kube-controller-manager", "/healthz",
                   lambda: self._http_ok(f"https://{LOCALHOST}:{self.ports['controller-manager']}/healthz", unverified))
        self._wait("kube-scheduler", "/healthz",
                   lambda: self._http_ok(f"https://{LOCALHOST}:{self.ports['scheduler']}/healthz", unverified))
        self._wait("kwok", "/healthz", lambda: self._http_ok(f"http://{LOCALHOST}:{self.ports['kwok']}/healthz"))
        self._feeder = OutputFeeder(self.api_client(), self.workdir / "fed-logs")
        self._feeder.start()
        # The nodes come up while the controller-manager makes the service accounts.
        names = self.add_nodes(self._initial_nodes, wait=False) if self._initial_nodes else []
        self._wait("kube-controller-manager", "the default service account", self._default_service_account_exists)
        if names:
            self._wait("kwok", f"nodes {', '.join(names)} Ready", lambda: self._nodes_ready(names))
        if self._real_node_count:
            self.add_real_nodes(self._real_node_count)

    def add_real_nodes(self, count: int) -> list[RealNode]:
        """Start `count` real nodes (named `<real_node_prefix>-<n>`) and wait until they are Ready."""
        assert self._pki is not None, "start() the control plane first"
        if self.kernel is None:
            # Nodes of dead owners first: their kubelets' settings must not be what is recorded.
            self.cleanup_problems += leftovers.sweep()
            # Before any kubelet of ours rewrites them (or as the first live test bed found them).
            self.kernel = KernelSettings(leftovers.sysctls_before_any_kubelet(),
                                         others_running=self._other_test_beds_run_kubelets)
        if self._bridge is None:
            bridge = TestbedBridge(_free_bridge_index())
            bridge.create()
            self._bridge = bridge
        started = []
        for _ in range(count):
            ordinal = len(self.real_nodes)
            name = f"{self._real_node_prefix}-{ordinal}"
            node = RealNode(name, ordinal, self.workdir / "nodes" / name, bridge=self._bridge,
                            server_port=self.ports["apiserver"], pki=self._pki, api=self.api_client(),
                            version=self.version, timeout_s=self.timeout_s, sysctls_before=self.kernel.recorded,
                            kubernetes_service_ip=KUBERNETES_SERVICE_IP)
            self.real_nodes.append(node)  # before start(): stop() removes whatever start() got to
            self._own_node_ids.add(node.cgroups.name)
            started_at = time.monotonic()
            node.start()
            for archive in self._node_images:
                images.import_image(archive, node.containerd_socket, CONTAINERD_NAMESPACE)
            for other in self.real_nodes[:-1]:  # pods of every node reach pods of every other
                node.route_to(other)
                other.route_to(node)
            self.node_names.append(name)
            started.append(node)
            self.timings[f"real node {name}: Ready"] = round(time.monotonic() - started_at, 2)
        return started

    def _spawn(self, component: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.processes.append(ManagedProcess(component, command, self.log_path(component), cwd=self.workdir,
                                             env={**os.environ, **env} if env else None))

    def _start_etcd(self) -> None:
        client_url = f"http://{LOCALHOST}:{self.ports['etcd']}"
        peer_url = f"http://{LOCALHOST}:{self.ports['etcd-peer']}"
        self._spawn("etcd", [
            str(layout.etcd_binary()), "--name=testbed", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=testbed={peer_url}", "--initial-cluster-state=new",
        ])

    def _start_apiserver(self, bin_dir: Path, pki: certs.Pki) -> None:
        self._spawn("kube-apiserver", [
            str(bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://{LOCALHOST}:{self.ports['etcd']}",
            f"--bind-address={LOCALHOST}", f"--advertise-address={LOCALHOST}",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki.apiserver_cert}", f"--tls-private-key-file={pki.apiserver_key}",
            f"--client-ca-file={pki.ca_cert}",
            # Published for the controller-manager's and scheduler's delegated authentication
            # (without it they log an error for every request to their /healthz).
            f"--requestheader-client-ca-file={pki.ca_cert}",
            "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-allowed-names=front-proxy-client",  # no cert of ours: nobody may use the headers
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Pod logs: the apiserver calls the node's "kubelet" (kwok) at its InternalIP
            # (node names do not resolve) and checks kwok's cert against our CA.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={pki.ca_cert}",
            f"--kubelet-client-certificate={pki.admin_cert}", f"--kubelet-client-key={pki.admin_key}",
            # The endpoint reconciler refuses a loopback address for the `kubernetes` service.
            "--endpoint-reconciler-type=none",
            # With WatchList on, a watch from resourceVersion 0 (kwok's) is turned into a
            # watch-list stream, which Debian's etcd 3.4 cannot serve (no RequestWatchProgress):
            # every watch would fail and kwok would only see changes at relists, backing off
            # to 30 s. Off, watches are plain and pods change state at once.
            "--feature-gates=WatchList=false",
            "--allow-privileged=true",
            "--profiling=false",
        ])

    def _start_controller_manager(self, bin_dir: Path, pki: certs.Pki) -> None:
        self._spawn("kube-controller-manager", [
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}", f"--authorization-kubeconfig={self.kubeconfig}",
            f"--bind-address={LOCALHOST}", f"--secure-port={self.ports['controller-manager']}",
            f"--cert-dir={self.workdir / 'controller-manager-certs'}",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={pki.ca_cert}", f"--cluster-signing-key-file={pki.ca_key}",
            "--controllers=*",  # the default set: deployment, statefulset, job, namespace, garbagecollector, ...
            "--leader-elect=false",  # one instance; no lease round-trip at start
            # Every controller gets its own service account and token at start: the default
            # client rate (20/s) makes that seconds of throttling on an otherwise idle apiserver.
            "--kube-api-qps=200", "--kube-api-burst=400",
            "--profiling=false",
        ])

    def _start_scheduler(self, bin_dir: Path) -> None:
        self._spawn("kube-scheduler", [
            str(bin_dir / "kube-scheduler"),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}", f"--authorization-kubeconfig={self.kubeconfig}",
            f"--bind-address={LOCALHOST}", f"--secure-port={self.ports['scheduler']}",
            f"--cert-dir={self.workdir / 'scheduler-certs'}",
            "--leader-elect=false",
            "--profiling=false",
        ])

    def _start_kwok(self, bin_dir: Path, pki: certs.Pki) -> None:
        assets = layout.kwok_assets_dir(self.version)
        stage_files = [assets / Path(f).name for f in layout.KWOK_STAGE_FILES] + sorted(OWN_STAGES.glob("*.yaml"))
        self._spawn("kwok", [
            str(bin_dir / "kwok"),
            f"--kubeconfig={self.kubeconfig}",
            *[f"--config={path}" for path in stage_files],  # also keeps kwok off ~/.kwok/kwok.yaml
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}={FAKE_NODE_VALUE}",
            f"--node-ip={LOCALHOST}", f"--node-port={self.ports['kwok']}",
            f"--server-address={LOCALHOST}:{self.ports['kwok']}",
            f"--tls-cert-file={pki.kubelet_cert}", f"--tls-private-key-file={pki.kubelet_key}",
            f"--cidr={POD_CIDR}",
            "--enable-crds=Logs",  # Logs objects (created by the feeder) name each pod's log file
        ])

    def _write_kubeconfig(self, pki: certs.Pki) -> None:
        name = "kafkalab-testbed"
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": self.server, "certificate-authority": str(pki.ca_cert)}}],
            "users": [{"name": "admin", "user": {"client-certificate": str(pki.admin_cert),
                                                  "client-key": str(pki.admin_key)}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "admin"}}],
        }))

    def _install_kwok_logs_crd(self) -> None:
        crd = yaml.safe_load((layout.kwok_assets_dir(self.version) / Path(layout.KWOK_LOGS_CRD).name).read_text())
        api = client.ApiextensionsV1Api(self._admin())
        api.create_custom_resource_definition(crd)

        def established() -> bool:
            conditions = api.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        self._wait("kube-apiserver", "kwok's Logs CRD established", established)

    def _fake_node(self, name: str, *, cpu: str, memory: str, pods: str) -> dict:
        capacity = {"cpu": cpu, "memory": memory, "pods": pods}
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {FAKE_NODE_ANNOTATION: FAKE_NODE_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                           "kubernetes.io/arch": "amd64", "type": "kwok"},
            },
            "status": {
                "capacity": capacity, "allocatable": capacity,
                "addresses": [{"type": "InternalIP", "address": LOCALHOST}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.ports["kwok"]}},
            },
        }

    # ------------------------------------------------------------------ readiness

    def _admin(self) -> client.ApiClient:
        if self._api is None:
            self._api = self.api_client()
        return self._api

    def _wait(self, component: str, what: str, check: Callable[[], bool]) -> None:
        """Poll `check` until true; fail at once if any process died, or after timeout_s."""
        last_error = ""

        def ready() -> bool:
            nonlocal last_error
            for proc in self.processes:
                code = proc.poll()
                if code is not None:
                    raise ControlPlaneError(
                        f"{proc.name} exited with code {code} while waiting for {component}: {what}; "
                        f"last lines of {proc.log_path}:\n{log_tail(proc.log_path)}")
            try:
                return bool(check())
            except Exception as error:  # noqa: BLE001 - not up yet; the last error is reported on timeout
                last_error = f"last error: {type(error).__name__}: {str(error)[:300]}; "
                return False

        def shown() -> str:
            log = self.log_path(component)
            return f"{last_error}last lines of {log}:\n{log_tail(log)}"

        wait_until(ready, self.timeout_s, f"{component} ready ({what})", detail=shown, error=ControlPlaneError)
        if self._started_at:
            self.timings[f"{component}: {what}"] = round(time.monotonic() - self._started_at, 2)

    @staticmethod
    def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                return response.status == 200
        except urllib.error.HTTPError:
            return False

    @staticmethod
    def _admin_ssl_context(pki: certs.Pki) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        return context

    def _default_service_account_exists(self) -> bool:
        try:
            client.CoreV1Api(self._admin()).read_namespaced_service_account("default", "default")
            return True
        except ApiException as error:
            if error.status == 404:
                return False
            raise

    def _nodes_ready(self, names: list[str]) -> bool:
        ready = set()
        for node in client.CoreV1Api(self._admin()).list_node().items:
            if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
                ready.add(node.metadata.name)
        return set(names) <= ready


def _free_bridge_index() -> int:
    """An N whose 10.250.N.0/24 no interface of the host uses (one per test bed with real nodes)."""
    with open("/proc/net/fib_trie") as trie:
        used_text = trie.read()
    for n in range(256):
        if f"10.250.{n}." not in used_text and not Path(f"/sys/class/net/klb{n}").exists():
            return n
    raise ControlPlaneError("no free 10.250.N.0/24 for the real nodes' bridge")
