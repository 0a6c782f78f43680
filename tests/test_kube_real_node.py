"""Real nodes of the Kubernetes test bed: kubelet + containerd in namespaces of their own.

A pod from an image imported into the node's containerd (no registry) runs to the end, its
log comes back through the apiserver, the cluster DNS answers a StatefulSet pod's name,
and stopping the test bed leaves no process, namespace, mount, cgroup or kernel setting
behind. The images are made here, small: Debian's static busybox, and the pause program
compiled from the pinned Kubernetes source (the sandbox every pod needs).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from kubetestbed import layout, leftovers, oci
from kubetestbed.controlplane import BinariesMissing, ControlPlane
from kubetestbed.kernel import read_sysctls
from kubetestbed.realnode import PAUSE_IMAGE, REAL_NODE_LABEL, REAL_NODE_VALUE, RealNode
from tests.kube_real import (
    NO_TRACES,
    assert_kernel_settings_put_back,
    kubelet_settings_in_force,
    node_traces,
)

pytestmark = [pytest.mark.kube, pytest.mark.kube_real]

BUSYBOX_IMAGE = "kafkalab.local/testbed-busybox:1"
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static
BUSYBOX_APPLETS = ("sh", "echo", "cat", "id", "sleep", "seq", "nslookup", "grep", "tail", "cut",
                   "printf", "httpd", "nc")
EPOCH = 1_700_000_000


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.5)


# --------------------------------------------------------------------------- images


def _layer(path: Path, files: dict[str, tuple[Path | bytes, int]], links: dict[str, str], dirs: tuple[str, ...]) -> Path:
    """A layer tar: `files` {name: (source file or bytes, mode)}, `links` {name: target}, `dirs`."""
    with tarfile.open(path, "w") as tar:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755, EPOCH
            tar.addfile(info)
        for name, (source, mode) in files.items():
            data = source.read_bytes() if isinstance(source, Path) else source
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, EPOCH
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, EPOCH
            tar.addfile(info)
    return path


def busybox_archive(directory: Path) -> Path:
    if not BUSYBOX.is_file():
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static", pytrace=False)
    layer = _layer(directory / "busybox-layer.tar", {"bin/busybox": (BUSYBOX, 0o755)},
                   {f"bin/{applet}": "busybox" for applet in BUSYBOX_APPLETS}, ("bin", "tmp", "etc"))
    archive = directory / "busybox.oci.tar"
    oci.write_archive(archive, name=BUSYBOX_IMAGE, layer=layer, created_epoch=EPOCH,
                      config=oci.ImageConfig(user="1000", env=("PATH=/bin",), cmd=("sh",)))
    return archive


def pause_archive(directory: Path) -> Path:
    """The pod sandbox: Kubernetes' pause.c from the pinned module, compiled static."""
    go = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True)
    source = Path(go.stdout.strip()) / f"k8s.io/kubernetes@{layout.K8S_VERSION}" / "build/pause/linux/pause.c"
    binary = directory / "pause"
    subprocess.run(["gcc", "-Os", "-static", "-o", str(binary), str(source)], check=True,
                   capture_output=True, text=True)
    layer = _layer(directory / "pause-layer.tar", {"pause": (binary, 0o755)}, {}, ())
    archive = directory / "pause.oci.tar"
    oci.write_archive(archive, name=PAUSE_IMAGE, layer=layer, created_epoch=EPOCH,
                      config=oci.ImageConfig(user="65535", entrypoint=("/pause",)))
    return archive


def import_images(node: RealNode, archives: list[Path]) -> None:
    for archive in archives:
        subprocess.run(node.ctr("image", "import", str(archive)), check=True, capture_output=True, text=True)


# --------------------------------------------------------------------------- fixtures


def start_bed(workdir: Path, **kwargs) -> ControlPlane:
    plane = ControlPlane(workdir=workdir, **kwargs)
    try:
        plane.start()
    except BinariesMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    return plane


@pytest.fixture(scope="module")
def image_archives(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("images")
    return [pause_archive(directory), busybox_archive(directory)]


@pytest.fixture(scope="module")
def real_bed(tmp_path_factory: pytest.TempPathFactory, image_archives: list[Path]) -> Iterator[ControlPlane]:
    """A control plane with two real nodes (no kwok node: tests/test_kube_testbed.py has those),
    the test images imported."""
    plane = start_bed(tmp_path_factory.mktemp("kube-real"), nodes=0, real_nodes=2)
    try:
        for node in plane.real_nodes:
            import_images(node, image_archives)
        yield plane
    finally:
        plane.stop()
    assert plane.cleanup_problems == []  # the plain stop() path (the SIGTERM test checks what is left)


@pytest.fixture
def api(real_bed: ControlPlane) -> Iterator[client.ApiClient]:
    with real_bed.api_client() as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    wait_until(lambda: bool(core.list_namespaced_service_account(name).items), f"service account in {name}")
    yield name
    try:
        core.delete_namespace(name)
    except ApiException:
        pass


def restricted_container(name: str, command: list[str]) -> dict:
    """uid 1000, no privilege, every capability dropped, requests = limits (Guaranteed)."""
    resources = {"cpu": "100m", "memory": "32Mi"}
    return {
        "name": name, "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never", "command": command,
        "resources": {"requests": resources, "limits": resources},
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False, "privileged": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    }


def real_node_pod(name: str, command: list[str], **spec) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"restartPolicy": "Never", "nodeSelector": {REAL_NODE_LABEL: REAL_NODE_VALUE},
                 "securityContext": {"runAsUser": 1000, "fsGroup": 1000},
                 "containers": [restricted_container("main", command)], **spec},
    }


