"""The flow runner image for the test bed, built without a registry:
`python -m kubetestbed.runner_image` (or `make kube-runner-image`).

kafkalab.local/runner:<kafkalab version> holds what docker/runner.Dockerfile puts in
kafkalab-runner: Python with kafkalab, Prefect and prefect-kubernetes, Java 17 and the
Kafka jars, so that a Kubernetes work pool's Job runs a flow with the local platform inside
its pod. Built the way kubetestbed/images.py builds the Kafka image:

- the root file system: Debian bookworm by mmdebstrap (python3, python3-venv, the headless
  JRE) with a virtualenv in /opt/venv holding kafkalab's dependencies at exactly the
  versions of the venv building it (wheels made by that venv's pip, from PyPI, installed
  inside with --no-index). Cached, keyed by the recipe and those versions: minutes once;
- one layer on top: kafkalab's source at /opt/kafkalab (on the venv's path, as `pip install
  -e` would put it), and kafkalab's cache of the building machine (jars, class-data
  archives, compiled helpers, the load generator) at /opt/kafkalab-cache: seconds.

A JRE, not a JDK: the helpers kafkalab would compile with javac come compiled, in the cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import kafkalab
from kafkalab.core import paths
from kafkalab.core.errors import EnvironmentProblem
from kafkalab.kafka import distribution, loadgen
from kafkalab.platforms.kubernetes import images as platform_images
from kubetestbed import images, oci
from kubetestbed.images import Entry, ImageError, Recipe

RUNNER_REPOSITORY = f"{platform_images.LOCAL_REGISTRY}/runner"
BUILD_TARGET = "make kube-runner-image"
RUNNER_UID = 10001  # docker/runner.Dockerfile's user; deployments/kubernetes/base-job-template.json runs as it
RUNNER_USER = "kafkalab"
PROJECT_HOME = "/opt/kafkalab"  # the deployments' working directory (pull step set_working_directory)
CACHE_HOME = "/opt/kafkalab-cache"
DATA_HOME = "/var/lib/kafkalab"  # the pool's emptyDir mount point
HOME = f"/home/{RUNNER_USER}"
VENV = "/opt/venv"
SITE_PACKAGES = f"{VENV}/lib/python3.11/site-packages"  # Debian bookworm's python3
DEBIAN_PACKAGES = ("python3", "python3-venv", images.JRE_PACKAGE)
# What of the repository the image holds (docker/runner.Dockerfile's COPY lines).
PROJECT_PARTS = ("pyproject.toml", "README.md", "kafkalab", "flows", "tasks", "schema", "experiments", "deployments")
# Besides kafkalab's own dependencies: the worker side of Prefect's Kubernetes pools, and what
# Debian's Python 3.11.2 needs beyond the building venv's newer 3.11 (redis:
# `async-timeout; python_full_version < "3.11.3"`), since the wheels are resolved there.
EXTRA_REQUIREMENTS = ("prefect-kubernetes", "async-timeout>=4.0.3")


def image_name() -> str:
    return f"{RUNNER_REPOSITORY}:{kafkalab.__version__}"


def say(line: str) -> None:
    print(f"kube-runner-image: {line}", flush=True)


# --- the Python packages ----------------------------------------------------------------------


def requirements() -> list[str]:
    """kafkalab's runtime dependencies (pyproject) and prefect-kubernetes, unpinned."""
    project = tomllib.loads((images.REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *EXTRA_REQUIREMENTS]


def constraints() -> list[str]:
    """`name==version` of every distribution in the building venv: the image gets what the tests ran."""
    pins = {dist.metadata["Name"].lower(): dist.version for dist in importlib.metadata.distributions()
            if dist.metadata["Name"]}
    pins.pop("kafkalab", None)  # the source goes into the layer, not a wheel
    return sorted(f"{name}=={version}" for name, version in pins.items())


def _rootfs_key() -> str:
    return "\n".join([images.DEBIAN_SUITE, *images.DEBIAN_SOURCES, *DEBIAN_PACKAGES, *requirements(),
                      *constraints(), *_mmdebstrap_options(Path("/wheels"))])


def _mmdebstrap_options(wheelhouse: Path) -> list[str]:
    user = f"{RUNNER_USER}:x:{RUNNER_UID}:{RUNNER_UID}:kafkalab runner:{HOME}:/usr/sbin/nologin"
    pip = (f'chroot "$1" {VENV}/bin/pip install --quiet --no-index --find-links /tmp/wheels '
           f"-c /tmp/wheels/constraints.txt -r /tmp/wheels/requirements.txt")
    return [
        "--variant=essential",
        f"--include={','.join(DEBIAN_PACKAGES)}",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--skip=output/dev",
        f"--customize-hook=echo '{user}' >> \"$1/etc/passwd\"; echo '{RUNNER_USER}:x:{RUNNER_UID}:' >> \"$1/etc/group\"",
        f"--customize-hook=mkdir -p \"$1/tmp/wheels\" && cp -a {wheelhouse}/. \"$1/tmp/wheels/\"",
        f'--customize-hook=chroot "$1" python3 -m venv {VENV}',
        f"--customize-hook={pip}",
        '--customize-hook=rm -rf "$1/tmp/wheels" "$1/root/.cache"',
    ]


def _make_wheelhouse(target: Path) -> None:
    """Wheels of the whole dependency closure at the building venv's versions (its pip, PyPI)."""
    (target / "requirements.txt").write_text("\n".join(requirements()) + "\n")
    (target / "constraints.txt").write_text("\n".join(constraints()) + "\n")
    images.run_tool([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                 "--wheel-dir", str(target), "-c", str(target / "constraints.txt"),
                 "-r", str(target / "requirements.txt")], "pip wheel (the runner's Python packages)")


def runner_rootfs(*, on_progress: Callable[[str], None] = say) -> Path:
    """Debian with Python, the JRE and kafkalab's dependencies in /opt/venv, as a tar (made once)."""
    key = hashlib.sha256(_rootfs_key().encode()).hexdigest()[:16]
    target = images.images_dir() / "rootfs" / f"debian-{images.DEBIAN_SUITE}-runner-{key}.tar"
    if target.exists():
        return target
    tool = images.require_tool("mmdebstrap")
    target.parent.mkdir(parents=True, exist_ok=True)
    with images.build_lock(target.parent / ".build.lock"):
        if target.exists():
            return target
        started = time.monotonic()
        staging = target.with_name(f".partial-{target.name}")
        with tempfile.TemporaryDirectory(prefix="runner-wheels-", dir=target.parent) as wheelhouse:
            on_progress("making the runner's wheels (pip wheel, the building venv's versions)")
            _make_wheelhouse(Path(wheelhouse))
            on_progress(f"making the Debian {images.DEBIAN_SUITE} root file system with Python, the JRE and "
                        "the wheels (mmdebstrap, a few minutes)")
            env = dict(os.environ, SOURCE_DATE_EPOCH=str(images.IMAGE_EPOCH))
            command = [tool, "--quiet", *_mmdebstrap_options(Path(wheelhouse)), images.DEBIAN_SUITE, str(staging),
                       *images.DEBIAN_SOURCES]
            try:
                images.run_tool(command, "mmdebstrap (the runner's root file system)", env=env)
            except BaseException:
                staging.unlink(missing_ok=True)
                raise
        staging.replace(target)
        for old in target.parent.glob(f"debian-{images.DEBIAN_SUITE}-runner-*.tar"):
            if old != target:
                old.unlink()
        on_progress(f"  root file system made in {time.monotonic() - started:.0f} s ({images.size_mb(target)})")
    return target


# --- the layer --------------------------------------------------------------------------------


def _tree(source: Path, image_dir: str, *, uid: int = 0) -> list[Entry]:
    """A directory's files and sub-directories (no byte-code caches) under `image_dir`."""
    entries = [Entry(image_dir, 0o755, uid)]
    for path in sorted(source.rglob("*")):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        inside = f"{image_dir}/{path.relative_to(source).as_posix()}"
        if path.is_dir():
            entries.append(Entry(inside, 0o755, uid))
        elif path.is_file():
            entries.append(Entry(inside, 0o755 if os.access(path, os.X_OK) else 0o644, uid, source=path))
    return entries


def _project_entries() -> list[Entry]:
    entries = [Entry(PROJECT_HOME, 0o755)]
    for part in PROJECT_PARTS:
        source = images.REPO_ROOT / part
        entries += _tree(source, f"{PROJECT_HOME}/{part}") if source.is_dir() else \
            [Entry(f"{PROJECT_HOME}/{part}", 0o644, source=source)]
    # What `pip install -e .` leaves: the source on the venv's path, metadata, the console script.
    dist_info = f"{SITE_PACKAGES}/kafkalab-{kafkalab.__version__}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: kafkalab\nVersion: {kafkalab.__version__}\n"
    script = (f"#!{VENV}/bin/python\nimport sys\nfrom kafkalab.app.cli import main\n"
              "sys.exit(main())\n")
    return [
        *entries,
        Entry(f"{SITE_PACKAGES}/kafkalab.pth", 0o644, data=f"{PROJECT_HOME}\n".encode()),
        Entry(dist_info, 0o755),
        Entry(f"{dist_info}/METADATA", 0o644, data=metadata.encode()),
        Entry(f"{dist_info}/INSTALLER", 0o644, data=b"kubetestbed\n"),
        Entry(f"{dist_info}/entry_points.txt", 0o644,
              data=b"[console_scripts]\nkafkalab = kafkalab.app.cli:main\n"),
        Entry(f"{VENV}/bin/kafkalab", 0o755, data=script.encode()),
    ]


def _cache_entries(dist: distribution.KafkaDistribution, on_progress: Callable[[str], None]) -> list[Entry]:
    """kafkalab's cache as the flow finds it in the pod (owned by the runner: it may add to it)."""
    cache = paths.cache_dir()
    loadgen_jar = loadgen.jar(dist, on_progress=on_progress)
    helpers = [dist.start_barrier(), dist.compiled_helper("LoopbackJmx", against_kafka=False),
               dist.compiled_helper("BrokerConfigCheck", against_kafka=True)]
    if any(helper is None for helper in helpers):
        raise ImageError("javac (a JDK 17+) is needed to compile kafkalab's Java helpers for the runner image")
    dist.broker_config_names()  # read once here, so the pod need not
    u = RUNNER_UID
    entries = [Entry(CACHE_HOME, 0o755, u), Entry(f"{CACHE_HOME}/kafka", 0o755, u),
               Entry(f"{CACHE_HOME}/java-helpers", 0o755, u), Entry(f"{CACHE_HOME}/loadgen", 0o755, u)]
    # The jars, class-data archives and config names; not the broker settings already checked
    # (accepted-broker-configs grows with every new set of settings a test runs: the image
    # would be rebuilt each time; the pod checks its own once).
    kept = [e for e in _tree(dist.config_dir, f"{CACHE_HOME}/kafka/{dist.version}", uid=u)
            if "/accepted-broker-configs" not in e.path]
    entries += kept
    for helper in helpers:
        assert helper is not None
        entries += _tree(helper, f"{CACHE_HOME}/{helper.relative_to(cache).as_posix()}", uid=u)
    entries += _tree(loadgen_jar.parent, f"{CACHE_HOME}/{loadgen_jar.parent.relative_to(cache).as_posix()}", uid=u)
    return [e for e in entries if not e.path.endswith(".lock")]  # (libs/.complete stays: the jars are whole)


def runner_recipe(kafka_version: str = distribution.DEFAULT_KAFKA_VERSION, *,
                  on_progress: Callable[[str], None] = say) -> Recipe:
    """The runner image's inputs (the root file system is made only when building)."""
    dist = distribution.resolve(kafka_version, on_progress=on_progress)
    entries = [
        *_project_entries(),
        *_cache_entries(dist, on_progress),
        Entry(DATA_HOME, 0o755, RUNNER_UID),
        Entry(HOME, 0o755, RUNNER_UID),
    ]
    config = oci.ImageConfig(
        user=f"{RUNNER_UID}:{RUNNER_UID}",
        env=(f"PATH={VENV}/bin:/usr/local/bin:/usr/bin:/bin", f"HOME={HOME}",
             f"KAFKALAB_CACHE_DIR={CACHE_HOME}", f"KAFKALAB_DATA_DIR={DATA_HOME}",
             "PREFECT_SERVER_ANALYTICS_ENABLED=false", "PREFECT_LOGGING_LOG_PRINTS=true", "PYTHONUNBUFFERED=1"),
        cmd=("kafkalab", "--help"),
        working_dir=PROJECT_HOME,
        labels={"org.opencontainers.image.title": "kafkalab runner",
                "org.opencontainers.image.version": kafkalab.__version__,
                "org.opencontainers.image.description":
                    f"kafkalab {kafkalab.__version__} with Prefect and prefect-kubernetes, {images.JRE_PACKAGE} and "
                    f"the Kafka {dist.version} jars on Debian {images.DEBIAN_SUITE} (docker/runner.Dockerfile's content)"},
    )
    return Recipe(image_name(), tuple(entries), config, base=lambda: runner_rootfs(on_progress=on_progress),
                  base_key=hashlib.sha256(_rootfs_key().encode()).hexdigest())


def build(*, on_progress: Callable[[str], None] = say) -> Path:
    """The runner image's archive, built when missing or out of date."""
    return images.build(runner_recipe(on_progress=on_progress), on_progress=on_progress)


def built_archive() -> Path:
    """The up-to-date runner archive, or ImageError in one line saying how to build it."""
    archive = runner_recipe(on_progress=lambda _: None).archive
    if not archive.exists():
        stale = sorted(archive.parent.glob(archive.name.rsplit("-", 1)[0] + "-*.oci.tar"))
        state = "is out of date (its inputs changed)" if stale else "is not built"
        raise ImageError(f"image {image_name()} {state}: run `{BUILD_TARGET}`")
    return archive


def main() -> int:
    started = time.monotonic()
    try:
        archive = build()
    except (ImageError, EnvironmentProblem, subprocess.SubprocessError) as error:
        print(f"kube-runner-image: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kube-runner-image: interrupted; no image was replaced", file=sys.stderr)
        return 130
    say(f"{image_name()}: {archive}")
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
