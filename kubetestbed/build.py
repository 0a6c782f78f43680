"""Build the Kubernetes test bed once: `python -m kubetestbed.build` (or `make kube-testbed`);
`python -m kubetestbed.build --nodes` (`make kube-nodes`) adds what real nodes need: kubelet
from the same pinned k8s.io/kubernetes, and Debian's containerd, runc and CNI plugins.

Compiles kube-apiserver, kube-controller-manager and kube-scheduler from k8s.io/kubernetes
(pinned in kubetestbed/go/go.mod) and kwok, all from the Go module proxy, into
<cache>/kube/<version>/ (see layout.py), and installs Debian's etcd when it is missing.

The build goes into a temp dir beside the final one and is renamed into place at the end,
under an fcntl lock, so a crash leaves nothing half-built and two concurrent builds do the
work once. A second call finds the binaries and returns at once. GOCACHE and GOMODCACHE
stay the defaults, so a rebuild (new version, wiped cache dir) is incremental.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from kubetestbed import layout

GO_MODULE_DIR = Path(__file__).resolve().parent / "go"
PROGRESS_EVERY_S = 30.0


class BuildError(RuntimeError):
    """One line saying what failed, then the tail of the tool's output."""


def say(line: str) -> None:
    print(f"kube-testbed: {line}", flush=True)


