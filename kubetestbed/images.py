"""The test bed's container images, built on this machine without a registry:
`python -m kubetestbed.images` (or `make kube-images`).

- kafkalab.local/kafka:<kafka version>: a Debian root file system with a headless JRE
  (mmdebstrap), Kafka's jars from kafkalab's Maven cache, kafkalab's load generator, start
  barrier and LoopbackJmx (the brokers' JMX on the pod's 127.0.0.1), and the start scripts of docker/kafka/ at apache/kafka's paths (/opt/kafka/bin),
  which the pods' commands call (kafkalab/platforms/kubernetes/manifests.py). User kafka,
  uid 1000, owns /var/lib/kafka (the data volume's mount point).
- kafkalab.local/pause:<k8s version>: pause.c of the test bed's pinned k8s.io/kubernetes,
  compiled with `gcc -static` (what registry.k8s.io/pause is built from).

Each image is an OCI archive of one layer (kubetestbed/oci.py) in <cache>/images/, its file
name carrying a digest of everything that goes into it: a second build with the same inputs
finds the archive and does nothing; changed inputs build a new one and remove the old. The
JRE root file system is cached on its own, keyed by its recipe, so a change to kafkalab's
scripts or jars only rebuilds the layer (seconds, not the minute of mmdebstrap).
`import_image` loads an archive into a node's containerd with `ctr`.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from kafkalab.core import paths
from kafkalab.core.errors import EnvironmentProblem
from kafkalab.kafka import distribution, loadgen
from kafkalab.platforms.kubernetes import images as platform_images
from kafkalab.platforms.kubernetes.manifests import DATA_DIR, KAFKA_UID
from kubetestbed import layout, oci
from kubetestbed.build import GO_MODULE_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = REPO_ROOT / "docker" / "kafka"  # shared with docker/kafka.Dockerfile
# Every timestamp in the images: the same inputs give the same archives, byte for byte.
IMAGE_EPOCH = 1735689600  # 2025-01-01T00:00:00Z

DEBIAN_SUITE = "bookworm"
DEBIAN_SOURCES = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
JRE_PACKAGE = "openjdk-17-jre-headless"
KAFKA_USER = "kafka"
KAFKA_HOME = "/opt/kafka"
KAFKALAB_HOME = "/opt/kafkalab"
PAUSE_USER = "65535:65535"  # as registry.k8s.io/pause
PAUSE_CFLAGS = ("-Os", "-Wall", "-Werror", "-static")  # build/pause/Makefile's
DEBIAN_TOOLS = {"mmdebstrap": "mmdebstrap", "gcc": "gcc", "ctr": "containerd"}  # command -> Debian package
_BUILD_TIMEOUT_S = 900


class ImageError(RuntimeError):
    """One line saying what failed (and, for a missing image, how to build it)."""


def say(line: str) -> None:
    print(f"kube-images: {line}", flush=True)


def images_dir() -> Path:
    return paths.cache_dir() / "images"


def pause_image_name(k8s_version: str = layout.K8S_VERSION) -> str:
    return f"{platform_images.LOCAL_REGISTRY}/pause:{k8s_version}"


# --- what goes into a layer -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One file or directory added to a layer: its path in the image, owner, mode, content."""

    path: str  # absolute, in the image
    mode: int
    uid: int = 0
    source: Path | None = None  # a file's content (neither source nor data: a directory)
    data: bytes | None = None  # a file's content given inline

    def content(self) -> bytes | None:
        if self.data is not None:
            return self.data
        return self.source.read_bytes() if self.source is not None else None

    def digest_line(self) -> bytes:
        content = self.content()
        body = hashlib.sha256(content).hexdigest() if content is not None else "dir"
        return f"{self.path} {self.mode:o} {self.uid} {body}\n".encode()


