"""The start barrier every load instance waits behind, whichever tool it runs.

An instance boots its JVM, loads its client, prints READY_LINE and blocks on stdin; once
every instance is there (or has died), each gets "go" at the same moment, so that their
measurement windows overlap as the guide's parallel producers do. ProducerPerformance gets
it from kafkalab/java/StartBarrier.java, kafkalab's load generator has it built in.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import WaitTimeout, wait_until
from kafkalab.kafka.loadgen import BARRIER_LINE as READY_LINE  # StartBarrier.java prints it too
TIMEOUT_S = 180  # JVM start-up of many instances on a small machine


class Sink:
    """An instance's output sink: notes READY_LINE, passes every other line on."""

    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self.ready = threading.Event()
        self._on_line = on_line

    def __call__(self, line: str) -> None:
        if line == READY_LINE:
            self.ready.set()
        elif self._on_line is not None:
            self._on_line(line)


def release(waiting: Sequence[tuple[ManagedProcess, Sink]], *, timeout_s: float) -> None:
    """Wait until every instance is at the barrier (or has died), then let all go at once.

    One that hangs is not waited for beyond `timeout_s`: its outcome will say so, and the
    others still run.
    """

    def all_at_barrier() -> bool:
        return all(sink.ready.is_set() or proc.poll() is not None for proc, sink in waiting)

    with contextlib.suppress(WaitTimeout):
        wait_until(all_at_barrier, timeout_s, "every load instance at the start barrier", interval=0.05)
    for proc, _ in waiting:
        proc.send("go")
