"""Sampling around a run's load: the brokers' JMX and the host, started before, stopped after.

`sampling(cluster, ...)` is a context manager the engine wraps around the producers. Whatever
a sampler does (not start, die, hang), the run goes on: its failure is a warning to
`on_progress` and a line in RunMetrics.missing, and stopping is bounded. The JMX sampler's JVM
is stopped on the way out whatever ends the load, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from kafkalab.metrics.broker_jmx import BrokerJmxSampler
from kafkalab.metrics.host import HostSampler
from kafkalab.model import RunMetrics
from kafkalab.platforms.base import Cluster, MetricsTarget

Progress = Callable[[str], None]


@contextlib.contextmanager
def sampling(cluster: Cluster, *, interval_s: float, work_dir: Path, on_progress: Progress,
             enabled: bool = True) -> Iterator[RunMetrics]:
    """A RunMetrics filled while the body runs (complete once it has ended)."""
    metrics = RunMetrics(interval_s=interval_s, started_at=datetime.now(UTC))
    if not enabled:
        metrics.missing.append("metrics collection is off (spec metrics.enabled: false)")
        yield metrics
        return
    brokers: BrokerJmxSampler | None = None
    host: HostSampler | None = None
    try:
        targets = _targets(cluster, metrics, on_progress)
        jmx = [t for t in targets if t.kind == "broker-jmx" and t.address]
        metrics.missing += [f"{t.name}: no JMX address (the broker runs without JMX)"
                            for t in targets if t.kind == "broker-jmx" and not t.address]
        if not any(t.kind == "broker-jmx" for t in targets):
            metrics.missing.append(f"broker metrics: platform {cluster.platform} offers no broker JMX yet")
        if jmx:
            brokers = _started(BrokerJmxSampler(cluster.dist, jmx, interval_s, work_dir / "metrics-jmx.log",
                                                on_progress, run_inside=cluster.run_loadgen_inside),
                               "broker JMX sampler", metrics, on_progress)
        processes = {t.name: t.pid for t in targets if t.pid is not None}
        host = _started(HostSampler(interval_s, processes, on_progress), "host sampler", metrics, on_progress)
        yield metrics
    finally:
        for sampler in (brokers, host):
            if sampler is not None:
                _stop(sampler, metrics, on_progress)
        if brokers is not None:
            metrics.broker = list(brokers.samples)
        if host is not None:
            metrics.host = list(host.samples)
        with contextlib.suppress(Exception):
            cluster.release_metrics_targets()


def _targets(cluster: Cluster, metrics: RunMetrics, on_progress: Progress) -> list[MetricsTarget]:
    try:
        return cluster.metrics_targets()
    except Exception as exc:  # noqa: BLE001 - no targets: missing series, the run goes on
        reason = f"metrics targets: {type(exc).__name__}: {exc}"[:300]
        metrics.missing.append(reason)
        on_progress(f"WARNING {reason}; the run goes on without broker metrics")
        return []


def _started(sampler, what: str, metrics: RunMetrics, on_progress: Progress):
    """The sampler, started; None (and a warning) when it could not start."""
    try:
        sampler.start()
    except Exception as exc:  # noqa: BLE001 - a sampler that cannot start is a gap, not a failed run
        reason = f"{what} did not start: {type(exc).__name__}: {exc}"[:300]
        metrics.missing.append(reason)
        on_progress(f"WARNING {reason}; the run goes on without it")
        with contextlib.suppress(Exception):
            sampler.stop()
        return None
    return sampler


def _stop(sampler, metrics: RunMetrics, on_progress: Progress) -> None:
    try:
        sampler.stop()
    except Exception as exc:  # noqa: BLE001 - stopping is best effort; what it sampled is kept
        on_progress(f"WARNING stopping the {type(sampler).__name__}: {type(exc).__name__}: {exc}")
    with contextlib.suppress(Exception):
        metrics.missing += sampler.missing()