@dataclass(frozen=True)
class Recipe:
    """One image: its name, what its layer adds, and the root file system below it (if any).

    Made afresh for each build: its digest is read from the inputs once, on first use.
    """

    name: str
    entries: tuple[Entry, ...]
    config: oci.ImageConfig
    # Makes (or finds) the uncompressed tar the layer starts from; called only when building.
    base: Callable[[], Path] | None = None
    base_key: str = ""  # what makes the base what it is, for the digest

    @cached_property  # reads every file of the layer (the jars: 55 MB)
    def digest(self) -> str:
        config = json.dumps(self.config.as_json(), sort_keys=True)
        sha = hashlib.sha256(f"{self.name}\n{self.base_key}\n{config}\n".encode())
        for entry in self.entries:
            sha.update(entry.digest_line())
        return sha.hexdigest()[:16]

    @property
    def archive(self) -> Path:
        repository, tag = self.name.rsplit("/", 1)[1].split(":", 1)
        return images_dir() / f"{repository}-{tag}-{self.digest}.oci.tar"


def _directories(*dirs: str, uid: int = 0) -> list[Entry]:
    return [Entry(d, 0o755, uid) for d in dirs]


def _files_of(source_dir: Path, image_dir: str, mode: int) -> list[Entry]:
    return [Entry(f"{image_dir}/{p.name}", mode, source=p) for p in sorted(source_dir.iterdir()) if p.is_file()]


# --- the Kafka image --------------------------------------------------------------------------


def _jre_recipe_key() -> str:
    """What makes the JRE root file system what it is (its cache key)."""
    return "\n".join([DEBIAN_SUITE, *DEBIAN_SOURCES, JRE_PACKAGE, *_mmdebstrap_options()])


def _mmdebstrap_options() -> list[str]:
    user = f"{KAFKA_USER}:x:{KAFKA_UID}:{KAFKA_UID}:Kafka (kafkalab):/var/lib/kafka:/usr/sbin/nologin"
    return [
        "--variant=essential",
        f"--include={JRE_PACKAGE}",
        # Documentation and translations are not needed in a pod (the licences stay). Man pages
        # stay: without them the JRE's update-alternatives fails.
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--skip=output/dev",  # the runtime provides /dev
        f"--customize-hook=echo '{user}' >> \"$1/etc/passwd\"; echo '{KAFKA_USER}:x:{KAFKA_UID}:' >> \"$1/etc/group\"",
    ]


def jre_rootfs(*, on_progress: Callable[[str], None] = say) -> Path:
    """The Debian root file system with the JRE, as a tar: made once with mmdebstrap (about a minute)."""
    key = hashlib.sha256(_jre_recipe_key().encode()).hexdigest()[:16]
    target = images_dir() / "rootfs" / f"debian-{DEBIAN_SUITE}-jre17-{key}.tar"
    if target.exists():
        return target
    tool = require_tool("mmdebstrap")
    target.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(target.parent / ".build.lock"):
        if target.exists():
            return target
        on_progress(f"making the Debian {DEBIAN_SUITE} root file system with {JRE_PACKAGE} (mmdebstrap, about a minute)")
        started = time.monotonic()
        staging = target.with_name(f".partial-{target.name}")  # mmdebstrap writes a tar for a name ending .tar
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(IMAGE_EPOCH))
        command = [tool, "--quiet", *_mmdebstrap_options(), DEBIAN_SUITE, str(staging), *DEBIAN_SOURCES]
        run_tool(command, "mmdebstrap", env=env)
        staging.replace(target)
        for old in target.parent.glob("debian-*.tar"):
            if old != target:
                old.unlink()
        on_progress(f"  root file system made in {time.monotonic() - started:.0f} s ({size_mb(target)})")
    return target


