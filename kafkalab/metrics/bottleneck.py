"""Where a run's limit was: documented rules over its figures and sampled series -> a Verdict.

The rules read the run's window (RunFigures: the time every producer measured, after the
warm-up; all samples when a run has no window) and judge each series by its median there,
so that one sample's spike decides nothing; the evidence names the figure, the threshold it
crossed and the first sample that crossed it. docs/measuring.md ("Where the limit was")
states the same rules for readers; keep the two in step.

In order, the first rule that holds gives the verdict:

1. `unknown`: the run has no figures saying whether it kept its rate, or no series at all.
2. `none`: the run kept its target rate (kafkalab.results.figures: achieved >= 95% of the
   target, schedule-delay p99 within its bound). Resources near their limit are named in the
   summary as little headroom, but a limit that was not reached is no bottleneck.
3. `machine-bound`: the host's CPU was busy >= HOST_CPU_BUSY_PCT while brokers and load
   generators ran on it (both sampled as processes of this host): they took the CPU from
   each other, and no one of them can be called the limit.
4. `disk-bound`: a disk busy >= DISK_BUSY_PCT, or iowait >= IOWAIT_PCT.
5. `replication-bound`: the ISR shrank (once is enough) or partitions stayed under-replicated, or produce
   requests spent >= REMOTE_SHARE of their p99 waiting for followers ("remote" time).
6. `broker-cpu-bound`: a broker's request handlers idle < HANDLER_IDLE_PCT.
7. `network-threads-bound`: a broker's network processors idle < NETWORK_IDLE_PCT.
8. `generator-bound`: the brokers' handlers idle >= GENERATOR_HANDLER_IDLE_PCT (they could
   take more) and the generator fell behind its schedule or one of its processes used
   >= GENERATOR_PROCESS_CPU_PCT of a core.
9. `unknown` otherwise, saying which series were missing or that none crossed its threshold.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kafkalab.load.saturation import KEPT_RATE_SHARE, SCHEDULE_DELAY_P99_BOUND_MS
from kafkalab.metrics import names as n
from kafkalab.model import Evidence, MetricSample, RunFigures, RunMetrics, Verdict

# -- thresholds (each is documented in docs/measuring.md, "Where the limit was") -------------
# Host CPU busy (100 - idle - iowait, all cores): at 90% the scheduler has no spare core to
# give a thread that wakes up, so every process on the machine queues for CPU.
HOST_CPU_BUSY_PCT = 90.0
# Kafka's request handler pool idle share: below a fifth idle the handlers are busy 80%+ of
# the time, where a pool's queueing time grows steeply; Kafka's operations guidance alerts
# in the same range.
HANDLER_IDLE_PCT = 20.0
# The network processors (socket read/write threads): the same reasoning as the handlers.
NETWORK_IDLE_PCT = 20.0
# A disk busy (share of the interval with I/O in flight) this high serves requests back to
# back; more writes wait. iowait this high means the CPUs idle because of the disks.
DISK_BUSY_PCT = 90.0
IOWAIT_PCT = 20.0
# Produce time spent waiting for followers to fetch (acks=all) as a share of the total p99.
# Kafka's follower *fetch* total time is no guide: it includes the fetch's long poll
# (replica.fetch.wait.max.ms), so it "dominates" even on an idle cluster.
REMOTE_SHARE = 0.5
# Below this produce p99 the broker answers fast enough that its parts' shares are noise.
MIN_PRODUCE_P99_MS = 5.0
# "The brokers had idle handlers": at least half idle, far from HANDLER_IDLE_PCT.
GENERATOR_HANDLER_IDLE_PCT = 50.0
# A generator process busy this much of one core is at its own limit: its producers' send
# path (record creation, serialisation, the batching the send() call does) is on one thread.
GENERATOR_PROCESS_CPU_PCT = 90.0
# Resources within this share of their threshold are named in a `none` verdict's summary.
HEADROOM_SHARE = 0.9


@dataclass(frozen=True)
class _Series:
    """One source's samples of one metric inside the window, oldest first, missing ones dropped."""

    source: str
    metric: str
    samples: list[MetricSample]

    @property
    def median(self) -> float:
        return statistics.median(s.value for s in self.samples if s.value is not None)

    def first(self, crossed: Callable[[float], bool]) -> datetime | None:
        return next((s.at for s in self.samples if s.value is not None and crossed(s.value)), None)


class _Window:
    """The run's samples inside its figures' window, looked up by metric and source."""

    def __init__(self, metrics: RunMetrics, figures: RunFigures | None):
        start = figures.window_start if figures is not None else None
        end = figures.window_end if figures is not None else None
        self.samples = [
            s for s in [*metrics.broker, *metrics.host, *metrics.client]
            if s.value is not None and (start is None or s.at >= start) and (end is None or s.at <= end)
        ]

    def series(self, metric: str, source: Callable[[str], bool]) -> list[_Series]:
        by_source: dict[str, list[MetricSample]] = {}
        for sample in self.samples:
            if sample.metric == metric and source(sample.source):
                by_source.setdefault(sample.source, []).append(sample)
        return [_Series(src, metric, sorted(samples, key=lambda s: s.at)) for src, samples in sorted(by_source.items())]