def pod_phase(core: client.CoreV1Api, namespace: str, name: str) -> str:
    return core.read_namespaced_pod(name, namespace).status.phase or ""


# --------------------------------------------------------------------------- cleanup
# First in the file: while another test bed's kubelet runs (the module's real_bed), the
# kernel settings are already rewritten and restoring them could not be seen.


def test_sigterm_to_the_owner_leaves_no_process_mount_netns_cgroup_or_kernel_setting(
        tmp_path: Path, image_archives: list[Path]):
    """A test bed whose real node runs a pod is stopped by SIGTERM to its owner: everything goes."""
    workdir = tmp_path / "kube"
    before = read_sysctls()
    owner = subprocess.Popen(
        [sys.executable, "-c", (
            "import json, subprocess, sys, time\n"
            "from pathlib import Path\n"
            "from kubernetes import client\n"
            "from kubetestbed.controlplane import ControlPlane\n"
            f"archives = {[str(a) for a in image_archives]!r}\n"
            f"pod = json.loads({json.dumps(json.dumps(real_node_pod('sleeper', ['sleep', '3600'])))})\n"
            f"with ControlPlane(nodes=0, real_nodes=1, workdir=Path({str(workdir)!r})) as plane:\n"
            "    node = plane.real_nodes[0]\n"
            "    for archive in archives:\n"
            "        subprocess.run(node.ctr('image', 'import', archive), check=True, capture_output=True)\n"
            "    core = client.CoreV1Api(plane.api_client())\n"
            "    core.create_namespaced_pod('default', pod)\n"
            "    for _ in range(240):\n"
            "        if core.read_namespaced_pod('sleeper', 'default').status.phase == 'Running':\n"
            "            break\n"
            "        time.sleep(0.5)\n"
            "    print(json.dumps({'phase': core.read_namespaced_pod('sleeper', 'default').status.phase,\n"
            "                      'name': node.namespaces.name, 'links': [node.namespaces.bridge.name,\n"
            "                                                             node.namespaces.host_link]}), flush=True)\n"
            "    time.sleep(300)\n"
        )],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
    )
    try:
        line = owner.stdout.readline()
        assert line, "the owner ended before its node was up"
        started = json.loads(line)
        assert started["phase"] == "Running"
        during = node_traces(workdir, [started["name"]])
        assert all(during.values()), during  # it was all there
        if not kubelet_settings_in_force(before):  # else another test bed's kubelet runs on the machine
            assert kubelet_settings_in_force(read_sysctls())  # ours rewrote them: the check below means something
    finally:
        owner.send_signal(signal.SIGTERM)
        owner.wait(timeout=120)
    assert node_traces(workdir, [started["name"]]) == NO_TRACES
    assert_kernel_settings_put_back(before)
    assert not [link for link in started["links"] if link in os.listdir("/sys/class/net")]  # bridge, veth


def test_a_node_whose_owner_was_killed_is_removed_by_the_next_sweep(tmp_path: Path):
    """SIGKILL leaves no chance to clean up: kubelet, containerd and the namespaces outlive
    the owner. The next test bed's start (leftovers.sweep) removes them all. (The orphaned
    control plane is this test's to stop: the sweep is about nodes.)"""
    workdir = tmp_path / "kube"
    before = read_sysctls()
    owner = subprocess.Popen(
        [sys.executable, "-c", (
            "import time\n"
            "from pathlib import Path\n"
            "from kubetestbed.controlplane import ControlPlane\n"
            f"plane = ControlPlane(nodes=0, real_nodes=1, workdir=Path({str(workdir)!r})).start()\n"
            "print(plane.real_nodes[0].namespaces.name, flush=True)\n"
            "time.sleep(300)\n"
        )],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
    )
    try:
        name = owner.stdout.readline().strip()
        assert name, "the owner ended before its node was up"
    finally:
        owner.kill()
        owner.wait(timeout=30)
    try:
        nodes_dir = workdir / "nodes"
        left = node_traces(nodes_dir, [name])
        assert left["processes"] and left["netns"] and left["cgroups"], left  # the kill did leave them
        assert leftovers.sweep() == []
        assert node_traces(nodes_dir, [name]) == NO_TRACES
        assert_kernel_settings_put_back(before)
    finally:
        for process in psutil.process_iter(["cmdline"]):
            if any(str(workdir) in arg for arg in process.info["cmdline"] or []):
                process.kill()


