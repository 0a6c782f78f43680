"""Which image the cluster's pods run, and whether a node may pull it.

The default is kafkalab's own Kafka image under the local name `kafkalab.local/kafka:<kafka
version>`: built by `make kube-images` (kubetestbed/images.py) and imported into each node's
container runtime, or built from docker/kafka.Dockerfile and pushed by users with a registry
(who then set `cluster.kubernetes.image`). No registry serves `kafkalab.local`, so its images
are never pulled (pull policy Never unless the spec says otherwise): a node lacking one
fails at once (ErrImageNeverPull, explained by jobs.missing_image in one line naming the
image and the make target) instead of with a DNS error after pull retries.
"""

from __future__ import annotations

LOCAL_REGISTRY = "kafkalab.local"
BUILD_TARGET = "make kube-images"
KAFKA_REPOSITORY = f"{LOCAL_REGISTRY}/kafka"


def default_image(kafka_version: str) -> str:
    """`kafkalab.local/kafka:4.4.0`: the image `make kube-images` builds for that Kafka version."""
    return f"{KAFKA_REPOSITORY}:{kafka_version}"


def is_local(image: str) -> bool:
    return image.startswith(LOCAL_REGISTRY + "/")


def pull_policy(image: str, requested: str | None) -> str:
    """The spec's `image_pull_policy`, else Never for local images (nothing to pull them from)."""
    if requested:
        return requested
    return "Never" if is_local(image) else "IfNotPresent"
