"""What the fingerprint says of the Kubernetes nodes the brokers run on, from their Node objects.

Fields a node does not report (a kwok node has no kernel) are None: missing, never zero.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

# Well-known labels (kubernetes.io/docs/reference/labels-annotations-taints/).
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
ZONE_LABEL = "topology.kubernetes.io/zone"


def broker_nodes(core: k8s.CoreV1Api, pods: list[k8s.V1Pod]) -> list[dict[str, Any]]:
    """One description per node that holds a broker pod, in node-name order, with the brokers on it."""
    by_node: dict[str, list[str]] = {}
    images: dict[str, set[str]] = {}
    for pod in pods:
        name = pod.spec.node_name if pod.spec is not None else None
        if name:
            by_node.setdefault(name, []).append(pod.metadata.name)
            images.setdefault(name, set()).update(c.image for c in pod.spec.containers or [] if c.image)
    return [{**describe(core, name), "brokers": sorted(by_node[name]), "images": sorted(images[name])}
            for name in sorted(by_node)]


def describe(core: k8s.CoreV1Api, name: str) -> dict[str, Any]:
    try:
        node = core.read_node(name)
    except ApiException as exc:
        return {"name": name, "error": f"node not readable: {exc.status} {exc.reason}"}
    labels = node.metadata.labels or {}
    info = node.status.node_info if node.status is not None else None
    capacity = (node.status.capacity or {}) if node.status is not None else {}
    return {
        "name": name,
        "instance_type": next((labels[k] for k in INSTANCE_TYPE_LABELS if k in labels), None),
        "zone": labels.get(ZONE_LABEL),
        "cpu": capacity.get("cpu"),
        "memory": capacity.get("memory"),
        "architecture": _or_none(info, "architecture"),
        "kernel": _or_none(info, "kernel_version"),
        "os": _or_none(info, "os_image"),
        "container_runtime": _or_none(info, "container_runtime_version"),
        "kubelet": _or_none(info, "kubelet_version"),
    }


def _or_none(info: Any, field: str) -> str | None:
    value = getattr(info, field, None) if info is not None else None
    return value or None  # an empty string is not reported either
