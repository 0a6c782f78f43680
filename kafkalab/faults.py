"""Broker faults during the producer test: the spec's `faults:`, checked and injected.

A fault is "kill (SIGKILL) or stop (clean shutdown) broker K at T seconds into the producer
test, start it again after D seconds (or leave it down)". The model is platform-neutral:
broker K is the node id / ordinal (kafka-K), so on Kubernetes the same entry deletes pod
kafka-K (grace period 0 for kill, its own for stop). This module has the rules a spec's
faults must follow (`check_faults`, `fault_warnings`) and the injector of the local
platform, which works on a LocalCluster's broker processes.

Timing: the injector's clock starts when the producer instances get "go" behind their
start barrier (kafkalab.loadtest), so `at_s` means the same for every instance. Every
action and restart is recorded as a FaultEvent (seconds from "go") and stored with the run.

Scope: the faults belong to one run. When the producers finish, faults not yet injected
are `skipped` and planned restarts not yet done happen at once; a broker left down on
purpose stays down through the consumer test and the integrity count and is started again
when the run ends (`finish`), so the next repetition starts from a whole cluster. On
Ctrl-C or a failure nothing is restarted: teardown stops the cluster.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kafkalab.errors import ClusterError
from kafkalab.model import FaultEvent

if TYPE_CHECKING:
    from kafkalab.platforms.local import LocalCluster
    from kafkalab.spec import ExperimentSpec, FaultSpec

Progress = Callable[[str], None]

STOP_GRACE_S = 30  # a clean shutdown gets this long before SIGKILL


# ---------------------------------------------------------------------------------------
# Rules


def _down_intervals(faults: list[FaultSpec]) -> list[tuple[float, float, int, int]]:
    """(from, until, broker, index) per fault; until = inf when the broker stays down."""
    return [
        (f.at_s, f.at_s + f.restart_after_s if f.restart_after_s is not None else float("inf"), f.broker, i)
        for i, f in enumerate(faults)
    ]


def _most_down_at_once(faults: list[FaultSpec]) -> tuple[int, set[int]]:
    """The largest number of brokers down at the same moment, and which."""
    intervals = _down_intervals(faults)
    best: tuple[int, set[int]] = (0, set())
    for start, _, _, _ in intervals:
        down = {b for s, u, b, _ in intervals if s <= start < u}
        if len(down) > best[0]:
            best = (len(down), down)
    return best


def min_insync_replicas(spec: ExperimentSpec) -> int:
    """The topic's effective min.insync.replicas: its own setting, the brokers', else Kafka's 1."""
    for value in (spec.topic.config.get("min.insync.replicas"), spec.cluster.broker_config.get("min.insync.replicas")):
        if value is not None and str(value).isdigit():
            return int(value)
    return 1


def acks_all(spec: ExperimentSpec) -> bool:
    return str(spec.producer.props.get("acks", "all")).strip().lower() in ("all", "-1")  # Kafka 4's default is all


def check_faults(spec: ExperimentSpec) -> None:
    """Reject faults that cannot run; raise ValueError naming the field (the spec model's rule).

    Rejected: faults on a platform that cannot inject them yet (Kubernetes); a broker the cluster does not have; an at_s past the producers' timeout; a
    fault on a broker that is still down from an earlier one; and brokers left down for good
    that hold every replica of some partitions (as many as the replication factor), since the
    producers could then never finish. What only slows the test down (writes waiting for a
    broker to come back) is allowed, with a warning (`fault_warnings`).
    """
    faults = spec.faults
    if not faults:
        return
    if spec.platform != "local":
        raise ValueError(
            f"faults: injected on the local platform only so far (platform {spec.platform}: "
            "deleting pod kafka-K is the same model, not implemented yet)"
        )
    brokers = spec.cluster.brokers
    for i, fault in enumerate(faults):
        if fault.broker >= brokers:
            raise ValueError(
                f"faults.{i}.broker: {fault.broker} is not a broker of this cluster "
                f"(node ids 0..{brokers - 1} for cluster.brokers {brokers})"
            )
        if fault.at_s >= spec.producer.timeout_s:
            raise ValueError(f"faults.{i}.at_s: {fault.at_s:g} is past producer.timeout_s ({spec.producer.timeout_s:g})")
    intervals = _down_intervals(faults)
    for start, until, broker, i in intervals:
        for other_start, other_until, other_broker, j in intervals:
            if j != i and other_broker == broker and other_start <= start < other_until and (other_start, j) < (start, i):
                still = "stays down" if other_until == float("inf") else f"is down until {other_until:g}s"
                raise ValueError(f"faults.{i}.at_s: broker {broker} {still} after faults.{j}")
    forever = sorted({f.broker for f in faults if f.restart_after_s is None})
    rf = spec.topic.replication_factor
    if len(forever) >= rf:
        raise ValueError(
            f"faults: brokers {forever} stay down (no restart_after_s) with topic.replication_factor {rf}: "
            "some partitions would keep no replica and the producers could never finish"
        )


