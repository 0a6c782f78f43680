"""The test bed's images (kubetestbed/images.py, built by `make kube-images`, a dependency of
`make test`): OCI archives under honest local names, a Kafka image whose root file system
holds java, Kafka's jars and every script the pods call, a static pause binary, and both
imported into a containerd where a KRaft node started by the pods' own command takes records.

Missing or out-of-date archives fail these tests (never skip them) with a line naming
`make kube-images`. The containerd here is private to the test: its sockets and state are
under the test's temp dir, its CRI plugin is off (nothing listens on any port), and it runs
in a network namespace of its own, so the broker's 127.0.0.1 is the container's alone.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import struct
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.distribution import DEFAULT_KAFKA_VERSION, REQUIRED_JARS
from kafkalab.platforms.kubernetes import KubernetesCluster, loadgen_jobs
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.local import new_cluster_id
from kafkalab.spec import parse_spec
from kubetestbed import images, layout, oci

pytestmark = pytest.mark.kube

KAFKA_IMAGE = f"kafkalab.local/kafka:{DEFAULT_KAFKA_VERSION}"
PAUSE_IMAGE = f"kafkalab.local/pause:{layout.K8S_VERSION}"


@pytest.fixture(scope="module")
def archives() -> dict[str, Path]:
    found = {}
    for name in (KAFKA_IMAGE, PAUSE_IMAGE):
        try:
            found[name] = images.built_archive(name)
        except images.ImageError as error:
            pytest.fail(str(error))
    return found


def _layer(archive: Path) -> tuple[oci.Archive, dict[str, tarfile.TarInfo]]:
    meta = oci.read_archive(archive)
    with tarfile.open(archive) as outer:
        layer = outer.extractfile(meta.layer_member)
        assert layer is not None
        with tarfile.open(fileobj=layer, mode="r|") as inner:
            members = {info.name.removeprefix("."): info for info in inner}
    return meta, members


def _read_from_layer(archive: Path, path: str) -> bytes:
    meta = oci.read_archive(archive)
    with tarfile.open(archive) as outer:
        layer = outer.extractfile(meta.layer_member)
        assert layer is not None
        with tarfile.open(fileobj=layer, mode="r|") as inner:
            for info in inner:
                if info.name.removeprefix(".") == path:  # the last entry of a path wins, as on unpacking
                    found = inner.extractfile(info)
                    assert found is not None
                    data = found.read()
    return data


# --- the archives -----------------------------------------------------------------------------


def test_archives_are_oci_layouts_with_honest_names(archives):
    for name, archive in archives.items():
        meta = oci.read_archive(archive)  # checks the layout, the digests of manifest and config
        assert meta.name == name
        assert meta.config["os"] == "linux" and meta.config["architecture"] == "amd64"
        layer = meta.manifest["layers"][0]
        assert layer["mediaType"] == oci.MEDIA_LAYER
        assert meta.config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
        with tarfile.open(archive) as outer:
            blob = outer.extractfile(meta.layer_member)
            assert blob is not None
            sha = hashlib.sha256()
            while chunk := blob.read(1 << 20):
                sha.update(chunk)
        assert "sha256:" + sha.hexdigest() == layer["digest"], f"{name}: the layer is not what its manifest says"
    kafka = oci.read_archive(archives[KAFKA_IMAGE]).config
    assert kafka["config"]["User"] == f"{m.KAFKA_UID}:{m.KAFKA_UID}"
    assert kafka["config"]["Labels"]["org.opencontainers.image.version"] == DEFAULT_KAFKA_VERSION
    pause = oci.read_archive(archives[PAUSE_IMAGE]).config
    assert pause["config"]["User"] == "65535:65535" and pause["config"]["Entrypoint"] == ["/pause"]


def test_images_are_built_once_per_content_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKALAB_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(images.ImageError, match=rf"image {re.escape(PAUSE_IMAGE)} is not built: run `make kube-images`"):
        images.built_archive(PAUSE_IMAGE)
    first = images.build(images.pause_recipe(), on_progress=lambda _: None)
    written = first.stat().st_mtime_ns
    assert images.build(images.pause_recipe(), on_progress=lambda _: None) == first  # same inputs: nothing to do
    assert first.stat().st_mtime_ns == written and images.built_archive(PAUSE_IMAGE) == first

    script = tmp_path / "start.sh"
    script.write_text("#!/bin/sh\necho one\n")
    def probe() -> images.Recipe:  # as `make kube-images` makes its recipes: afresh on every run
        return images.Recipe("kafkalab.local/probe:1", (images.Entry("/start.sh", 0o755, source=script),),
                             oci.ImageConfig(user="1000:1000"))

    one = images.build(probe(), on_progress=lambda _: None)
    assert images.build(probe(), on_progress=lambda _: None) == one
    script.write_text("#!/bin/sh\necho two\n")  # changed input: a new archive, the old one removed
    two = images.build(probe(), on_progress=lambda _: None)
    assert two != one and two.exists() and not one.exists()
    assert oci.read_archive(two).name == "kafkalab.local/probe:1"

    first.rename(first.with_name("pause-v1.37.2-0123456789abcdef.oci.tar"))  # what an older pause.c left
    with pytest.raises(images.ImageError, match=r"is out of date \(its inputs changed\): run `make kube-images`"):
        images.built_archive(PAUSE_IMAGE)


def test_cluster_kubernetes_image_selects_the_image_default_the_local_one(tmp_path):
    def pods_image(kubernetes: dict) -> tuple[str, str]:
        spec = parse_spec({"name": "img", "platform": "kubernetes", "producer": {"num_records": 10},
                           "cluster": {"kubernetes": kubernetes}})
        cluster = KubernetesCluster(None, tmp_path, BrokerSettings(), spec.cluster.kubernetes, name="img",
                                    api=k8s.ApiClient())  # builds objects only: no API call
        res = m.NodeResources(cpu="1", memory="512Mi", heap_mb=256, storage="ephemeral")
        container = m.node_stateful_set(cluster.layout, "broker", 1, res).spec.template.spec.containers[0]
        return container.image, container.image_pull_policy

    assert pods_image({}) == (KAFKA_IMAGE, "Never")  # no registry serves kafkalab.local
    assert pods_image({"image": "registry.example/kafkalab/kafka:4.4.0"}) == (
        "registry.example/kafkalab/kafka:4.4.0", "IfNotPresent")
    assert pods_image({"image": "registry.example/k:1", "image_pull_policy": "Always"}) == ("registry.example/k:1", "Always")


def test_kafka_image_holds_java_the_jars_and_every_script_the_pods_call(archives):
    archive = archives[KAFKA_IMAGE]
    _, members = _layer(archive)
    java = members["/usr/lib/jvm/java-17-openjdk-amd64/bin/java"]
    assert java.isfile() and java.mode & 0o111
    jars = [p.rsplit("/", 1)[1] for p in members if p.startswith("/opt/kafka/libs/") and p.endswith(".jar")]
    for required in REQUIRED_JARS:
        assert f"{required}-{DEFAULT_KAFKA_VERSION}.jar" in jars, f"{required} jar missing from the image"
    assert "/opt/kafkalab/lib/kafkalab-loadgen.jar" in members
    assert "/opt/kafkalab/classes/StartBarrier.class" in members
    called = {m.PRODUCER_TOOL, m.CONSUMER_TOOL, loadgen_jobs.LOADGEN_TOOL,
              *re.findall(r"/opt/kafka/bin/\S+\.sh", m.NODE_SCRIPT)}
    assert len(called) >= 5
    shipped = {f"/opt/kafka/bin/{p.name}" for p in (images.SCRIPTS_DIR / "bin").iterdir()}
    shipped |= {f"/opt/kafkalab/bin/{p.name}" for p in (images.SCRIPTS_DIR / "kafkalab-bin").iterdir()}
    assert called <= shipped
    for path in shipped:
        assert members[path].isfile() and members[path].mode == 0o755, path
    data = members[m.DATA_DIR]
    assert data.isdir() and (data.uid, data.gid) == (m.KAFKA_UID, m.KAFKA_UID)
    passwd = _read_from_layer(archive, "/etc/passwd").decode()
    assert re.search(rf"^kafka:x:{m.KAFKA_UID}:{m.KAFKA_UID}:", passwd, re.MULTILINE)


def test_pause_is_a_static_binary(archives):
    binary = _read_from_layer(archives[PAUSE_IMAGE], "/pause")
    assert binary[:4] == b"\x7fELF"
    # A static executable has no PT_INTERP (3) program header naming a dynamic loader.
    phoff, = struct.unpack_from("<Q", binary, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", binary, 0x36)
    types = [struct.unpack_from("<I", binary, phoff + i * phentsize)[0] for i in range(phnum)]
    assert types and 3 not in types


# --- in a containerd --------------------------------------------------------------------------


class PrivateContainerd:
    """containerd with its state, root and sockets under `base`, CRI off, in network and mount
    namespaces of its own: containerd 1.6 keeps shim sockets, runc state and stdio FIFOs under
    /run/containerd whatever its config says, so its /run is a tmpfs of its own, and `ctr`
    runs in the same namespaces (nsenter)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.address = str(base / "c.sock")
        base.mkdir(parents=True, exist_ok=True)
        config = base / "config.toml"
        config.write_text(f"""version = 2
root = "{base / 'root'}"
state = "{base / 'state'}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{self.address}"
[ttrpc]
  address = "{self.address}.ttrpc"
""")
        self.log = open(base / "containerd.log", "w")  # noqa: SIM115 (closed in stop)
        # unshare without --fork, then sh's exec: the pid is containerd's own.
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o mode=0755 tmpfs /run && exec containerd --config "$0"', str(config)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self._serving():
            assert self.proc.poll() is None, (base / "containerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "containerd did not start within 60 s"
            time.sleep(0.2)

    def _serving(self) -> bool:
        return Path(self.address).exists() and self.ctr("version", check=False).returncode == 0

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        inside = ["nsenter", f"--target={self.proc.pid}", "--mount", "--net"]
        proc = subprocess.run([*inside, "ctr", "--address", self.address, "--namespace", "k8s.io", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert proc.returncode == 0, f"ctr {' '.join(args)}: {proc.stderr.strip()[-1000:]}"
        return proc

    def remove(self, container: str) -> None:
        self.ctr("task", "kill", "--signal", "SIGKILL", container, check=False)
        deadline = time.monotonic() + 30
        while container in self.ctr("task", "ls", "--quiet", check=False).stdout.split():
            if self.ctr("task", "delete", container, check=False).returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # the kill takes a moment
        self.ctr("container", "delete", container, check=False)

    def stop(self) -> None:
        for line in self.ctr("task", "ls", "--quiet", check=False).stdout.split():
            self.remove(line)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture
def containerd(tmp_path) -> Iterator[PrivateContainerd]:
    for tool in ("containerd", "ctr", "unshare", "nsenter"):
        assert shutil.which(tool), f"{tool} is missing: run `make kube-images` (installs Debian's containerd)"
    daemon = PrivateContainerd(tmp_path / "containerd")
    try:
        yield daemon
    finally:
        daemon.stop()
        mounts = Path("/proc/mounts").read_text()
        shutil.rmtree(daemon.base, ignore_errors=True)  # 800 MB of content and snapshots
        assert str(daemon.base) not in mounts, "a snapshot of the test's containerd is still mounted"


# A one-node cluster (KRaft combined mode) on the container's own loopback; the pods' node
# command appends node.id, log.dirs and the advertised pod name to it.
COMBINED_NODE = """process.roles=broker,controller
controller.quorum.voters=0@127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
"""
NAMESPACE = "kafkalab-images-test"
POD = "kafka-broker-0"
ADVERTISED = f"{POD}.kafka-broker.{NAMESPACE}.svc"
RECORDS = 2000


@pytest.mark.kube_real
@pytest.mark.kafka
def test_images_import_into_containerd_and_a_kraft_node_starts_from_the_pods_command(archives, containerd, tmp_path):
    for name, archive in archives.items():
        assert images.import_image(archive, containerd.address) == name
    assert {KAFKA_IMAGE, PAUSE_IMAGE} <= images.images_in(containerd.address)
    with pytest.raises(images.ImageError, match=r"image kafkalab.local/kafka:9.9.9 is not on node n1: .*make kube-images"):
        images.require_image(containerd.address, "kafkalab.local/kafka:9.9.9", node="n1")

    pause = containerd.ctr("run", "--rm", PAUSE_IMAGE, "pause-version", "/pause", "-v", timeout=60)
    assert f"pause.c {layout.K8S_VERSION}" in pause.stdout

    config_dir = tmp_path / "etc-kafkalab"
    config_dir.mkdir()
    (config_dir / "broker.properties").write_text(COMBINED_NODE)
    hosts = tmp_path / "hosts"  # what kubelet writes into a pod, plus the pod's DNS name
    hosts.write_text(f"127.0.0.1 localhost {socket.gethostname()} {ADVERTISED}\n")
    log = tmp_path / "node.log"
    env = {"HOSTNAME": POD, "KAFKALAB_ROLE": "broker", "KAFKALAB_NODE_ID_BASE": "0",
           "KAFKALAB_CLUSTER_ID": new_cluster_id(), "KAFKALAB_SERVICE": "kafka-broker", "KAFKALAB_PORT": "9092",
           "KAFKALAB_DATA_DIR": m.DATA_DIR, "POD_NAMESPACE": NAMESPACE, "KAFKA_HEAP_OPTS": "-Xms256m -Xmx256m"}
    containerd.ctr(
        "run", "--detach", "--log-uri", f"file://{log}", "--memory-limit", str(768 << 20),
        "--mount", f"type=bind,src={config_dir},dst={m.CONFIG_DIR},options=rbind:ro",
        "--mount", f"type=bind,src={hosts},dst=/etc/hosts,options=rbind:ro",
        *[arg for key, value in env.items() for arg in ("--env", f"{key}={value}")],
        KAFKA_IMAGE, "node", "/bin/sh", "-c", m.NODE_SCRIPT,
    )
    try:
        deadline = time.monotonic() + 180
        while "Kafka Server started" not in (log.read_text() if log.exists() else ""):
            tasks = containerd.ctr("task", "ls", check=False).stdout
            assert "RUNNING" in tasks, f"the node exited: {log.read_text()[-2000:] if log.exists() else tasks}"
            assert time.monotonic() < deadline, f"no KRaft node within 180 s: {log.read_text()[-2000:]}"
            time.sleep(1)
        assert f"kafkalab: broker node.id=0 on {POD}" in log.read_text()

        produced = containerd.ctr(
            "task", "exec", "--exec-id", "producer", "node", m.PRODUCER_TOOL, "--topic", "images-test",
            "--num-records", str(RECORDS), "--record-size", "100", "--throughput", "-1",
            "--producer-props", f"bootstrap.servers={ADVERTISED}:9092", "acks=all", timeout=180)
        assert f"{RECORDS} records sent" in produced.stdout, produced.stdout[-2000:] + produced.stderr[-2000:]
        offsets = containerd.ctr("task", "exec", "--exec-id", "offsets", "node", "/opt/kafka/bin/kafka-get-offsets.sh",
                                 "--bootstrap-server", "127.0.0.1:9092", "--topic", "images-test", timeout=120)
        assert f"images-test:0:{RECORDS}" in offsets.stdout.split()
    finally:
        containerd.remove("node")
