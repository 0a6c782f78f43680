"""Perf tests as Kubernetes Jobs: run one, watch that its pods get scheduled, collect the results.

A pod's result is its termination message (the container writes the tool's summary lines
to /dev/termination-log; with FallbackToLogsOnError a failed container's log tail stands in),
and its log, read raw, for the progress windows and the output kept with the run. With
per-index retries an instance may have several pods: the Succeeded one counts. Every Job's
pods start behind the start barrier of gate.py.

A Job whose pods cannot be scheduled (more `one-per-node` producers than nodes, no room)
fails after `schedule_timeout_s` with the scheduler's own reason, and is deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from kafkalab.core.errors import ClusterError
from kafkalab.core.waiting import wait_until
from kafkalab.kafka import perftools
from kafkalab.load.barrier import READY_LINE
from kafkalab.load.barrier import TIMEOUT_S as BARRIER_TIMEOUT_S
from kafkalab.load.runner import ConsumerLoad, LineSink, ProducerLoad, consumer_error, producer_error
from kafkalab.model import ConsumerOutcome, ProducerOutcome, ProducerOutput
from kafkalab.platforms.kubernetes import images as platform_images
from kafkalab.platforms.kubernetes.api_errors import api_error
from kafkalab.platforms.kubernetes.gate import JobBarrier, release_together
from kafkalab.platforms.kubernetes.manifests import COMPLETION_INDEX_ANNOTATION, PERF_JOB_LABEL

ReadLog = Callable[[k8s.V1Pod], str | None]


class SchedulingError(ClusterError):
    """A perf-test pod stayed unschedulable past the timeout; its Job was deleted."""


# --- reading pods (pure) ------------------------------------------------------------------------


def completion_index(pod: k8s.V1Pod) -> int | None:
    meta = pod.metadata
    for source in (meta.annotations or {}, meta.labels or {}):
        value = source.get(COMPLETION_INDEX_ANNOTATION)
        if value is not None and str(value).isdigit():
            return int(value)
    return None


def terminated(pod: k8s.V1Pod) -> k8s.V1ContainerStateTerminated | None:
    for status in (pod.status.container_statuses or []) if pod.status else []:
        if status.state is not None and status.state.terminated is not None:
            return status.state.terminated
    return None


def _finished_at(pod: k8s.V1Pod) -> datetime:
    term = terminated(pod)
    stamp = (term.finished_at if term else None) or pod.metadata.creation_timestamp
    return stamp or datetime.min.replace(tzinfo=timezone.utc)


def pick_pods(pods: Iterable[k8s.V1Pod], completions: int) -> dict[int, k8s.V1Pod | None]:
    """The pod that counts for each completion index: the Succeeded one (the latest, should there
    be several), else the latest attempt (failed, or still pending when the Job was stopped)."""
    by_index: dict[int, list[k8s.V1Pod]] = {i: [] for i in range(completions)}
    for pod in pods:
        index = completion_index(pod)
        index = 0 if index is None else index  # a non-indexed Job's pods
        if index in by_index:
            by_index[index].append(pod)
    picked: dict[int, k8s.V1Pod | None] = {}
    for index, candidates in by_index.items():
        succeeded = [p for p in candidates if p.status and p.status.phase == "Succeeded"]
        pool = succeeded or candidates
        picked[index] = max(pool, key=_finished_at) if pool else None
    return picked


def unscheduled_reason(pod: k8s.V1Pod) -> str | None:
    """Why the scheduler has not placed the pod (its PodScheduled condition), or None if placed."""
    if pod.spec and pod.spec.node_name:
        return None
    for cond in (pod.status.conditions or []) if pod.status else []:
        if cond.type == "PodScheduled" and cond.status != "True":
            return " ".join(f"{cond.reason or 'Unschedulable'}: {cond.message or 'no reason given'}".split())
    return "not scheduled yet"


# Container states that waiting will not cure.
FATAL_WAITING = frozenset({"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                           "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError",
                           "RunContainerError"})
IMAGE_MISSING = frozenset({"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff"})
# Not even a retry helps: the node may not pull (pull policy Never), or the name is invalid.
HOPELESS_WAITING = frozenset({"ErrImageNeverPull", "InvalidImageName"})


def missing_image(pod: k8s.V1Pod, image: str, reason: str, message: str | None) -> str:
    """One line naming the image a node does not have, and how to get it there."""
    node = pod.spec.node_name if pod.spec else None
    where = f" on node {node}" if node else ""
    if reason == "ErrImageNeverPull" or platform_images.is_local(image):
        return (f"image {image} is not{where} ({reason}): build and import it with `{platform_images.BUILD_TARGET}` "
                "(the test bed), or build it from docker/ and push it where the nodes pull from")
    detail = " ".join((message or "").split())[:200]
    return f"image {image} cannot be pulled{where} ({reason}{': ' + detail if detail else ''}): check cluster.kubernetes.image"


def stuck_reason(pod: k8s.V1Pod) -> str | None:
    """Why a placed pod's container cannot start (an image that cannot be pulled, ...), or None."""
    for status in (pod.status.container_statuses or []) if pod.status else []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in IMAGE_MISSING:
            spec_image = next((c.image for c in pod.spec.containers if c.name == status.name), None) if pod.spec else None
            return missing_image(pod, spec_image or status.image, waiting.reason, waiting.message)
        if waiting is not None and waiting.reason in FATAL_WAITING:
            return " ".join(f"{waiting.reason}: {waiting.message or ''}".split())[:400]
    return None