def fault_warnings(spec: ExperimentSpec) -> list[str]:
    """What the faults will do to the test, said before it starts (the injector logs these)."""
    if not spec.faults:
        return []
    warnings: list[str] = []
    rf = spec.topic.replication_factor
    most, down = _most_down_at_once(spec.faults)
    if rf == 1:
        warnings.append(
            "faults with topic.replication_factor 1: the partitions of a broker that is down take no writes "
            "until it is back, and records it acknowledged but had not flushed may be lost"
        )
    elif most >= rf:
        warnings.append(
            f"faults: brokers {sorted(down)} are down at the same time with topic.replication_factor {rf}: "
            "some partitions have no replica until one is back; their records wait in the producers"
        )
    elif acks_all(spec) and most > rf - (min_isr := min_insync_replicas(spec)):
        warnings.append(
            f"faults: {most} brokers down at once with acks=all and min.insync.replicas "
            f"{min_isr} (replication {rf}): writes to some partitions are refused "
            "(NotEnoughReplicas) until a broker is back"
        )
    p = spec.producer
    if p.throughput > 0:
        expected_s = p.num_records / p.throughput
        for i, fault in enumerate(spec.faults):
            if fault.at_s >= expected_s:
                warnings.append(
                    f"faults.{i}.at_s: {fault.at_s:g}s is past the producer test's expected length "
                    f"(~{expected_s:.0f}s at {p.throughput:g} records/s): skipped if the producers finish first"
                )
    return warnings


# ---------------------------------------------------------------------------------------
# Injection on the local platform


