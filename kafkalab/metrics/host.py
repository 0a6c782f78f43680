"""The machine running the flow during a run, with psutil: a thread in the flow's process.

Per interval: CPU of the whole host and of each core (user, system, iowait, steal, busy),
the load average, memory, bytes and busy time per disk, bytes per network interface (the
loopback too: a local cluster's traffic goes there), and the CPU of each process that makes
the load or serves it: the brokers and controllers (from the cluster's metrics targets), the
load-generator instances (children of this process running the generator or Kafka's perf
tools) and the JMX sampler itself. Rates and shares are over the interval just ended, from
the counters' deltas; a process seen for the first time counts from its start.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from kafkalab.metrics import names as n
from kafkalab.model import MetricSample

Progress = Callable[[str], None]

_GENERATOR_MAINS = {  # what a child's command line runs -> its name's kind
    "dev.kafkalab.loadgen.Main": "loadgen",
    "org.apache.kafka.tools.ProducerPerformance": "loadgen",
    "org.apache.kafka.tools.ConsumerPerformance": "loadgen",
}
_SKIPPED_DISKS = ("loop", "ram")  # pseudo devices: no disk behind them


@dataclass
class _Tracked:
    process: psutil.Process
    cpu_s: float  # user + system at `at`
    at: float


@dataclass
class HostSampler:
    """Samples every `interval_s` from start() to stop(); `processes` are named pids to follow
    (e.g. {"broker-0": 1234}), generator instances are found as they start."""

    interval_s: float
    processes: dict[str, int]
    on_progress: Progress
    samples: list[MetricSample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last: float = 0.0
    _cpu: list | None = None
    _cores: list | None = None
    _disks: dict | None = None
    _nets: dict | None = None
    _tracked: dict[str, _Tracked] = field(default_factory=dict)

    def start(self) -> None:
        self._baseline()
        self._thread = threading.Thread(target=self._loop, name="kafkalab-host-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (bounded) and take a last sample of the interval in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 10)
            if self._thread.is_alive():
                self.errors.append("host metrics: the sampling thread did not stop; its last samples are missing")
                return
        if time.monotonic() - self._last >= min(1.0, self.interval_s / 2):
            self._tick()

    def missing(self) -> list[str]:
        return list(self.errors)

    # -- sampling -------------------------------------------------------------------------

    def _loop(self) -> None:
        next_at = self._last + self.interval_s
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self._tick()
            next_at += self.interval_s
            if next_at < time.monotonic():  # fell behind (a stalled machine): no burst of catch-up samples
                next_at = time.monotonic() + self.interval_s

    def _tick(self) -> None:
        try:
            self._sample()
        except Exception as exc:  # noqa: BLE001 - a sampler's failure is a gap in its series, never the run's
            reason = f"host metrics: {type(exc).__name__}: {exc}"[:300]
            if reason not in self.errors:
                self.errors.append(reason)
                self.on_progress(f"WARNING {reason}; the run goes on")

    def _baseline(self) -> None:
        self._last = time.monotonic()
        self._cpu = psutil.cpu_times()
        self._cores = psutil.cpu_times(percpu=True)
        self._disks = _disks()
        self._nets = psutil.net_io_counters(pernic=True)
        for name, pid in self.processes.items():
            self._follow(name, pid)

    def _sample(self) -> None:
        now = time.monotonic()
        at = datetime.now(UTC)
        seconds = max(now - self._last, 1e-3)
        out: list[MetricSample] = []
        cpu, cores = psutil.cpu_times(), psutil.cpu_times(percpu=True)
        out += _cpu_samples("host", self._cpu, cpu, at)
        for i, (before, after) in enumerate(zip(self._cores or [], cores, strict=False)):
            out += _cpu_samples(f"cpu{i}", before, after, at)
        out.append(MetricSample("host", n.LOAD_1M, at, os.getloadavg()[0]))
        memory = psutil.virtual_memory()
        out += [MetricSample("host", n.MEMORY_USED, at, float(memory.used)),
                MetricSample("host", n.MEMORY_AVAILABLE, at, float(memory.available))]
        disks = _disks()
        for name, after in disks.items():
            before = (self._disks or {}).get(name)
            if before is not None:
                out += _disk_samples(f"disk:{name}", before, after, seconds, at)
        nets = psutil.net_io_counters(pernic=True)
        for name, after in nets.items():
            before = (self._nets or {}).get(name)
            if before is not None:
                out += [MetricSample(f"net:{name}", n.NET_RX, at, _rate(before.bytes_recv, after.bytes_recv, seconds)),
                        MetricSample(f"net:{name}", n.NET_TX, at, _rate(before.bytes_sent, after.bytes_sent, seconds))]
        out += self._process_samples(at)
        self._last, self._cpu, self._cores, self._disks, self._nets = now, cpu, cores, disks, nets
        self.samples.extend(out)

    # -- processes ------------------------------------------------------------------------

    def _follow(self, name: str, pid: int, *, from_its_start: bool = False) -> None:
        """Start following a process: from now, or (one that started during the interval) from its start."""
        try:
            process = psutil.Process(pid)
            if from_its_start:
                tracked = _Tracked(process, 0.0, process.create_time() - time.time() + time.monotonic())
            else:
                times = process.cpu_times()
                tracked = _Tracked(process, times.user + times.system, time.monotonic())
        except psutil.Error:
            return  # gone already: nothing to sample
        self._tracked[name] = tracked

    def _discover(self) -> None:
        try:
            children = psutil.Process().children(recursive=True)
        except psutil.Error:
            return
        known = {t.process.pid for t in self._tracked.values()}
        for child in children:
            if child.pid in known:
                continue
            try:
                name = _generator_name(child.cmdline(), child.pid)
            except psutil.Error:
                continue
            if name is not None:
                self._follow(name, child.pid, from_its_start=True)

    def _process_samples(self, at: datetime) -> list[MetricSample]:
        self._discover()
        out = []
        for name, tracked in list(self._tracked.items()):
            try:
                times = tracked.process.cpu_times()
                now = time.monotonic()
            except psutil.Error:
                del self._tracked[name]  # it ended: its series ends with it
                continue
            cpu_s = times.user + times.system
            seconds = max(now - tracked.at, 1e-3)
            out.append(MetricSample(f"process:{name}", n.PROCESS_CPU, at, max(0.0, cpu_s - tracked.cpu_s) / seconds * 100))
            tracked.cpu_s, tracked.at = cpu_s, now
        return out


def _generator_name(cmdline: list[str], pid: int) -> str | None:
    """"loadgen-producer-3" for a load instance (named by its properties file; else by its
    pid), "metrics-jmx" for kafkalab's JMX sampler, None for anything else."""
    for i, arg in enumerate(cmdline):
        if arg in _GENERATOR_MAINS:
            role = cmdline[i + 1] if i + 1 < len(cmdline) else ""
            if arg.endswith("loadgen.Main") and role == "jmx":
                return "metrics-jmx"
            stems = [Path(a).stem for a in cmdline[i + 1:] if a.endswith(".properties")]
            return f"loadgen-{stems[0]}" if stems else f"loadgen-pid-{pid}"
    return None