def hopeless(pod: k8s.V1Pod) -> bool:
    """A container state that no wait and no retry cures."""
    return any(s.state is not None and s.state.waiting is not None and s.state.waiting.reason in HOPELESS_WAITING
               for s in ((pod.status.container_statuses or []) if pod.status else []))


def _scheduled_at(pod: k8s.V1Pod) -> datetime:
    for cond in (pod.status.conditions or []) if pod.status else []:
        if cond.type == "PodScheduled" and cond.status == "True" and cond.last_transition_time:
            return cond.last_transition_time
    return pod.metadata.creation_timestamp or datetime.min.replace(tzinfo=timezone.utc)


def shared_nodes(pods: dict[int, k8s.V1Pod | None]) -> dict[int, str]:
    """`one-per-node` broken after the fact: instances whose pod ran on a node another instance
    had used before it (the anti-affinity only holds among running pods, so a pod that waited
    for a node lands where one has finished). Instance -> why, for all but the first on a node."""
    by_node: dict[str, list[tuple[datetime, int]]] = {}
    for index, pod in pods.items():
        if pod is not None and pod.spec and pod.spec.node_name:
            by_node.setdefault(pod.spec.node_name, []).append((_scheduled_at(pod), index))
    problems: dict[int, str] = {}
    for node, users in by_node.items():
        users.sort()
        for _, index in users[1:]:
            problems[index] = (f"ran on {node} after instance {users[0][1]} had run there: one-per-node wants a node "
                               f"per instance at the same time (more instances than free nodes?)")
    return problems


@dataclass(frozen=True)
class PodRun:
    """What a perf-test pod left: its exit, its output, and why it has no result when it did not finish."""

    exit_code: int | None
    message: str  # the termination message: the summary lines the container wrote
    raw: str  # the whole log, else the termination message
    started_at: datetime
    finished_at: datetime
    unfinished: str | None  # why there is no result: no pod ran, or it did not finish


def pod_run(pod: k8s.V1Pod | None, read_log: ReadLog, *, none_ran: str) -> PodRun:
    now = datetime.now(timezone.utc)
    if pod is None:
        return PodRun(None, "", "", now, now, none_ran)
    term = terminated(pod)
    message = (term.message if term else None) or ""
    log = _without_barrier_line(read_log(pod))
    unfinished = None
    if term is None:
        unfinished = f"pod {pod.metadata.name} did not finish ({pod.status.phase if pod.status else 'Unknown'})"
    return PodRun(
        exit_code=term.exit_code if term else None, message=message, raw=log if log is not None else message,
        started_at=(term.started_at if term else None) or now, finished_at=(term.finished_at if term else None) or now,
        unfinished=unfinished,
    )


def _without_barrier_line(log: str | None) -> str | None:
    """The tool's output as a local run keeps it: the start-barrier handshake is not part of it."""
    if log is None or READY_LINE not in log:
        return log
    return "".join(line for line in log.splitlines(keepends=True) if line.strip() != READY_LINE)


