"""The brokers' JMX during a run: one sampler JVM for every broker.

The sampler is the load generator's `jmx` command (kafkalab/java/loadgen JmxCommand): one JVM
whatever the broker count, where Kafka's JmxTool would need one per broker. It reads every
broker once as a baseline, prints `kafkalab-jmx-ready`, then per interval one line per broker:

    kafkalab-jmx {"source": "broker-0", "at_ms": 1796135033306, "metrics": {"bytes_in_per_sec": ...}}
    kafkalab-jmx {"source": "broker-1", "at_ms": 1796135033306, "error": "IOException: ..."}

A broker that does not answer gets a sample of None for each metric at that time (stored as
missing, never as zero), one warning when it stops answering and one when it is back. The
JVM ends when its stdin closes, so it cannot outlive the process that started it.

Targets reachable only inside some place (MetricsTarget.inside: a Kubernetes broker pod, whose
JMX listens on the pod's loopback only) get one sampler there each, started by the platform
(Cluster.run_loadgen_inside) with the same arguments; their lines are read here the same way.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kafkalab.core.processes import ManagedProcess
from kafkalab.core.waiting import WaitTimeout, wait_until
from kafkalab.kafka import loadgen
from kafkalab.kafka.distribution import KafkaDistribution
from kafkalab.metrics import names as n
from kafkalab.model import MetricSample
from kafkalab.platforms.base import MetricsTarget, SamplerProcess

READY_LINE = "kafkalab-jmx-ready"
SAMPLE_PREFIX = "kafkalab-jmx "
READY_TIMEOUT_S = 30.0  # JVM start and one read of every broker; longer means something is wrong
HEAP_MB = 64
# The client compiler only: the sampler's steady state then costs about 0.6% of a core at a 1 s
# interval instead of 4-5% (C2 keeps compiling the RMI path of a process this quiet), measured
# against one broker on the development machine (docs/performance.md, Metrics collection).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1",)

BROKER_METRICS: tuple[str, ...] = (
    n.BYTES_IN, n.BYTES_OUT, n.MESSAGES_IN, n.REQUEST_HANDLER_IDLE, n.NETWORK_PROCESSOR_IDLE, n.UNDER_REPLICATED,
    n.ISR_SHRINKS, n.LOG_FLUSH_P99, n.GC_TIME, n.BROKER_PROCESS_CPU,
    *(n.request_p99(request, part) for request in n.REQUESTS for part in n.REQUEST_PARTS),
)

Progress = Callable[[str], None]
# Cluster.run_loadgen_inside: (place, args, heap_mb=, jvm_options=, log_path=, on_line=) -> a SamplerProcess
RunInside = Callable[..., SamplerProcess]


@dataclass
class _Health:
    """What one broker's samples were like: for the warnings and RunMetrics.missing."""

    answered: int = 0
    failed: int = 0
    first_error: str | None = None
    failing: bool = False