# --------------------------------------------------------------------------- tests


def test_the_real_nodes_are_ready_labelled_and_reachable_only_in_their_namespaces(real_bed: ControlPlane,
                                                                                  api: client.ApiClient):
    for node in real_bed.real_nodes:
        node_obj = client.CoreV1Api(api).read_node(node.name)
        assert {c.type: c.status for c in node_obj.status.conditions}["Ready"] == "True"
        assert node_obj.metadata.labels[REAL_NODE_LABEL] == REAL_NODE_VALUE
        internal = [a.address for a in node_obj.status.addresses if a.type == "InternalIP"]
        assert internal == [node.node_ip] and not internal[0].startswith("127.")
        assert node_obj.status.node_info.kubelet_version == layout.K8S_VERSION
    # Nothing of the node listens in the host's namespace: its ports are in its own.
    node = real_bed.real_nodes[0]
    host_listeners = {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("inet")
                      if c.status == psutil.CONN_LISTEN}
    assert (node.node_ip, 10250) not in host_listeners
    inside = subprocess.run([*node.command_prefix(), "ss", "-Hltnu"], capture_output=True, text=True, check=True)
    local = {line.split()[4] for line in inside.stdout.splitlines()}
    assert f"{node.node_ip}:10250" in local and f"{node.node_ip}:53" in local
    assert all(address.startswith(("127.0.0.1:", f"{node.node_ip}:")) for address in local), local


def test_a_guaranteed_restricted_pod_runs_to_succeeded_and_its_log_comes_back(api: client.ApiClient,
                                                                              namespace: str):
    core = client.CoreV1Api(api)
    script = "echo hello from a real pod; id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status"
    core.create_namespaced_pod(namespace, real_node_pod("hello", ["sh", "-c", script]))
    wait_until(lambda: pod_phase(core, namespace, "hello") in ("Succeeded", "Failed"), "pod hello ends", 120)
    pod = core.read_namespaced_pod("hello", namespace)
    assert pod.status.phase == "Succeeded", pod.status
    assert pod.status.qos_class == "Guaranteed"
    log = core.read_namespaced_pod_log("hello", namespace)
    lines = log.splitlines()
    assert lines[:2] == ["hello from a real pod", "1000"], log
    capabilities = dict(line.split(":\t") for line in lines[2:])
    assert set(capabilities.values()) == {"0000000000000000"}, log  # every capability dropped