def kafka_recipe(kafka_version: str = distribution.DEFAULT_KAFKA_VERSION, *,
                 on_progress: Callable[[str], None] = say) -> Recipe:
    """The Kafka image's inputs: builds the load generator and start barrier when missing (Maven, javac)."""
    dist = distribution.resolve(kafka_version, on_progress=on_progress)
    loadgen_jar = loadgen.jar(dist, on_progress=on_progress)
    barrier = dist.start_barrier()
    loopback_jmx = dist.compiled_helper("LoopbackJmx", against_kafka=False)  # brokers' JMX on the pod's 127.0.0.1
    if barrier is None or loopback_jmx is None:
        raise ImageError("javac (a JDK 17+) is needed to compile kafkalab's start barrier and LoopbackJmx "
                         "for the Kafka image")
    java = resources.files("kafkalab.java")
    entries = [
        *_directories(KAFKA_HOME, f"{KAFKA_HOME}/bin", f"{KAFKA_HOME}/libs", f"{KAFKA_HOME}/config",
                      KAFKALAB_HOME, f"{KAFKALAB_HOME}/bin", f"{KAFKALAB_HOME}/lib", f"{KAFKALAB_HOME}/classes"),
        *_directories("/var/lib/kafka", DATA_DIR, uid=KAFKA_UID),
        *_files_of(SCRIPTS_DIR / "bin", f"{KAFKA_HOME}/bin", 0o755),
        *_files_of(SCRIPTS_DIR / "kafkalab-bin", f"{KAFKALAB_HOME}/bin", 0o755),
        *[Entry(f"{KAFKA_HOME}/libs/{jar.name}", 0o644, source=jar) for jar in sorted(dist.libs.glob("*.jar"))],
        *[Entry(f"{KAFKA_HOME}/config/{name}", 0o644, data=java.joinpath(name).read_bytes())
          for name in ("log4j2-broker.properties", "log4j2-tools.properties")],
        Entry(f"{KAFKALAB_HOME}/lib/{loadgen.JAR_NAME}", 0o644, source=loadgen_jar),
        Entry(f"{KAFKALAB_HOME}/classes/StartBarrier.class", 0o644, source=barrier / "StartBarrier.class"),
        Entry(f"{KAFKALAB_HOME}/classes/LoopbackJmx.class", 0o644, source=loopback_jmx / "LoopbackJmx.class"),
    ]
    config = oci.ImageConfig(
        user=f"{KAFKA_UID}:{KAFKA_UID}",
        env=(f"PATH={KAFKA_HOME}/bin:{KAFKALAB_HOME}/bin:/usr/local/bin:/usr/bin:/bin",
             f"KAFKA_HOME={KAFKA_HOME}", f"KAFKALAB_HOME={KAFKALAB_HOME}"),
        cmd=("java", "-version"),
        working_dir="/var/lib/kafka",
        labels={"org.opencontainers.image.title": "kafkalab Kafka",
                "org.opencontainers.image.version": dist.version,
                "org.opencontainers.image.description":
                    f"Apache Kafka {dist.version} jars from Maven Central on Debian {DEBIAN_SUITE} with "
                    f"{JRE_PACKAGE}, kafkalab's load generator and start scripts"},
    )
    return Recipe(platform_images.default_image(dist.version), tuple(entries), config,
                  base=lambda: jre_rootfs(on_progress=on_progress), base_key=_jre_recipe_key())


# --- the pause image --------------------------------------------------------------------------


