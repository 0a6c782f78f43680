"""Broker faults on Kubernetes: a broker pod deleted, held down, and let go again.

The platform-neutral model (kafkalab.platforms.faults) kills or stops broker K and starts it
again after D seconds, or leaves it down. On Kubernetes:

- kill: pod kafka-broker-K is deleted with grace period 0 (the API object goes at once and the
  kubelet kills the container without a controlled shutdown); stop: deleted with the grace
  period asked for, so the broker shuts down cleanly (SIGTERM), and waited for;
- before the deletion the pod's name becomes a key of the ConfigMap HOLDS_CONFIG_MAP. The
  StatefulSet recreates the pod at once, with the same name and volume claim (the same data
  with persistent storage; an empty directory with ephemeral storage); the new pod reads the
  map at its start, finds itself held and waits at its start gate (gate.py) without starting
  Kafka: the broker is down;
- start: the key is removed and the waiting pod gets "go": Kafka starts on its data;
- back: that pod is Ready (its broker port answers) and the cluster lists the broker again.

down_brokers() are the brokers held now. Every step is bounded and says in one line what it
waited for.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kafkalab.core.errors import ClusterError
from kafkalab.core.waiting import wait_until
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.kubernetes.gate import say_go
from kafkalab.platforms.kubernetes.jobs import api_error, stuck_reason

POD_TIMEOUT_S = 120  # a deleted pod gone, its successor created


def _ready(pod: k8s.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])) if pod.status else False


@dataclass
class BrokerFaults:
    """The fault side of one cluster's broker pods (see the module doc)."""

    core: k8s.CoreV1Api
    namespace: str
    registered: Callable[[], set[int]]  # node ids the cluster lists now (through its KafkaLevel)
    poll_s: float = 0.5
    _down: dict[int, str] = field(default_factory=dict)  # node id -> uid of the pod the fault deleted
    _started: dict[int, tuple[int, str]] = field(default_factory=dict)  # mark -> (node id, uid let go)
    _marks: itertools.count = field(default_factory=lambda: itertools.count(1))

    @staticmethod
    def pod_name(node_id: int) -> str:
        return f"{m.Layout.set_name('broker')}-{node_id}"

    def _pod(self, name: str) -> k8s.V1Pod | None:
        try:
            return self.core.read_namespaced_pod(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ClusterError(f"kubernetes: reading pod {name}: {api_error(exc)}") from None

    # -- the holds ConfigMap ----------------------------------------------------------------

    def _set_hold(self, name: str, held: bool) -> None:
        """Add or remove pod `name` as a key of HOLDS_CONFIG_MAP (created on first use)."""
        try:
            try:
                holds = self.core.read_namespaced_config_map(m.HOLDS_CONFIG_MAP, self.namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                if held:
                    self.core.create_namespaced_config_map(self.namespace, k8s.V1ConfigMap(
                        metadata=k8s.V1ObjectMeta(name=m.HOLDS_CONFIG_MAP), data={name: "held"}))
                return
            data = dict(holds.data or {})
            if held:
                data[name] = "held"
            else:
                data.pop(name, None)
            holds.data = data
            self.core.replace_namespaced_config_map(m.HOLDS_CONFIG_MAP, self.namespace, holds)
        except ApiException as exc:
            raise ClusterError(f"kubernetes: {'holding' if held else 'releasing'} {name} in ConfigMap "
                               f"{m.HOLDS_CONFIG_MAP}: {api_error(exc)}") from None

    # -- the faults ---------------------------------------------------------------------------

    def take_down(self, node_id: int, *, grace_s: float | None) -> None:
        """Hold broker `node_id` down and delete its pod: grace None = kill (grace period 0),
        else a clean shutdown waited for up to `grace_s` and then some."""
        name = self.pod_name(node_id)
        pod = self._pod(name)
        if pod is None:
            raise ClusterError(f"kubernetes: broker {node_id} has no pod {name} in {self.namespace}")
        self._set_hold(name, True)
        grace = 0 if grace_s is None else max(1, int(grace_s))
        try:
            self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=grace,
                                            body=k8s.V1DeleteOptions(grace_period_seconds=grace))
        except ApiException as exc:
            raise ClusterError(f"kubernetes: deleting pod {name}: {api_error(exc)}") from None
        self._down[node_id] = pod.metadata.uid
        if grace_s is not None:
            wait_until(lambda: self._gone(name, pod.metadata.uid), grace + 30, f"pod {name} shut down",
                       interval=self.poll_s, error=ClusterError)

    def _gone(self, name: str, uid: str) -> bool:
        pod = self._pod(name)
        return pod is None or pod.metadata.uid != uid

    def bring_back(self, node_id: int) -> int:
        """Release the hold and say go to the pod that waits in its place; a mark for wait_back."""
        if node_id not in self._down:
            raise ClusterError(f"kubernetes: broker {node_id} is not down")
        name = self.pod_name(node_id)
        self._set_hold(name, False)
        old_uid = self._down[node_id]
        successor: list[k8s.V1Pod] = []

        def recreated() -> bool:
            pod = self._pod(name)
            ok = pod is not None and pod.metadata.uid != old_uid and pod.metadata.deletion_timestamp is None
            successor[:] = [pod] if ok else []
            return ok

        wait_until(recreated, POD_TIMEOUT_S, f"the StatefulSet recreating pod {name}", interval=self.poll_s,
                   error=ClusterError)
        say_go(self.core, self.namespace, name)
        del self._down[node_id]
        mark = next(self._marks)
        self._started[mark] = (node_id, successor[0].metadata.uid)
        return mark

    def wait_back(self, node_id: int, since: int, timeout_s: float) -> None:
        """Until the broker let go at `since` serves: its pod Ready, and the cluster lists it."""
        name = self.pod_name(node_id)
        if self._started.get(since, (None,))[0] != node_id:
            raise ClusterError(f"kubernetes: broker {node_id} was not started again at mark {since}")
        state = {"why": "no pod yet"}

        def serving() -> bool:
            pod = self._pod(name)
            if pod is None or pod.metadata.deletion_timestamp is not None:
                state["why"] = f"pod {name} not there"
                return False
            if reason := stuck_reason(pod):
                raise ClusterError(f"{name} after its restart: {reason}")
            if not _ready(pod):
                state["why"] = f"pod {name} not Ready"
                return False
            if node_id not in self.registered():
                state["why"] = f"broker {node_id} not registered"
                return False
            return True

        wait_until(serving, timeout_s, f"{name} serving after its restart", interval=self.poll_s,
                   detail=lambda: state["why"], error=ClusterError)

    def down(self) -> list[int]:
        return sorted(self._down)