@dataclass
class BrokerJmxSampler:
    """The sampler JVMs for `targets` (kind broker-jmx, with an address), every `interval_s`: one on
    this machine for those reachable from here, one inside each place for the others (`run_inside`)."""

    dist: KafkaDistribution
    targets: list[MetricsTarget]
    interval_s: float
    log_path: Path
    on_progress: Progress
    run_inside: RunInside | None = None
    samples: list[MetricSample] = field(default_factory=list)
    _health: dict[str, _Health] = field(default_factory=dict)
    _processes: list[SamplerProcess] = field(default_factory=list)
    _ready_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Start the JVMs and wait (bounded) for their baselines; a slow start is warned about, not fatal."""
        self._health = {t.name: _Health() for t in self.targets}
        places: dict[str | None, list[MetricsTarget]] = {}
        for target in self.targets:
            places.setdefault(target.inside, []).append(target)
        for place, targets in places.items():
            args = ["jmx", "--targets", ",".join(f"{t.name}={t.address}" for t in targets),
                    "--interval-ms", str(max(100, round(self.interval_s * 1000)))]
            if place is None:
                jar = loadgen.jar(self.dist, on_progress=self.on_progress)
                command = self.dist.java_command(loadgen.MAIN, args, heap_mb=HEAP_MB, extra_classpath=[jar],
                                                 jvm_options=JVM_OPTIONS)
                self._processes.append(ManagedProcess("metrics-jmx", command, self.log_path, on_line=self._line,
                                                      stdin_pipe=True))
            elif self.run_inside is None:
                raise ValueError(f"{targets[0].name}: its JMX is reachable only inside {place}")
            else:
                log_path = self.log_path.with_name(f"{self.log_path.stem}-{place}{self.log_path.suffix}")
                self._processes.append(self.run_inside(place, args, heap_mb=HEAP_MB, jvm_options=JVM_OPTIONS,
                                                       log_path=log_path, on_line=self._line))
        try:  # every sampler still running has printed its baseline
            wait_until(lambda: self._ready_count >= sum(p.poll() is None for p in self._processes),
                       READY_TIMEOUT_S, "broker JMX samplers ready", interval=0.05)
        except WaitTimeout:
            self.on_progress(f"WARNING broker JMX sampler not ready after {READY_TIMEOUT_S:.0f} s; "
                             "its first samples come late")
        for process in self._processes:
            if (code := process.poll()) is not None:
                self.on_progress(f"WARNING a broker JMX sampler ended as it started (code {code}, log: "
                                 f"{process.log_path}); its brokers' series are missing, the run goes on")

    @property
    def pid(self) -> int | None:
        """The local sampler JVM's pid (None when every sampler runs elsewhere)."""
        return next((p.pid for p in self._processes if isinstance(p, ManagedProcess)), None)

    def stop(self) -> None:
        """Stop the JVMs at once (bounded; idempotent)."""
        if self._processes:
            with ThreadPoolExecutor(max_workers=len(self._processes)) as pool:
                list(pool.map(lambda process: process.stop(grace_s=2), self._processes))

    def missing(self) -> list[str]:
        """RunMetrics.missing: each broker that did not always answer, and a sampler that died."""
        notes = []
        for name, health in self._health.items():
            if health.failed:
                total = health.failed + health.answered
                notes.append(f"{name}: JMX did not answer for {health.failed} of {total} samples "
                             f"({health.first_error})")
            elif not health.answered:
                notes.append(f"{name}: no JMX samples (the sampler stopped before its first interval)")
        for process in self._processes:
            code = process.poll()
            if code not in (None, 0, -15, 143):  # stopped by SIGTERM is how every local run ends it
                notes.append(f"broker JMX sampler exited with code {code} (log: {process.log_path})")
        return notes

    # -- output -------------------------------------------------------------------------

    def _line(self, line: str) -> None:
        if line.strip() == READY_LINE:
            with self._lock:
                self._ready_count += 1
            return
        data = _json_after(line, SAMPLE_PREFIX)
        if data is None:
            return
        source, at_ms = data.get("source"), data.get("at_ms")
        if source not in self._health or not isinstance(at_ms, int):
            return
        at = datetime.fromtimestamp(at_ms / 1000, UTC)
        metrics = data.get("metrics")
        values = metrics if isinstance(metrics, dict) else {}
        with self._lock:
            self.samples.extend(MetricSample(source, name, at, _number(values.get(name))) for name in BROKER_METRICS)
        self._count(source, None if isinstance(metrics, dict) else str(data.get("error") or "no metrics"))

    def _count(self, source: str, error: str | None) -> None:
        health = self._health[source]
        if error is None:
            health.answered += 1
            if health.failing:
                health.failing = False
                self.on_progress(f"{source}: JMX answers again")
            return
        health.failed += 1
        health.first_error = health.first_error or error[:300]
        if not health.failing:
            health.failing = True
            self.on_progress(f"WARNING {source}: JMX did not answer ({error[:300]}); its samples are stored as "
                             "missing, the run goes on")


def _json_after(line: str, prefix: str) -> dict | None:
    start = line.find(prefix)
    if start < 0:
        return None
    try:
        value = json.loads(line[start + len(prefix):])
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