class FaultInjector:
    """Runs a spec's faults against a LocalCluster's broker processes while the producers run.

    Use: `with injector.around_producers(): run_producers(..., on_go=injector.start)`, then,
    when the run's counts are taken, `events = injector.finish()`.
    """

    def __init__(
        self,
        cluster: LocalCluster,
        faults: list[FaultSpec],
        *,
        ready_timeout_s: float = 120,
        stop_grace_s: float = STOP_GRACE_S,
        on_progress: Progress | None = None,
    ) -> None:
        self.cluster = cluster
        self.ready_timeout_s = ready_timeout_s
        self.stop_grace_s = stop_grace_s
        self._progress = on_progress or (lambda _msg: None)
        self.events = [
            FaultEvent(seq=i, action=f.action, broker=f.broker, planned_at_s=f.at_s,
                       planned_restart_after_s=f.restart_after_s)
            for i, f in enumerate(faults)
        ]
        self._t0: float | None = None
        self._done = threading.Event()
        self._aborted = False
        self._thread: threading.Thread | None = None
        self._waiters: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- the producers' side

    def start(self) -> None:
        """The producers got "go": the faults' clock starts now."""
        if self._thread is not None:
            return
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="fault-injector", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def around_producers(self) -> Iterator[FaultInjector]:
        """The producer test's span: on success, settle the faults; on any failure, inject no more."""
        try:
            yield self
        except BaseException:
            self.abort()
            raise
        self.producers_finished()

    def producers_finished(self) -> None:
        """No more faults; planned restarts still to come happen now, and are waited for."""
        self._stop_thread()
        for event in self.events:
            if event.at_s is None and event.outcome == "skipped":
                self._progress(f"fault {event.seq} ({event.action} broker {event.broker} at {event.planned_at_s:g}s) "
                               "skipped: the producers finished first")
            elif event.outcome == "down" and event.planned_restart_after_s is not None and event.restarted_at_s is None:
                self._progress(f"broker {event.broker}: started again now, the producers finished before its planned restart")
                self._restart(event)
        self._join_waiters()

    def abort(self) -> None:
        """Ctrl-C or a failure: inject and restart nothing more (teardown stops the cluster)."""
        self._aborted = True
        self._stop_thread(timeout=5)

    def finish(self) -> list[FaultEvent]:
        """End of the run: start every broker that is still down, wait until it serves; the events."""
        self._stop_thread()
        self._join_waiters()
        if self._aborted:
            return self.events
        problems = []
        for node in list(self.cluster.brokers):
            if node.process is not None and node.process.poll() is not None:
                self._progress(f"broker {node.node_id}: started again after the run (it was left down)")
                try:
                    self.cluster.restart_broker(node.node_id, timeout_s=self.ready_timeout_s)
                except ClusterError as exc:
                    problems.append(str(exc))
        if problems:
            raise ClusterError(f"after the faults: {problems[0]}")
        return self.events

    # -- the injector's thread

    def _offset(self) -> float:
        assert self._t0 is not None
        return round(time.monotonic() - self._t0, 3)

    def _plan(self) -> list[tuple[float, int, FaultEvent]]:
        """(seconds from go, 0 = restart / 1 = fault, event), in order: a restart first at a tie."""
        plan = [(e.planned_at_s, 1, e) for e in self.events]
        plan += [(e.planned_at_s + e.planned_restart_after_s, 0, e) for e in self.events
                 if e.planned_restart_after_s is not None]
        return sorted(plan, key=lambda item: (item[0], item[1], item[2].seq))

    def _run(self) -> None:
        assert self._t0 is not None
        for when, kind, event in self._plan():
            if self._done.wait(max(0.0, self._t0 + when - time.monotonic())):
                return
            if kind == 1:
                self._inject(event)
            else:
                self._restart(event)

    def _inject(self, event: FaultEvent) -> None:
        with self._lock:
            if self._aborted:
                return
            event.at_s = self._offset()
            event.down_at = datetime.now(timezone.utc)
        try:
            if event.action == "kill":
                self.cluster.kill_broker(event.broker)
                how = "killed (SIGKILL)"
            else:
                self.cluster.stop_broker(event.broker, grace_s=self.stop_grace_s)
                how = "stopped (clean shutdown)"
        except Exception as exc:  # noqa: BLE001 - recorded with the run
            event.outcome, event.error = "failed", f"{type(exc).__name__}: {exc}"
            self._progress(f"fault {event.seq}: {event.action} broker {event.broker} failed: {exc}")
            return
        event.outcome = "down"
        then = (f", back in {event.planned_restart_after_s:g}s" if event.planned_restart_after_s is not None
                else ", stays down")
        self._progress(f"fault {event.seq}: broker {event.broker} {how} at {event.at_s:.1f}s{then}")

    def _restart(self, event: FaultEvent) -> None:
        with self._lock:
            if self._aborted or event.outcome != "down":
                return  # the fault itself did not happen
            try:
                log_offset = self.cluster.start_broker(event.broker)
            except Exception as exc:  # noqa: BLE001 - recorded with the run
                event.outcome, event.error = "failed", f"restart: {type(exc).__name__}: {exc}"
                self._progress(f"broker {event.broker}: restart failed: {exc}")
                return
            event.restarted_at_s = self._offset()
        self._progress(f"broker {event.broker}: started again at {event.restarted_at_s:.1f}s (same data and port)")
        waiter = threading.Thread(target=self._await_back, args=(event, log_offset),
                                  name=f"broker-{event.broker}-back", daemon=True)
        self._waiters.append(waiter)
        waiter.start()

    def _await_back(self, event: FaultEvent, log_offset: int) -> None:
        try:
            self.cluster.wait_broker_back(event.broker, log_offset, timeout_s=self.ready_timeout_s)
        except Exception as exc:  # noqa: BLE001 - recorded with the run
            event.outcome, event.error = "failed", f"restart: {exc}"
            self._progress(f"broker {event.broker}: did not come back: {exc}")
            return
        event.ready_at_s = self._offset()
        event.outcome = "restarted"
        self._progress(f"broker {event.broker}: serving again at {event.ready_at_s:.1f}s")

    def _stop_thread(self, timeout: float | None = None) -> None:
        self._done.set()
        if self._thread is not None:
            # An action under way completes: a clean shutdown may take its grace period.
            self._thread.join(timeout=timeout if timeout is not None else self.stop_grace_s + 30)

    def _join_waiters(self) -> None:
        for waiter in list(self._waiters):
            waiter.join(timeout=self.ready_timeout_s + 10)