def _broker(source: str) -> bool:
    return source.startswith("broker-")


def _is(name: str) -> Callable[[str], bool]:
    return lambda source: source == name


def _prefix(prefix: str) -> Callable[[str], bool]:
    return lambda source: source.startswith(prefix)


def _above(series: Iterable[_Series], threshold: float) -> list[Evidence]:
    """Evidence for each series whose median is at or above `threshold`."""
    return [Evidence(f"{s.source} {s.metric}", round(s.median, 3), threshold, ">=", s.first(lambda v: v >= threshold))
            for s in series if s.median >= threshold]


def _below(series: Iterable[_Series], threshold: float) -> list[Evidence]:
    return [Evidence(f"{s.source} {s.metric}", round(s.median, 3), threshold, "<", s.first(lambda v: v < threshold))
            for s in series if s.median < threshold]


def judge(figures: RunFigures | None, metrics: RunMetrics | None, *, cores: int | None = None) -> Verdict:
    """The verdict on one run (the rules in the module doc); `cores`: the host's, for the summary."""
    if figures is None or figures.saturated is None:
        return Verdict("unknown", summary="unknown: the run has no figures saying whether it kept its rate"
                                          + (f" ({figures.saturation_reason})" if figures and figures.saturation_reason else ""))
    met = _rate_evidence(figures)
    if not figures.saturated:
        near = _near_limits(_Window(metrics, figures)) if metrics is not None else []
        summary = "none: the target rate was met"
        if near:
            summary += "; little headroom left: " + ", ".join(_said(e) for e in near)
        return Verdict("none", met, summary)
    if metrics is None or not (metrics.broker or metrics.host):
        missing = "; ".join(metrics.missing) if metrics is not None and metrics.missing else "no samplers ran"
        return Verdict("unknown", met, f"unknown: the run fell short of its rate, but broker and host metrics "
                                       f"are missing ({missing})")
    window = _Window(metrics, figures)
    for rule in _RULES:
        verdict = rule(window, figures, cores)
        if verdict is not None:
            return Verdict(verdict.bottleneck, [*met, *verdict.evidence], verdict.summary)
    return Verdict("unknown", met, "unknown: " + _why_no_rule(window, metrics))


# -- the rules, in order -----------------------------------------------------------------------

def _machine(window: _Window, figures: RunFigures, cores: int | None) -> Verdict | None:
    busy = _above(window.series(n.CPU_BUSY, _is("host")), HOST_CPU_BUSY_PCT)
    brokers = window.series(n.PROCESS_CPU, _prefix("process:broker-"))
    generators = window.series(n.PROCESS_CPU, _prefix("process:loadgen-"))
    if not busy or not brokers or not generators:
        return None
    ours = sum(s.median for s in window.series(n.PROCESS_CPU, _prefix("process:")))
    # who shared it, in the summary only: these figures cross no threshold of their own
    shared = (f"shared by {len(brokers)} broker(s) ({sum(s.median for s in brokers):.0f}% of a core) and "
              f"{len(generators)} load generator process(es) ({sum(s.median for s in generators):.0f}%)")
    if cores:
        others = max(0.0, busy[0].value * cores - ours)
        shared += f"; other work on the machine ~{others:.0f}% of a core"
    on = f" of {cores} cores" if cores else ""
    return Verdict("machine-bound", busy,
                   f"machine-bound: host CPU {busy[0].value:.0f}% busy{on} (>= {HOST_CPU_BUSY_PCT:g}%), {shared}")


def _disk(window: _Window, figures: RunFigures, cores: int | None) -> Verdict | None:
    evidence = _above(window.series(n.DISK_BUSY, _prefix("disk:")), DISK_BUSY_PCT) + _above(
        window.series(n.CPU_IOWAIT, _is("host")), IOWAIT_PCT)
    return Verdict("disk-bound", evidence, "disk-bound: " + _said(evidence[0])) if evidence else None


def _replication(window: _Window, figures: RunFigures, cores: int | None) -> Verdict | None:
    # A shrink is an event, not a level: one sample of it counts (its peak is the evidence).
    evidence = [Evidence(f"{s.source} {s.metric}", max(v.value for v in s.samples), 0.0, ">", s.first(lambda v: v > 0))
                for s in window.series(n.ISR_SHRINKS, _broker) if s.first(lambda v: v > 0) is not None]
    for series in window.series(n.UNDER_REPLICATED, _broker):
        if series.median >= 1:
            evidence.append(Evidence(f"{series.source} {series.metric}", series.median, 1, ">=",
                                     series.first(lambda v: v >= 1)))
    totals = {s.source: s for s in window.series(n.request_p99("produce"), _broker)}
    for remote in window.series(n.request_p99("produce", "remote"), _broker):
        total = totals.get(remote.source)
        if total is None or total.median < MIN_PRODUCE_P99_MS:
            continue
        share = remote.median / total.median
        if share >= REMOTE_SHARE:
            evidence.append(Evidence(f"{remote.source} produce remote / total p99", round(share, 3), REMOTE_SHARE,
                                     ">=", remote.first(lambda v, t=total.median: v / t >= REMOTE_SHARE)))
    return Verdict("replication-bound", evidence, "replication-bound: " + _said(evidence[0])) if evidence else None