def producer_outcome(index: int, pod: k8s.V1Pod | None, *, client_id: str, load: ProducerLoad,
                     read_log: ReadLog) -> ProducerOutcome:
    """One instance's outcome from its pod, parsed with the same parser and rules as a local run."""
    run = pod_run(pod, read_log, none_ran="no pod ran for this instance")
    output = perftools.parse_producer_output(run.raw)
    from_message = perftools.parse_producer_output(run.message)
    if from_message.summary is not None:  # the termination message is what the pod itself reported
        output = ProducerOutput(windows=output.windows, summary=from_message.summary,
                                steady_state=from_message.steady_state or output.steady_state)
    error = run.unfinished or producer_error(run.exit_code, output, load, run.raw)
    return ProducerOutcome(
        instance=index, client_id=client_id, status="failed" if error else "ok", records_requested=load.num_records,
        exit_code=run.exit_code, output=output, raw_output=run.raw, started_at=run.started_at,
        finished_at=run.finished_at, error=error,
    )


def consumer_outcome(pod: k8s.V1Pod | None, *, load: ConsumerLoad, read_log: ReadLog) -> ConsumerOutcome:
    """The consumer test's outcome from its pod, with the same rules as a local run."""
    run = pod_run(pod, read_log, none_ran="no pod ran for the consumer test")
    summary = perftools.parse_consumer_output(run.message) or perftools.parse_consumer_output(run.raw)
    error = run.unfinished or consumer_error(run.exit_code, summary, load, run.raw)
    return ConsumerOutcome(
        status="failed" if error else "ok", messages_requested=load.num_records, exit_code=run.exit_code,
        summary=summary, raw_output=run.raw, started_at=run.started_at, finished_at=run.finished_at, error=error,
    )


# --- running a Job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerfRun:
    """One perf-test Job to run: the Job, its client-config Secret, how many pods count, what it is."""

    job: k8s.V1Job
    secret: k8s.V1Secret
    completions: int
    what: str  # "producers x3": how errors name it
    timeout_s: float

    @property
    def name(self) -> str:
        return self.job.metadata.name


@dataclass
class JobResult:
    pods: dict[int, k8s.V1Pod | None]
    timed_out: bool = False
    logs: dict[str, str | None] = field(default_factory=dict)  # pod uid -> its log, read before the Job went

    def read_log(self, pod: k8s.V1Pod) -> str | None:
        return self.logs.get(pod.metadata.uid)


