"""Broker faults during the producer test: the spec's `faults:`, checked and injected.

A fault is "kill (SIGKILL) or stop (clean shutdown) broker K at T seconds into the producer
test, start it again after D seconds (or leave it down)". The model is platform-neutral:
broker K is the node id / ordinal (kafka-K), so on Kubernetes the same entry deletes pod
kafka-K (grace period 0 for kill, its own for stop). The rules a spec's faults follow
are in kafkalab.spec.faults; this module injects them while the producers run.

Timing: the injector's clock starts when the producer instances get "go" behind their
start barrier (kafkalab.load.runner), so `at_s` means the same for every instance. Every
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

from kafkalab.core.errors import ClusterError
from kafkalab.model import FaultEvent

if TYPE_CHECKING:
    from kafkalab.platforms.base import Cluster
    from kafkalab.spec import FaultSpec

Progress = Callable[[str], None]

STOP_GRACE_S = 30  # a clean shutdown gets this long before SIGKILL


class FaultInjector:
    """Runs a spec's faults against a cluster's brokers while the producers run (the platform's
    kill_broker / stop_broker / start_broker / wait_broker_back; see Cluster.capabilities).

    Use: `with injector.around_producers(): run_producers(..., on_go=injector.start)`, then,
    when the run's counts are taken, `events = injector.finish()`.
    """

    def __init__(
        self,
        cluster: Cluster,
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
        for broker in self.cluster.down_brokers():
            self._progress(f"broker {broker}: started again after the run (it was left down)")
            try:
                self.cluster.restart_broker(broker, timeout_s=self.ready_timeout_s)
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
                since = self.cluster.start_broker(event.broker)
            except Exception as exc:  # noqa: BLE001 - recorded with the run
                event.outcome, event.error = "failed", f"restart: {type(exc).__name__}: {exc}"
                self._progress(f"broker {event.broker}: restart failed: {exc}")
                return
            event.restarted_at_s = self._offset()
        self._progress(f"broker {event.broker}: started again at {event.restarted_at_s:.1f}s (same data and port)")
        waiter = threading.Thread(target=self._await_back, args=(event, since),
                                  name=f"broker-{event.broker}-back", daemon=True)
        self._waiters.append(waiter)
        waiter.start()

    def _await_back(self, event: FaultEvent, since: int) -> None:
        try:
            self.cluster.wait_broker_back(event.broker, since, timeout_s=self.ready_timeout_s)
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
