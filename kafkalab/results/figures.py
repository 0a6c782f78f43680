"""A run's figures over one stated window, from what its load instances recorded.

The window is the time every producer instance was measuring (from the latest first
interval's start to the earliest last interval's end), less the warm-up at its start.
Throughput is the records and bytes acknowledged in that window divided by its length (an
interval at its edge counts with the share of it inside); latency is merged from every
instance's histograms of the intervals whose middle lies in the window, per kind. Nothing is an average of averages, a sum of
rates over different windows, or a percentile of percentiles.

A run that could not keep its target rate is saturated, and says why: its latency then
measures the queue in front of Kafka, not Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from kafkalab.kafka import histograms, loadgen
from kafkalab.load.saturation import KEPT_RATE_SHARE, SCHEDULE_DELAY_P99_BOUND_MS
from kafkalab.model import ConsumerOutcome, LatencySummary, LoadInterval, ProducerOutcome, RunFigures

DEFAULT_WARMUP_SHARE = 0.1  # of the common window, when the spec sets no load.warmup_s
PRODUCER_KINDS = loadgen.PRODUCER_KINDS


def run_figures(
    producers: Sequence[ProducerOutcome], consumers: Sequence[ConsumerOutcome], *,
    target_per_instance: float | None, warmup_s: float | None,
) -> RunFigures:
    """The figures of one run (see the module doc); window figures None without generator intervals."""
    target = None if target_per_instance is None else target_per_instance * len(producers)
    measuring = [p.intervals for p in producers if p.status == "ok" and p.intervals]
    if not measuring or len(measuring) < len(producers):
        return _without_window(producers, target, warmup_s)
    common_start = max(intervals[0].start_ms for intervals in measuring)
    common_end = min(intervals[-1].end_ms for intervals in measuring)
    warmup_ms = round(1000 * warmup_s) if warmup_s is not None else round(DEFAULT_WARMUP_SHARE * max(
        0, common_end - common_start))
    start_ms = common_start + warmup_ms
    chosen = [_inside(intervals, start_ms, common_end) for intervals in measuring]
    if start_ms >= common_end or not all(chosen):
        return RunFigures(
            warmup_s=warmup_ms / 1000, window_start=None, window_end=None, window_records=None, window_bytes=None,
            target_records_per_sec=target, achieved_records_per_sec=None, saturated=None,
            saturation_reason="no reporting interval of every producer lies in the window after the warm-up: "
                              "run longer or report more often",
        )
    # Counts: each interval's share of the window (instances' intervals do not line up, and an
    # instance's last one is partial). Histograms: the intervals whose middle lies in it.
    records = round(sum(i.acked * _overlap(i, start_ms, common_end) for intervals in measuring for i in intervals))
    window_bytes = round(sum(i.bytes * _overlap(i, start_ms, common_end) for intervals in measuring for i in intervals))
    window_start, window_end = start_ms, common_end
    achieved = records / (window_end - window_start) * 1000
    latency = [
        summary for kind in PRODUCER_KINDS
        if (summary := merged_summary(kind, (i for intervals in chosen for i in intervals))) is not None
    ]
    consumer_intervals = [i for c in consumers if c.status == "ok" for i in _inside(c.intervals, window_start, window_end)]
    if (end_to_end := merged_summary("end_to_end", consumer_intervals)) is not None:
        latency.append(end_to_end)
    saturated, reason = saturation(target, achieved, next((s for s in latency if s.kind == "schedule_delay"), None))
    return RunFigures(
        warmup_s=warmup_ms / 1000, window_start=_moment(window_start), window_end=_moment(window_end),
        window_records=records, window_bytes=window_bytes, target_records_per_sec=target,
        achieved_records_per_sec=achieved, saturated=saturated, saturation_reason=reason, latency=latency,
    )


def merged_summary(kind: str, intervals: Iterable[LoadInterval]) -> LatencySummary | None:
    return histograms.summarize(kind, histograms.merge(i.histograms.get(kind, "") for i in intervals))


def saturation(target: float | None, achieved: float | None,
               schedule_delay: LatencySummary | None) -> tuple[bool | None, str | None]:
    """(saturated, why) for a run that asked for `target` records/s in all and achieved `achieved`."""
    if target is None:
        return True, "unthrottled: a max-throughput run, its latency is queueing in the producers"
    if achieved is None:
        return None, None
    if achieved < KEPT_RATE_SHARE * target:
        return True, (f"achieved {achieved:,.0f} of the target {target:,.0f} records/s "
                      f"({achieved / target:.0%}, below {KEPT_RATE_SHARE:.0%})")
    if schedule_delay is not None and schedule_delay.p99_ms > SCHEDULE_DELAY_P99_BOUND_MS:
        return True, (f"the generator fell behind its schedule: schedule-delay p99 {schedule_delay.p99_ms:,.1f} ms "
                      f"> {SCHEDULE_DELAY_P99_BOUND_MS:g} ms")
    return False, None


def _without_window(producers: Sequence[ProducerOutcome], target: float | None, warmup_s: float | None) -> RunFigures:
    """kafka-perf runs (or a failed instance): no common window; saturation from the instances' own rates."""
    ok = [p.output.summary for p in producers if p.status == "ok" and p.output.summary]
    achieved = sum(s.records_per_sec for s in ok) if ok and len(ok) == len(producers) else None
    saturated, reason = saturation(target, achieved, None)
    if reason and achieved is not None and target is not None:
        reason += " (sum of the instances' own averages: Kafka's perf tool gives no common window)"
    return RunFigures(
        warmup_s=warmup_s, window_start=None, window_end=None, window_records=None, window_bytes=None,
        target_records_per_sec=target, achieved_records_per_sec=achieved, saturated=saturated,
        saturation_reason=reason,
    )


def _overlap(interval: LoadInterval, start_ms: int, end_ms: int) -> float:
    """The share of `interval` that lies in [start_ms, end_ms]."""
    length = interval.end_ms - interval.start_ms
    if length <= 0:
        return 1.0 if start_ms <= interval.start_ms <= end_ms else 0.0
    return max(0, min(interval.end_ms, end_ms) - max(interval.start_ms, start_ms)) / length


def _inside(intervals: list[LoadInterval], start_ms: int, end_ms: int) -> list[LoadInterval]:
    """The intervals whose middle lies in [start_ms, end_ms]: instances released together
    start their intervals a few milliseconds apart, and none should lose its edge interval."""
    return [i for i in intervals if start_ms <= (i.start_ms + i.end_ms) / 2 <= end_ms]


def _moment(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)