class JobRunner:
    """Creates a perf-test Job (and its client-config Secret), waits, returns its pods, cleans up."""

    def __init__(self, api: k8s.ApiClient, namespace: str, *, poll_s: float = 0.5,
                 barrier_timeout_s: float = BARRIER_TIMEOUT_S) -> None:
        self.core = k8s.CoreV1Api(api)
        self.batch = k8s.BatchV1Api(api)
        self.namespace = namespace
        self.poll_s = poll_s
        self.barrier_timeout_s = barrier_timeout_s  # pods running but not all ready: "go" anyway after this
        self.last_result: JobResult | None = None  # the pods of the latest Job (gone from the API by now)

    def read_log(self, pod: k8s.V1Pod) -> str | None:
        """The container's whole log as the bytes the kubelet served, decoded (not re-serialized)."""
        try:
            resp = self.core.read_namespaced_pod_log(
                pod.metadata.name, self.namespace, container="perf", _preload_content=False
            )
            data = resp.data
            return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
        except Exception:  # noqa: BLE001 - a log that cannot be read leaves the termination message
            return None

    def read_log_head(self, pod: k8s.V1Pod) -> str | None:
        """The first 64 KiB of the container's log (where the barrier line is), None when unreadable."""
        try:
            resp = self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace, container="perf",
                                                     limit_bytes=65536, _preload_content=False)
            data = resp.data
            return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
        except Exception:  # noqa: BLE001 - not readable yet (the container is starting): not at the barrier
            return None

    def pods(self, job_name: str) -> list[k8s.V1Pod]:
        return self.core.list_namespaced_pod(self.namespace, label_selector=f"{PERF_JOB_LABEL}={job_name}").items

    def run(self, job: k8s.V1Job, secret: k8s.V1Secret, *, completions: int, schedule_timeout_s: float,
            timeout_s: float, what: str, on_started: Callable[[], None] | None = None) -> JobResult:
        """Run the Job to its end behind the start barrier (gate.JobBarrier); `on_started` is called
        when its pods get "go" (the fan-out's start)."""
        (result,) = self.run_together([PerfRun(job, secret, completions, what, timeout_s)],
                                      schedule_timeout_s=schedule_timeout_s, on_started=on_started)
        return result

    def run_together(self, runs: list[PerfRun], *, schedule_timeout_s: float,
                     on_started: Callable[[], None] | None = None) -> list[JobResult]:
        """Several Jobs at once behind one start barrier (consumers alongside the producers: list the
        consumers first, they get go first); one JobResult each, in order. `on_started` at the go."""
        created: list[PerfRun] = []
        try:
            for run in runs:
                created.append(run)
                try:
                    self.core.create_namespaced_secret(self.namespace, run.secret)
                    self.batch.create_namespaced_job(self.namespace, run.job)
                except ApiException as exc:
                    raise ClusterError(f"{run.what}: the API server refused Job {run.name}: {api_error(exc)}") from None
            results = self._wait(runs, schedule_timeout_s=schedule_timeout_s, on_started=on_started)
            for result in results:
                for pod in result.pods.values():  # while the pods exist: deleting the Job takes them along
                    if pod is not None:
                        result.logs[pod.metadata.uid] = self.read_log(pod)
            self.last_result = results[-1]
            return results
        finally:
            for run in created:
                self._delete(run.name, run.secret.metadata.name)

    def _wait(self, runs: list[PerfRun], *, schedule_timeout_s: float,
              on_started: Callable[[], None] | None) -> list[JobResult]:
        """Follow the Jobs' pods in the API server's order of events (a watch) until every Job ends.

        It fails (SchedulingError) when a pod stays unschedulable past `schedule_timeout_s`, and
        at once when an instance ends while another one of its Job is still unschedulable: that
        one could only run after the others, so the instances would not overlap as a fan-out must.
        """
        started = time.monotonic()
        by_name = {run.name: run for run in runs}
        pods: dict[str, k8s.V1Pod] = {}
        unscheduled_since: dict[str, float] = {}
        gates = {run.name: JobBarrier(self.core, self.namespace, run.completions, self.read_log_head,
                                      index_of=completion_index, timeout_s=self.barrier_timeout_s) for run in runs}
        finished: set[str] = set()
        selector = (f"{PERF_JOB_LABEL}={runs[0].name}" if len(runs) == 1
                    else f"{PERF_JOB_LABEL} in ({','.join(by_name)})")
        watcher = watch.Watch()
        resource_version: str | None = None
        while True:
            try:
                for event in watcher.stream(self.core.list_namespaced_pod, self.namespace,
                                            label_selector=selector, timeout_seconds=1,
                                            resource_version=resource_version):
                    pod = event["object"]
                    if event["type"] == "DELETED":
                        pods.pop(pod.metadata.uid, None)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        pods[pod.metadata.uid] = pod
                        if _terminal(pod):
                            run = by_name[_job_of(pod)]
                            self._check_overlap(pod, [p for p in pods.values() if _job_of(p) == run.name],
                                                run.completions, run.what, run.name)
                resource_version = watcher.resource_version
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: the watch is too old, start over from a fresh list
                    raise
                resource_version = None
            current = list(pods.values())
            of_job = {name: [p for p in current if _job_of(p) == name] for name in by_name}
            if release_together([(gates[name], of_job[name]) for name in by_name]) and on_started is not None:
                on_started()
                on_started = None
            finished |= {name for name in by_name if name not in finished
                         and _finished(self.batch.read_namespaced_job_status(name, self.namespace))}
            if len(finished) == len(runs):
                if on_started is not None:
                    on_started()
                return [JobResult(pick_pods(self.pods(run.name), run.completions)) for run in runs]
            now = time.monotonic()
            for pod in current:
                run = by_name[_job_of(pod)]
                reason = None if _terminal(pod) else unscheduled_reason(pod)
                stuck = None if _terminal(pod) or reason else stuck_reason(pod)
                if reason is None and stuck is None:
                    unscheduled_since.pop(pod.metadata.uid, None)
                    continue
                if stuck and hopeless(pod):
                    raise SchedulingError(f"{run.what}: pod {pod.metadata.name}{_instance(pod, run.completions)}: "
                                          f"{stuck}; Job {run.name} deleted")
                if now - unscheduled_since.setdefault(pod.metadata.uid, now) > schedule_timeout_s:
                    what_failed = "not scheduled" if reason else "not started"
                    raise SchedulingError(
                        f"{run.what}: pod {pod.metadata.name}{_instance(pod, run.completions)} {what_failed} after "
                        f"{schedule_timeout_s:.0f}s: {(self._scheduler_event(pod) if reason else None) or reason or stuck}"
                        f"; Job {run.name} deleted"
                    )
            for name, run in by_name.items():
                if not of_job[name] and now - started > schedule_timeout_s:
                    raise SchedulingError(f"{run.what}: Job {name} created no pod in {schedule_timeout_s:.0f}s: "
                                          f"{self._job_event(name) or 'no event'}; Job deleted")
            if now - started > max(run.timeout_s for run in runs) + schedule_timeout_s:
                return [JobResult(pick_pods(self.pods(run.name), run.completions), timed_out=True) for run in runs]

    def _check_overlap(self, ended: k8s.V1Pod, pods, completions: int, what: str, name: str) -> None:
        for pod in pods:
            if pod is ended or _terminal(pod) or (pod.spec and pod.spec.node_name):
                continue
            reason = unscheduled_reason(pod)
            if reason and reason.startswith("Unschedulable"):
                raise SchedulingError(
                    f"{what}: pod {pod.metadata.name}{_instance(pod, completions)} could not be scheduled while the "
                    f"other instances ran ({self._scheduler_event(pod) or reason}); Job {name} deleted"
                )

    def _scheduler_event(self, pod: k8s.V1Pod) -> str | None:
        """The latest FailedScheduling event of the pod, when its condition says less."""
        try:
            events = self.core.list_namespaced_event(
                self.namespace, field_selector=f"involvedObject.name={pod.metadata.name},reason=FailedScheduling"
            ).items
        except ApiException:
            return None
        if not events:
            return None
        latest = max(events, key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp)
        return f"FailedScheduling: {' '.join((latest.message or '').split())}" if latest.message else None

    def _job_event(self, name: str) -> str | None:
        try:
            events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}").items
        except ApiException:
            return None
        return " ".join((events[-1].message or "").split()) if events else None

    def _delete(self, job_name: str, secret_name: str, *, timeout_s: float = 60) -> None:
        """Delete the Job with its pods (foreground: the Job goes once its pods are gone) and wait."""
        body = k8s.V1DeleteOptions(propagation_policy="Foreground", grace_period_seconds=0)
        for delete, target in ((self.batch.delete_namespaced_job, job_name),
                               (self.core.delete_namespaced_secret, secret_name)):
            try:
                delete(target, self.namespace, body=body)
            except ApiException as exc:
                if exc.status != 404:
                    raise ClusterError(f"deleting {target}: {api_error(exc)}") from None
        def gone() -> bool:
            try:
                self.batch.read_namespaced_job(job_name, self.namespace)
            except ApiException as exc:
                return exc.status == 404 and not self.pods(job_name)
            return False

        wait_until(gone, timeout_s, f"Job {job_name} and its pods deleted", interval=self.poll_s,
                   error=ClusterError)


def _terminal(pod: k8s.V1Pod) -> bool:
    return bool(pod.status and pod.status.phase in ("Succeeded", "Failed"))


def _job_of(pod: k8s.V1Pod) -> str:
    return (pod.metadata.labels or {}).get(PERF_JOB_LABEL, "")


def _instance(pod: k8s.V1Pod, completions: int) -> str:
    index = completion_index(pod)
    return f" (instance {index} of {completions})" if index is not None and completions > 1 else ""


def _finished(job: k8s.V1Job) -> bool:
    for cond in (job.status.conditions or []) if job.status else []:
        if cond.type in ("Complete", "Failed") and cond.status == "True":
            return True
    return False


def keep_output(work_dir: Path, name: str, text: str, on_line: LineSink | None) -> None:
    """The tool's output, as a local run keeps it: <run dir>/<topic>/<name>.log, and line by line to on_line."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / f"{name}.log").write_text(text, encoding="utf-8")
    if on_line:
        for line in text.splitlines():
            on_line(name, line)
