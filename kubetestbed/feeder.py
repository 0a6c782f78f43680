"""Real tool output for pods on fake nodes, where no container runs to produce it.

A test registers a feed: "pods in namespace N whose name starts with P print the lines of
FILE, and (pods of Jobs) end with exit code C and termination message M". The feeder, a
thread of the control plane, polls the API for pods and, for each new pod:

- a matching feed: creates kwok's `Logs` object for the pod (kwok.x-k8s.io/v1alpha1; its
  name is the pod's), pointing at a CRI-format copy of FILE. kwok's kubelet-like server
  then answers the apiserver's pods/log proxying with it, so `read_namespaced_pod_log`
  and `kubectl logs` see the lines;
- a pod of a Job: annotates it with the exit code ("0" when no feed matches) and the
  message. Only then does kwok's stage (stages/job-pod-outcome.yaml) end the pod, so a
  pod never finishes before its output is in place.

A Job pod behind kafkalab's start gate (a downward API volume of its annotation
kafkalab.io/start, kafkalab/platforms/kubernetes/gate.py) is decided only once it has "go",
as its container would wait there.

Register feeds before the pods are created: a Job pod that appeared earlier already ended.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

EXIT_CODE_ANNOTATION = "kafkalab.io/fake-exit-code"
MESSAGE_ANNOTATION = "kafkalab.io/fake-termination-message"
START_ANNOTATION = "kafkalab.io/start"
TERMINATION_MESSAGE_LIMIT = 4096  # what the kubelet keeps of a container's termination message
POLL_INTERVAL_S = 0.2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feed:
    namespace: str
    pod_name_prefix: str
    cri_log_file: Path | None
    termination_message: str | None
    exit_code: int

    def matches(self, namespace: str, pod_name: str) -> bool:
        return namespace == self.namespace and pod_name.startswith(self.pod_name_prefix)


def to_cri_log(source: Path, target: Path) -> Path:
    """Copy a plain text file into the CRI log format (`<time> stdout F <line>`), the only
    format kwok's log server reads (it reuses the kubelet's CRI log reader)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = source.read_text(encoding="utf-8", errors="replace")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as out:
        for line in text.splitlines():
            out.write(f"{stamp} stdout F {line}\n")
    return target


class OutputFeeder:
    def __init__(self, api: client.ApiClient, logs_dir: Path) -> None:
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._logs_dir = logs_dir
        self._feeds: list[Feed] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._logged: set[str] = set()  # pod uids with a Logs object
        self._decided: set[str] = set()  # Job pod uids annotated with their outcome
        self._file_ids = itertools.count(1)
        self._thread = threading.Thread(target=self._run, name="kube-testbed-feeder", daemon=True)
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def add(self, namespace: str, pod_name_prefix: str, log_file: Path | None, *,
            termination_message: str | None, exit_code: int) -> Feed:
        cri_file = None
        if log_file is not None:
            cri_file = to_cri_log(Path(log_file), self._logs_dir / namespace / f"feed-{next(self._file_ids)}.log")
        if termination_message is not None:
            termination_message = termination_message[-TERMINATION_MESSAGE_LIMIT:]
        feed = Feed(namespace, pod_name_prefix, cri_file, termination_message, exit_code)
        with self._lock:
            self._feeds.insert(0, feed)  # the newest feed wins where several match
        return feed

    def _matching(self, namespace: str, name: str) -> Feed | None:
        with self._lock:
            return next((f for f in self._feeds if f.matches(namespace, name)), None)

    def _run(self) -> None:
        while not self._stopping.wait(POLL_INTERVAL_S):
            try:
                for pod in self._core.list_pod_for_all_namespaces(_request_timeout=10).items:
                    self._handle(pod)
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - keep feeding; the API may be restarting
                self.last_error = f"{type(error).__name__}: {error}"
                log.debug("feeder: %s", self.last_error)

    def _handle(self, pod: client.V1Pod) -> None:
        meta = pod.metadata
        if meta.deletion_timestamp is not None:
            return
        feed = self._matching(meta.namespace, meta.name)
        if feed is not None and feed.cri_log_file is not None and meta.uid not in self._logged:
            self._create_logs_object(meta, feed.cri_log_file)
            self._logged.add(meta.uid)
        is_job_pod = any(ref.kind == "Job" for ref in meta.owner_references or [])
        if is_job_pod and _waits_for_go(pod) and (meta.annotations or {}).get(START_ANNOTATION) != "go":
            return  # its container would still wait at the start gate
        if is_job_pod and meta.uid not in self._decided:
            if EXIT_CODE_ANNOTATION not in (meta.annotations or {}):  # the pod's spec may decide itself
                annotations = {EXIT_CODE_ANNOTATION: str(feed.exit_code if feed else 0)}
                if feed is not None and feed.termination_message is not None:
                    annotations[MESSAGE_ANNOTATION] = feed.termination_message
                self._core.patch_namespaced_pod(meta.name, meta.namespace,
                                                {"metadata": {"annotations": annotations}})
            self._decided.add(meta.uid)

    def _create_logs_object(self, meta: client.V1ObjectMeta, cri_log_file: Path) -> None:
        body = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Logs",
            "metadata": {"name": meta.name, "namespace": meta.namespace},
            # no container names: the one entry serves every container of the pod
            "spec": {"logs": [{"logsFile": str(cri_log_file), "follow": False}]},
        }
        try:
            self._custom.create_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", meta.namespace, "logs", body)
        except ApiException as error:
            if error.status != 409:  # a pod of the same name before (a StatefulSet's): point it at the new file
                raise
            self._custom.patch_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", meta.namespace, "logs",
                                                        meta.name, {"spec": body["spec"]})


def _waits_for_go(pod: client.V1Pod) -> bool:
    """Whether the pod reads its start annotation (the gate's downward API volume)."""
    for volume in (pod.spec.volumes or []) if pod.spec else []:
        for item in (volume.downward_api.items or []) if volume.downward_api else []:
            if item.field_ref is not None and START_ANNOTATION in (item.field_ref.field_path or ""):
                return True
    return False
