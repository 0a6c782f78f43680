"""The start gate of pods: "go" from the flow, through the API server, to a waiting container.

How it works. The flow sets the annotation `kafkalab.io/start: go` on a pod (a patch of the
pod). The pod has that annotation as a file (a downward API volume, START_DIR/go), and its
script polls the file. The kubelet rewrites a downward API volume whenever it syncs the pod,
and a change of the pod syncs it at once (volumemanager.WaitForAttachAndMount reprocesses
every pod it syncs; "Atomically updating volumes, like Downward API, depend on this"), so
"go" reaches every pod within about a second of the patch. A mounted ConfigMap would not do:
the kubelet refreshes those only on its periodic sync, about a minute.

Why this way: the pods need no access to the API server at all (no service-account token is
mounted, no client in the image), nor a server reachable from both sides. The flow needs
`patch` on pods in its namespaces, and already reads their logs.

Two users:
- the perf Jobs (`JobBarrier`, `release_together`): each perf pod prints BARRIER_LINE when it is ready
  (kafkalab's generator once its client is built, as locally; the script before starting
  ProducerPerformance) and waits. Once every instance's pod runs and has printed the line
  (or has ended), or after kafkalab.load.barrier.TIMEOUT_S, the flow says go to all of them.
  This is kafkalab.load.barrier's barrier, with the API server in place of stdin;
- broker faults (broker_faults.py): a broker pod recreated while a fault holds it down
  waits for its go before starting Kafka.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kafkalab.core.errors import ClusterError
from kafkalab.load.barrier import READY_LINE, TIMEOUT_S
from kafkalab.platforms.kubernetes.api_errors import api_error
from kafkalab.platforms.kubernetes.manifests import START_ANNOTATION

GO = "go"

ReadHead = Callable[[k8s.V1Pod], str | None]  # the beginning of a pod's log, None when it cannot be read


def has_go(pod: k8s.V1Pod) -> bool:
    return (pod.metadata.annotations or {}).get(START_ANNOTATION) == GO


def say_go(core: k8s.CoreV1Api, namespace: str, pod_name: str) -> None:
    """Open the gate of one pod (a merge patch of its annotations)."""
    try:
        core.patch_namespaced_pod(pod_name, namespace, {"metadata": {"annotations": {START_ANNOTATION: GO}}})
    except ApiException as exc:
        if exc.status == 404:  # gone meanwhile: nothing waits there any more
            return
        raise ClusterError(f"kubernetes: saying go to pod {pod_name}: {api_error(exc)}") from None


def at_barrier(log_head: str | None) -> bool:
    return log_head is not None and any(line.strip() == READY_LINE for line in log_head.splitlines())


def _terminal(pod: k8s.V1Pod) -> bool:
    return bool(pod.status and pod.status.phase in ("Succeeded", "Failed"))


def _running(pod: k8s.V1Pod) -> bool:
    return bool(pod.status and pod.status.phase == "Running" and pod.metadata.deletion_timestamp is None)


class JobBarrier:
    """The start barrier of one perf-test Job's pods (see the module doc).

    `everyone_there(pods)` says whether the Job's current pods are all at the barrier, `open`
    says go to them (release_together does both, for one Job or several). Pods that come later
    (a retried index) get go as soon as they are seen: they start late, and their outcome shows it.
    """

    def __init__(self, core: k8s.CoreV1Api, namespace: str, completions: int, read_head: ReadHead, *,
                 index_of: Callable[[k8s.V1Pod], int | None], timeout_s: float = TIMEOUT_S) -> None:
        self.core = core
        self.namespace = namespace
        self.completions = completions
        self.read_head = read_head
        self.index_of = index_of
        self.timeout_s = timeout_s
        self.released = False
        self.released_at: float | None = None  # time.monotonic() of the go
        self._ready: set[str] = set()  # uids of pods seen at the barrier
        self._all_running_since: float | None = None

    def _is_ready(self, pod: k8s.V1Pod) -> bool:
        uid = pod.metadata.uid
        if uid not in self._ready and at_barrier(self.read_head(pod)):
            self._ready.add(uid)
        return uid in self._ready

    def everyone_there(self, pods: list[k8s.V1Pod]) -> bool:
        """Every instance has a pod at the barrier (or ended), or the barrier's time is up."""
        by_index: dict[int, list[k8s.V1Pod]] = {}
        for pod in pods:
            by_index.setdefault(self.index_of(pod) or 0, []).append(pod)
        started = [i for i in range(self.completions)
                   if any(_running(p) or _terminal(p) for p in by_index.get(i, []))]
        if len(started) < self.completions:
            return False
        now = time.monotonic()
        if self._all_running_since is None:
            self._all_running_since = now
        there = all(any(_terminal(p) or (_running(p) and self._is_ready(p)) for p in by_index[i])
                    for i in range(self.completions))
        return there or now - self._all_running_since >= self.timeout_s

    def open(self, pods: list[k8s.V1Pod]) -> None:
        """Say go to every running pod that has not had it: one patch each, in a row (the pods'
        starts differ by about a round trip)."""
        for pod in pods:
            if _running(pod) and not has_go(pod):
                say_go(self.core, self.namespace, pod.metadata.name)
        if not self.released:
            self.released, self.released_at = True, time.monotonic()


def release_together(barriers: list[tuple[JobBarrier, list[k8s.V1Pod]]]) -> bool:
    """Several Jobs behind one barrier (consumers alongside producers): go to all of them, in the
    order given, once every Job's pods are there; True when it said go just now."""
    if all(barrier.released for barrier, _ in barriers):
        for barrier, pods in barriers:
            barrier.open(pods)  # latecomers
        return False
    if not all(barrier.everyone_there(pods) for barrier, pods in barriers):
        return False
    for barrier, pods in barriers:
        barrier.open(pods)
    return True