def ensure_built(version: str = layout.K8S_VERSION) -> Path:
    """The version dir with every binary in it, building what is missing (once)."""
    ensure_etcd()
    final = layout.version_dir(version)
    if not layout.missing_parts(version):
        say(f"Kubernetes {version} test bed already built in {final}")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{version}.lock", "w") as lock:
        if _locked_elsewhere(lock):
            say(f"another build of {version} is running; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not layout.missing_parts(version):  # the other build finished it
            say(f"Kubernetes {version} test bed already built in {final}")
            return final
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f".build-{version}-", dir=final.parent))
        try:
            _build_into(staging, version)
            staging.chmod(0o755)  # mkdtemp makes it private; the binaries are for every user
            if final.exists():  # an older, incomplete layout: replace it whole
                shutil.rmtree(final)
            os.rename(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        say(f"built Kubernetes {version} test bed in {time.monotonic() - started:.0f} s: {final}")
        return final


def ensure_node_built(version: str = layout.K8S_VERSION) -> Path:
    """kubelet in the version's bin dir (built once, beside the control plane's binaries),
    and the node runtime from Debian when missing."""
    final = ensure_built(version)
    ensure_node_runtime(version)
    kubelet = layout.kubelet_binary(version)
    if kubelet.is_file():
        say(f"kubelet {version} already built: {kubelet}")
        return final
    with open(final.parent / f".{version}.lock", "w") as lock:
        if _locked_elsewhere(lock):
            say(f"another build of {version} is running; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if kubelet.is_file():
            return final
        staging = Path(tempfile.mkdtemp(prefix=".kubelet-", dir=kubelet.parent))
        try:
            _run_go(f"kubelet {version}",
                    [shutil.which("go") or "go", "build", "-v", "-trimpath", f"-ldflags={_ldflags(version)}",
                     "-o", str(staging / "kubelet"), "k8s.io/kubernetes/cmd/kubelet"],
                    cwd=GO_MODULE_DIR, env=_go_env())
            os.rename(staging / "kubelet", kubelet)  # same dir: atomic, never a half-written kubelet
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _locked_elsewhere(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True


def _build_into(staging: Path, version: str) -> None:
    go = shutil.which("go")
    if go is None:
        raise BuildError("go is not installed: the Kubernetes test bed is built from source with Go 1.26+")
    bin_dir = staging / "bin"
    bin_dir.mkdir()
    packages = [f"k8s.io/kubernetes/cmd/{name}" for name in layout.KUBE_BINARIES]
    _run_go(
        f"{', '.join(layout.KUBE_BINARIES)} {version}",
        [go, "build", "-v", "-trimpath", f"-ldflags={_ldflags(version)}", "-o", str(bin_dir) + "/", *packages],
        cwd=GO_MODULE_DIR, env=_go_env(),
    )
    kwok_env = dict(os.environ, GOBIN=str(bin_dir))  # `go install pkg@version` ignores go.mod
    _run_go(
        f"kwok {layout.KWOK_VERSION}",
        [go, "install", "-v", "-trimpath", "-ldflags=-s -w", f"sigs.k8s.io/kwok/cmd/kwok@{layout.KWOK_VERSION}"],
        cwd=GO_MODULE_DIR, env=kwok_env,
    )
    _copy_kwok_assets(go, staging / "kwok")


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # -mod=mod: go.sum may gain lines for the platform's dependencies; it never needs editing by hand.
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=mod").strip()
    return env


def _ldflags(version: str) -> str:
    component = "k8s.io/component-base/version"
    major, minor = version.lstrip("v").split(".")[:2]
    # The version stamps make the binaries report a real version (clients, kwok and the
    # apiserver's node version checks read it).
    return (f"-s -w -X {component}.gitVersion={version} -X {component}.gitMajor={major}"
            f" -X {component}.gitMinor={minor} -X {component}.gitTreeState=clean")


def _run_go(what: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    """Run a go build, printing a progress line every PROGRESS_EVERY_S (it takes minutes)."""
    say(f"building {what} (slow the first time: minutes per binary on 2 cores)")
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=25)
    compiled = 0
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()

    def report() -> None:
        while not done.wait(PROGRESS_EVERY_S):
            say(f"  still building {what}: {compiled} packages compiled, {time.monotonic() - started:.0f} s")

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            compiled += 1  # `go build -v` names each package as it compiles it
        code = proc.wait()
    except BaseException:
        proc.kill()
        raise
    finally:
        done.set()
    if code != 0:
        raise BuildError(f"building {what} failed (go exited {code}); last lines of go's output:\n"
                         + "\n".join(tail))
    say(f"  built {what} in {time.monotonic() - started:.0f} s")


def _copy_kwok_assets(go: str, target: Path) -> None:
    """kwok's stock Stage configs and Logs CRD, from the very kwok source that was built."""
    proc = subprocess.run([go, "mod", "download", "-json", f"sigs.k8s.io/kwok@{layout.KWOK_VERSION}"],
                          cwd=GO_MODULE_DIR, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"locating kwok's source failed: {(proc.stdout + proc.stderr).strip()[-2000:]}")
    source = Path(json.loads(proc.stdout)["Dir"])
    target.mkdir()
    for relative in (*layout.KWOK_STAGE_FILES, layout.KWOK_LOGS_CRD):
        shutil.copyfile(source / relative, target / Path(relative).name)


def ensure_etcd() -> None:
    """Debian's etcd-server, installed only when no etcd is on PATH (needs root or sudo)."""
    if layout.etcd_binary() is not None:
        return
    say("installing Debian's etcd-server (etcd for the test bed)")
    _apt_install(["etcd-server"])
    if layout.etcd_binary() is None:
        raise BuildError("etcd-server was installed but no etcd binary is on PATH")


def ensure_node_runtime(version: str = layout.K8S_VERSION) -> None:
    """Debian's containerd, runc and CNI plugins, installed only when a part is missing."""
    if not [part for part in layout.node_missing_parts(version) if part not in layout.NODE_BINARIES]:
        return
    say(f"installing Debian's {', '.join(layout.NODE_PACKAGES)} (the runtime of real nodes)")
    _apt_install(list(layout.NODE_PACKAGES))
    still = [part for part in layout.node_missing_parts(version) if part not in layout.NODE_BINARIES]
    if still:
        raise BuildError(f"{', '.join(layout.NODE_PACKAGES)} were installed but these are still missing: "
                         f"{', '.join(still)}")


def _apt_install(packages: list[str]) -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        proc = subprocess.run([*sudo, *command], env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"{' '.join(command)} failed: {(proc.stdout + proc.stderr).strip()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    nodes = "--nodes" in (sys.argv[1:] if argv is None else argv)
    try:
        ensure_node_built() if nodes else ensure_built()
    except BuildError as error:
        print(f"kube-testbed: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kube-testbed: interrupted; nothing was installed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