def test_a_statefulset_pods_name_resolves_and_answers_from_the_other_node_and_its_namespace(
        real_bed: ControlPlane, api: client.ApiClient, namespace: str):
    """The brokers' case: a StatefulSet pod behind a headless service, reached by its DNS name
    from a pod on another real node and from a command run on that node (the flow's way)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    server_node, client_node = real_bed.real_nodes
    core.create_namespaced_service(namespace, {
        "metadata": {"name": "kafka"},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"app": "kafka"},
                 "ports": [{"name": "broker", "port": 9092}]},
    })
    serve = "echo broker kafka-0 > /srv/index.html && exec httpd -f -p 9092 -h /srv"
    template = real_node_pod("kafka", ["sh", "-c", serve], terminationGracePeriodSeconds=0,
                             volumes=[{"name": "srv", "emptyDir": {}}])
    template["spec"].pop("restartPolicy")
    template["spec"]["nodeSelector"]["kubernetes.io/hostname"] = server_node.name
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "srv", "mountPath": "/srv"}]
    apps.create_namespaced_stateful_set(namespace, {
        "metadata": {"name": "kafka"},
        "spec": {"serviceName": "kafka", "replicas": 1, "selector": {"matchLabels": {"app": "kafka"}},
                 "template": {"metadata": {"labels": {"app": "kafka"}}, "spec": template["spec"]}},
    })

    def broker_ip() -> str:
        try:
            return core.read_namespaced_pod("kafka-0", namespace).status.pod_ip or ""
        except ApiException:
            return ""

    wait_until(lambda: bool(broker_ip()), "kafka-0 has an IP", 120)
    name = f"kafka-0.kafka.{namespace}.svc.cluster.local"
    # From a pod on the other node: its resolv.conf names the cluster DNS (kubelet's clusterDNS).
    # (Debian's static busybox cannot resolve names outside nslookup, which has a resolver
    # of its own, and its wget crashes: the address nslookup found is fetched with nc.)
    fetch = (f"nslookup {name} && ip=$(nslookup {name} | grep '^Address: ' | tail -n 1 | cut -d ' ' -f 2)"
             " && for i in $(seq 40); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $ip 9092 && exit 0;"
             " sleep 0.5; done; exit 1")
    client_pod = real_node_pod("client", ["sh", "-c", fetch])
    client_pod["spec"]["nodeSelector"]["kubernetes.io/hostname"] = client_node.name
    core.create_namespaced_pod(namespace, client_pod)
    wait_until(lambda: pod_phase(core, namespace, "client") in ("Succeeded", "Failed"), "pod client ends", 120)
    log = core.read_namespaced_pod_log("client", namespace)
    assert pod_phase(core, namespace, "client") == "Succeeded", log
    assert f"Address: {broker_ip()}" in log and log.rstrip().endswith("broker kafka-0"), log
    assert core.read_namespaced_pod("kafka-0", namespace).spec.node_name == server_node.name
    # On the other node (where the flow's Kafka admin steps run): glibc's resolver, as Java's.
    on_node = subprocess.run([*client_node.command_prefix(), "getent", "hosts", name],
                             capture_output=True, text=True, check=False)
    assert on_node.stdout.split()[:2] == [broker_ip(), name], on_node
    fetch_on_node = f"import urllib.request; print(urllib.request.urlopen('http://{name}:9092/', timeout=10).read().decode())"
    fetched = subprocess.run([*client_node.command_prefix(), sys.executable, "-c", fetch_on_node],
                             capture_output=True, text=True, check=False, timeout=60)
    assert fetched.stdout.strip() == "broker kafka-0", fetched
    unknown = subprocess.run([*client_node.command_prefix(), "getent", "hosts",
                              f"kafka-9.kafka.{namespace}.svc.cluster.local"],
                             capture_output=True, text=True, check=False)
    assert unknown.returncode == 2 and unknown.stdout == ""  # a pod that does not exist: no address


def test_pods_and_the_node_reach_the_apiserver_at_the_kubernetes_service(real_bed: ControlPlane,
                                                                        api: client.ApiClient, namespace: str):
    """In-cluster clients (a flow run as a Job) use KUBERNETES_SERVICE_HOST:443 or
    kubernetes.default.svc: there is no kube-proxy, the node's DNAT leads there."""
    core = client.CoreV1Api(api)
    # busybox has no TLS: a plain HTTP request gets the apiserver's (Go's) own answer to that.
    probe = ("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT;"
             " echo; echo host=$KUBERNETES_SERVICE_HOST")
    core.create_namespaced_pod(namespace, real_node_pod("incluster", ["sh", "-c", probe]))
    wait_until(lambda: pod_phase(core, namespace, "incluster") in ("Succeeded", "Failed"), "pod incluster ends", 120)
    log = core.read_namespaced_pod_log("incluster", namespace)
    assert "Client sent an HTTP request to an HTTPS server" in log, log
    assert "host=10.96.0.1" in log, log
    # On the node, with TLS checked against the test bed's CA by the service's DNS name.
    kubeconfig = yaml.safe_load(real_bed.kubeconfig.read_text())
    user = kubeconfig["users"][0]["user"]
    ca = kubeconfig["clusters"][0]["cluster"]["certificate-authority"]
    fetch = ("import json, ssl, urllib.request\n"
             f"context = ssl.create_default_context(cafile={ca!r})\n"
             f"context.load_cert_chain({user['client-certificate']!r}, {user['client-key']!r})\n"
             "with urllib.request.urlopen('https://kubernetes.default.svc/version', context=context, timeout=10) as r:\n"
             "    print(json.load(r)['gitVersion'])\n")
    node = real_bed.real_nodes[1]
    answer = subprocess.run([*node.command_prefix(), sys.executable, "-c", fetch], capture_output=True, text=True,
                            check=False, timeout=60)
    assert answer.stdout.strip() == layout.K8S_VERSION, answer


def test_a_missing_kubelet_fails_with_the_make_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A cache holding the control plane but no kubelet (`make kube-testbed` only)."""
    built = layout.version_dir()
    cache = tmp_path / "cache"
    (cache / "kube" / layout.K8S_VERSION / "bin").mkdir(parents=True)
    for name in layout.BINARIES:
        (cache / "kube" / layout.K8S_VERSION / "bin" / name).symlink_to(built / "bin" / name)
    (cache / "kube" / layout.K8S_VERSION / "kwok").symlink_to(built / "kwok")
    monkeypatch.setenv("KAFKALAB_CACHE_DIR", str(cache))
    assert layout.missing_parts() == [] and layout.node_missing_parts() == ["kubelet"]
    with pytest.raises(BinariesMissing, match=r"missing: kubelet\).*make kube-nodes"):
        ControlPlane(nodes=0, real_nodes=1, workdir=tmp_path / "kube").start()