def _cpu_samples(source: str, before, after, at: datetime) -> list[MetricSample]:
    """Shares of the interval (0..100) from two psutil cpu_times readings."""
    deltas = {f: max(0.0, getattr(after, f) - getattr(before, f)) for f in after._fields}
    total = sum(deltas.values()) or 1e-9
    share = {f: v / total * 100 for f, v in deltas.items()}
    idle = share.get("idle", 0.0) + share.get("iowait", 0.0)
    return [
        MetricSample(source, n.CPU_USER, at, share.get("user", 0.0) + share.get("nice", 0.0)),
        MetricSample(source, n.CPU_SYSTEM, at, share.get("system", 0.0) + share.get("irq", 0.0)
                     + share.get("softirq", 0.0)),
        MetricSample(source, n.CPU_IOWAIT, at, share.get("iowait")),
        MetricSample(source, n.CPU_STEAL, at, share.get("steal")),
        MetricSample(source, n.CPU_BUSY, at, 100.0 - idle),
    ]


def _disks() -> dict:
    counters = psutil.disk_io_counters(perdisk=True) or {}
    return {name: c for name, c in counters.items() if not name.startswith(_SKIPPED_DISKS)}


def _disk_samples(source: str, before, after, seconds: float, at: datetime) -> list[MetricSample]:
    busy_ms = getattr(after, "busy_time", None)
    busy = None if busy_ms is None else min(100.0, max(0.0, busy_ms - before.busy_time) / (seconds * 1000) * 100)
    return [
        MetricSample(source, n.DISK_READ, at, _rate(before.read_bytes, after.read_bytes, seconds)),
        MetricSample(source, n.DISK_WRITE, at, _rate(before.write_bytes, after.write_bytes, seconds)),
        MetricSample(source, n.DISK_BUSY, at, busy),
    ]


def _rate(before: int, after: int, seconds: float) -> float | None:
    """Per second; None when the counter went back (a device re-attached, a wrapped counter)."""
    return (after - before) / seconds if after >= before else None