def pause_source(k8s_version: str = layout.K8S_VERSION) -> Path:
    """build/pause/linux/pause.c of k8s.io/kubernetes at the test bed's version (Go's module cache)."""
    go = shutil.which("go")
    if go is None:
        raise ImageError("go is not installed: the pause image is compiled from the k8s.io/kubernetes module source")
    proc = subprocess.run([go, "mod", "download", "-json", f"k8s.io/kubernetes@{k8s_version}"],
                          cwd=GO_MODULE_DIR, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise ImageError(f"locating k8s.io/kubernetes {k8s_version}'s source failed: {proc.stderr.strip()[-300:]}")
    source = Path(json.loads(proc.stdout)["Dir"]) / "build" / "pause" / "linux" / "pause.c"
    if not source.is_file():
        raise ImageError(f"{source} is missing from the k8s.io/kubernetes module source")
    return source


def pause_binary(k8s_version: str = layout.K8S_VERSION) -> Path:
    """pause.c compiled statically, once per source and flags (so its bytes, and the image's digest, stay put)."""
    source = pause_source(k8s_version).read_bytes()
    flags = [*PAUSE_CFLAGS, f"-DVERSION={k8s_version}"]
    key = hashlib.sha256(source + "\0".join(flags).encode()).hexdigest()[:16]
    binary = images_dir() / "pause-bin" / key / "pause"
    if binary.exists():
        return binary
    gcc = require_tool("gcc")
    binary.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=binary.parent))
    try:
        (staging / "pause.c").write_bytes(source)
        run_tool([gcc, *flags, "-o", str(staging / "pause"), str(staging / "pause.c")], "gcc -static pause.c")
        os.replace(staging / "pause", binary)  # atomic: a reader finds the whole binary or none
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return binary


def pause_recipe(k8s_version: str = layout.K8S_VERSION) -> Recipe:
    """The pause image's inputs: the static pause binary as /pause, run as registry.k8s.io/pause runs it."""
    return Recipe(
        pause_image_name(k8s_version),
        (Entry("/pause", 0o755, source=pause_binary(k8s_version)),),
        oci.ImageConfig(user=PAUSE_USER, entrypoint=("/pause",),
                        labels={"org.opencontainers.image.title": "pause",
                                "org.opencontainers.image.description":
                                    f"build/pause/linux/pause.c of k8s.io/kubernetes {k8s_version}, gcc -static"}),
    )


# --- building ---------------------------------------------------------------------------------