def _broker_cpu(window: _Window, figures: RunFigures, cores: int | None) -> Verdict | None:
    evidence = _below(window.series(n.REQUEST_HANDLER_IDLE, _broker), HANDLER_IDLE_PCT)
    return Verdict("broker-cpu-bound", evidence, "broker-cpu-bound: " + _said(evidence[0])) if evidence else None


def _network_threads(window: _Window, figures: RunFigures, cores: int | None) -> Verdict | None:
    evidence = _below(window.series(n.NETWORK_PROCESSOR_IDLE, _broker), NETWORK_IDLE_PCT)
    return Verdict("network-threads-bound", evidence,
                   "network-threads-bound: " + _said(evidence[0])) if evidence else None


def _generator(window: _Window, figures: RunFigures, cores: int | None) -> Verdict | None:
    handlers = window.series(n.REQUEST_HANDLER_IDLE, _broker)
    if not handlers or min(s.median for s in handlers) < GENERATOR_HANDLER_IDLE_PCT:
        return None
    behind = _above(window.series(n.PROCESS_CPU, _prefix("process:loadgen-")), GENERATOR_PROCESS_CPU_PCT)
    delay = next((s for s in figures.latency if s.kind == "schedule_delay"), None)
    if delay is not None and delay.p99_ms > SCHEDULE_DELAY_P99_BOUND_MS:
        behind.insert(0, Evidence("schedule_delay p99 ms (window)", delay.p99_ms, SCHEDULE_DELAY_P99_BOUND_MS, ">"))
    if not behind:
        return None
    idle = min(handlers, key=lambda s: s.median)
    evidence = [*behind, Evidence(f"{idle.source} {idle.metric}", round(idle.median, 3), GENERATOR_HANDLER_IDLE_PCT,
                                  ">=")]
    return Verdict("generator-bound", evidence,
                   f"generator-bound: {_said(behind[0])}, while the brokers' handlers were {idle.median:.0f}% idle")


_RULES: Sequence[Callable[[_Window, RunFigures, int | None], Verdict | None]] = (
    _machine, _disk, _replication, _broker_cpu, _network_threads, _generator,
)


# -- words ----------------------------------------------------------------------------------------

def _rate_evidence(figures: RunFigures) -> list[Evidence]:
    target, achieved = figures.target_records_per_sec, figures.achieved_records_per_sec
    if target is None or achieved is None or target <= 0:
        return []
    return [Evidence("achieved / target records/s", round(achieved / target, 4), KEPT_RATE_SHARE,
                     ">=" if not figures.saturated else "<")]


def _near_limits(window: _Window) -> list[Evidence]:
    """Resources within HEADROOM_SHARE of their threshold, for a `none` verdict's summary."""
    return [
        *_above(window.series(n.CPU_BUSY, _is("host")), HOST_CPU_BUSY_PCT * HEADROOM_SHARE),
        *_above(window.series(n.DISK_BUSY, _prefix("disk:")), DISK_BUSY_PCT * HEADROOM_SHARE),
        *_below(window.series(n.REQUEST_HANDLER_IDLE, _broker), HANDLER_IDLE_PCT / HEADROOM_SHARE),
        *_below(window.series(n.NETWORK_PROCESSOR_IDLE, _broker), NETWORK_IDLE_PCT / HEADROOM_SHARE),
    ]


def _said(evidence: Evidence) -> str:
    when = f" from {evidence.at:%H:%M:%S}" if evidence.at is not None else ""
    return f"{evidence.figure} {evidence.value:g} {evidence.comparison} {evidence.threshold:g}{when}"


def _why_no_rule(window: _Window, metrics: RunMetrics) -> str:
    needed = {"host CPU": window.series(n.CPU_BUSY, _is("host")),
              "broker request handlers": window.series(n.REQUEST_HANDLER_IDLE, _broker),
              "broker network processors": window.series(n.NETWORK_PROCESSOR_IDLE, _broker)}
    absent = [what for what, series in needed.items() if not series]
    if absent or metrics.missing:
        return ("the run fell short of its rate and no rule held; missing: "
                + "; ".join([*(f"{what} (no samples in the window)" for what in absent), *metrics.missing]))
    return "the run fell short of its rate, but no sampled figure crossed its threshold"
