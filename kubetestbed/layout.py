"""Where the test bed's binaries live: built once per Kubernetes version, outside the repo.

    <cache>/kube/<k8s version>/bin/      kube-apiserver, kube-controller-manager,
                                         kube-scheduler, kwok; kubelet (real nodes only,
                                         `make kube-nodes`)
    <cache>/kube/<k8s version>/kwok/     kwok's stock Stage configs and Logs CRD, copied from
                                         the kwok source the build used (so they match it)

<cache> is kafkalab's cache dir (XDG_CACHE_HOME/kafkalab, or KAFKALAB_CACHE_DIR).
etcd is Debian's `etcd-server` package, on PATH. A real node's runtime (containerd, runc,
the CNI plugins) is Debian's too: see node_missing_parts().
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kafkalab.core import paths

K8S_VERSION = "v1.37.2"
KWOK_VERSION = "v0.8.0"

KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
BINARIES = (*KUBE_BINARIES, "kwok")

# kwok's own stock stages (paths inside its module source) that the test bed uses as they are.
KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)
KWOK_LOGS_CRD = "kustomize/crd/bases/kwok.x-k8s.io_logs.yaml"

BUILD_HINT = "run `make kube-testbed` (builds the Kubernetes test bed once, several minutes)"

# A real node (realnode.py): kubelet from the same k8s.io/kubernetes, the rest from Debian.
NODE_BINARIES = ("kubelet",)
NODE_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "iptables")
NODE_PROGRAMS = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "nsenter", "ip", "iptables")
CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "loopback")
NODE_BUILD_HINT = "run `make kube-nodes` (builds kubelet once, about 2 minutes, and installs Debian's containerd, runc, CNI plugins and iptables)"


def kube_cache_root() -> Path:
    return paths.cache_dir() / "kube"


def version_dir(version: str = K8S_VERSION) -> Path:
    return kube_cache_root() / version


def bin_dir(version: str = K8S_VERSION) -> Path:
    return version_dir(version) / "bin"


def kwok_assets_dir(version: str = K8S_VERSION) -> Path:
    return version_dir(version) / "kwok"


def etcd_binary() -> Path | None:
    found = shutil.which("etcd") or (Path("/usr/bin/etcd").is_file() and "/usr/bin/etcd")
    return Path(found) if found else None


def kubelet_binary(version: str = K8S_VERSION) -> Path:
    return bin_dir(version) / "kubelet"


def node_missing_parts(version: str = K8S_VERSION) -> list[str]:
    """What a real node of `version` still lacks, beyond the control plane's missing_parts()."""
    missing = [name for name in NODE_BINARIES if not (bin_dir(version) / name).is_file()]
    missing += [name for name in NODE_PROGRAMS if shutil.which(name) is None]
    missing += [f"{CNI_BIN_DIR}/{name}" for name in CNI_PLUGINS if not (CNI_BIN_DIR / name).is_file()]
    return missing


def missing_parts(version: str = K8S_VERSION) -> list[str]:
    """What a test bed of `version` still lacks (empty when it is ready to start)."""
    missing = [name for name in BINARIES if not (bin_dir(version) / name).is_file()]
    assets = kwok_assets_dir(version)
    missing += [f"kwok/{Path(f).name}" for f in (*KWOK_STAGE_FILES, KWOK_LOGS_CRD) if not (assets / Path(f).name).is_file()]
    if etcd_binary() is None:
        missing.append("etcd")
    return missing