def build(recipe: Recipe, *, on_progress: Callable[[str], None] = say) -> Path:
    """The recipe's archive, written when no archive of these inputs exists yet."""
    final = recipe.archive
    if final.exists():
        on_progress(f"{recipe.name} is up to date: {final}")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(final.parent / ".build.lock"):
        if final.exists():
            return final
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
        try:
            layer = staging / "layer.tar"
            _write_layer(recipe, layer)
            oci.write_archive(staging / "image.oci.tar", name=recipe.name, layer=layer, config=recipe.config,
                              created_epoch=IMAGE_EPOCH)
            (staging / "image.oci.tar").chmod(0o644)
            os.replace(staging / "image.oci.tar", final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_older_archives(final)
        on_progress(f"built {recipe.name} in {time.monotonic() - started:.0f} s: {final} ({size_mb(final)})")
    return final


def _write_layer(recipe: Recipe, layer: Path) -> None:
    """The base root file system (if any) with the recipe's entries appended, as one tar."""
    if recipe.base is not None:
        shutil.copyfile(recipe.base(), layer)
        mode = "a"
    else:
        mode = "w"
    with tarfile.open(layer, mode, format=tarfile.PAX_FORMAT) as tar:
        for entry in recipe.entries:
            info = tarfile.TarInfo("." + entry.path)
            info.mtime, info.mode, info.uid, info.gid = IMAGE_EPOCH, entry.mode, entry.uid, entry.uid
            content = entry.content()
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


def _remove_older_archives(current: Path) -> None:
    stem = current.name.rsplit("-", 1)[0]  # kafka-4.4.0
    for old in current.parent.glob(f"{stem}-*.oci.tar"):
        if old != current:
            old.unlink(missing_ok=True)


def build_all(kafka_version: str = distribution.DEFAULT_KAFKA_VERSION, k8s_version: str = layout.K8S_VERSION,
              *, on_progress: Callable[[str], None] = say) -> dict[str, Path]:
    """Both images (name -> archive), building what is missing or out of date."""
    recipes = (kafka_recipe(kafka_version, on_progress=on_progress), pause_recipe(k8s_version))
    return {recipe.name: build(recipe, on_progress=on_progress) for recipe in recipes}


def built_archive(name: str) -> Path:
    """The up-to-date archive of image `name` (one of the two), or ImageError saying how to build it."""
    recipes = {pause_image_name(): pause_recipe}
    repository = name.rsplit(":", 1)[0]
    if repository == platform_images.KAFKA_REPOSITORY:
        archive = kafka_recipe(name.rsplit(":", 1)[1], on_progress=lambda _: None).archive
    elif name in recipes:
        archive = recipes[name]().archive
    else:
        raise ImageError(f"kubetestbed builds no image {name}")
    if not archive.exists():
        stale = sorted(archive.parent.glob(archive.name.rsplit("-", 1)[0] + "-*.oci.tar"))
        state = "is out of date (its inputs changed)" if stale else "is not built"
        raise ImageError(f"image {name} {state}: run `{platform_images.BUILD_TARGET}`")
    return archive


# --- containerd -------------------------------------------------------------------------------


def import_image(archive: Path, containerd_address: str | Path, namespace: str = "k8s.io", *,
                 snapshotter: str | None = None, timeout_s: float = 300) -> str:
    """Import an archive into a containerd (`ctr images import`, unpacked); returns the image's name.

    `containerd_address` is its gRPC unix socket (a real node's `containerd_socket`). `k8s.io`
    is the namespace kubelet's CRI calls use: an image imported there is what the node's pods
    find with pull policy Never. Only the socket is used, so this works from the host's
    namespaces for a containerd in a node's.
    """
    name = oci.read_archive(archive).name
    ctr = require_tool("ctr")
    command = [ctr, "--address", str(containerd_address), "--namespace", namespace, "images", "import"]
    if snapshotter:
        command += ["--snapshotter", snapshotter]
    run_tool([*command, str(archive)], f"importing {name} into the containerd at {containerd_address}", timeout_s=timeout_s)
    if name not in images_in(containerd_address, namespace):
        raise ImageError(f"ctr imported {archive} but the containerd at {containerd_address} does not list {name}")
    return name


def images_in(containerd_address: str | Path, namespace: str = "k8s.io") -> set[str]:
    """The image names a containerd holds in `namespace`."""
    proc = run_tool([require_tool("ctr"), "--address", str(containerd_address), "--namespace", namespace,
                 "images", "list", "--quiet"], f"listing the images of the containerd at {containerd_address}")
    return set(proc.stdout.split())


def require_image(containerd_address: str | Path, name: str, *, node: str | None = None, namespace: str = "k8s.io") -> None:
    """ImageError in one line (naming the image and `make kube-images`) when a node's containerd lacks it."""
    if name not in images_in(containerd_address, namespace):
        where = f"node {node}" if node else f"the containerd at {containerd_address}"
        raise ImageError(f"image {name} is not on {where}: build it with `{platform_images.BUILD_TARGET}` "
                         "and import it (kubetestbed.images.import_image)")


# --- helpers ----------------------------------------------------------------------------------


def require_tool(command: str) -> str:
    found = shutil.which(command)
    if found is None:
        raise ImageError(f"{command} is not installed (Debian package {DEBIAN_TOOLS[command]}): "
                         f"run `{platform_images.BUILD_TARGET}`, which installs it")
    return found


def run_tool(command: list[str], what: str, *, env: dict[str, str] | None = None,
         timeout_s: float = _BUILD_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ImageError(f"{what} did not finish within {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])[-400:]
        raise ImageError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc


@contextmanager
def build_lock(lock_path: Path) -> Iterator[None]:
    """One build at a time per directory (two `make kube-images` at once build once)."""
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def size_mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.0f} MB"


def main() -> int:
    started = time.monotonic()
    try:
        archives = build_all()
    except (ImageError, EnvironmentProblem) as error:
        print(f"kube-images: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kube-images: interrupted; no image was replaced", file=sys.stderr)
        return 130
    for name, archive in archives.items():
        say(f"{name}: {archive}")
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
