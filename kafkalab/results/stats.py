"""The arithmetic of the user's guide, as kafkalab reports it. No I/O.

Two questions are answered here:

* one run with several producer instances in parallel: what did they achieve together?
  (`run_totals`, the guide's "Total Throughput: ..." lines);
* several repetitions of one experiment: how much do the results vary? (`spread`, the guide's
  "Average: ..." lines over 5 runs are `spread(...).mean`).

The README and the SQL views describe these quantities with the same words as the
docstrings below; change them together.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kafkalab.model import ProducerSummary


@dataclass(frozen=True)
class RunTotals:
    """What all producer instances of one run achieved together.

    Throughputs add up because the instances ran at the same time against the same cluster.
    Latencies do not add: each instance measured its own records, so they are averaged or
    their worst is taken, as named.
    """

    instances: int
    """Number of producer summaries combined."""
    records: int
    """Sum of records sent by all instances."""
    records_per_sec: float
    """Sum of the instances' records/sec: the guide's "Total Throughput"."""
    mb_per_sec: float
    """Sum of the instances' MB/sec (MB = 2^20 bytes, as the tool prints)."""
    avg_latency_ms: float
    """Plain mean of the instances' average latencies: the guide's "avg latency"."""
    weighted_avg_latency_ms: float
    """Mean latency per record over all instances: instance averages weighted by records
    sent. Equals avg_latency_ms when every instance sent the same number of records."""
    avg_max_latency_ms: float
    """Plain mean of the instances' max latencies: the guide's "avg max latency"."""
    max_latency_ms: float
    """Largest max latency of any instance: the slowest single record of the run."""
    p50_ms: float
    """Largest 50th percentile of any instance (worst instance, not a merged percentile)."""
    p95_ms: float
    """Largest 95th percentile of any instance (worst instance, not a merged percentile)."""
    p99_ms: float
    """Largest 99th percentile of any instance (worst instance, not a merged percentile)."""
    p999_ms: float
    """Largest 99.9th percentile of any instance (worst instance, not a merged percentile)."""


def run_totals(summaries: Sequence[ProducerSummary]) -> RunTotals:
    """Combine the summaries of producer instances that ran in parallel in one run.

    Percentiles cannot be merged from summaries alone (the tool prints no histogram), so
    the worst instance's value is reported: an upper bound on the run's true percentile.
    """
    if not summaries:
        raise ValueError("run_totals needs at least one producer summary")
    n = len(summaries)
    records = sum(s.records for s in summaries)
    avg_latency = math.fsum(s.avg_latency_ms for s in summaries) / n
    weighted = (
        math.fsum(s.avg_latency_ms * s.records for s in summaries) / records
        if records > 0
        else avg_latency  # no records to weigh by: every instance counts the same
    )
    return RunTotals(
        instances=n,
        records=records,
        records_per_sec=math.fsum(s.records_per_sec for s in summaries),
        mb_per_sec=math.fsum(s.mb_per_sec for s in summaries),
        avg_latency_ms=avg_latency,
        weighted_avg_latency_ms=weighted,
        avg_max_latency_ms=math.fsum(s.max_latency_ms for s in summaries) / n,
        max_latency_ms=max(s.max_latency_ms for s in summaries),
        p50_ms=max(s.p50_ms for s in summaries),
        p95_ms=max(s.p95_ms for s in summaries),
        p99_ms=max(s.p99_ms for s in summaries),
        p999_ms=max(s.p999_ms for s in summaries),
    )


@dataclass(frozen=True)
class Spread:
    """How one quantity varies over repetitions of an experiment."""

    n: int
    """Number of values (repetitions)."""
    mean: float
    """Arithmetic mean: the guide's "Average" over its 5 runs."""
    stddev: float
    """Sample standard deviation (divides by n - 1); 0 for a single value."""
    min: float
    """Smallest value."""
    max: float
    """Largest value."""


def spread(values: Iterable[float]) -> Spread:
    """n, mean, sample stddev, min and max of the values (one per repetition)."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("spread needs at least one value")
    return Spread(
        n=len(data),
        mean=statistics.fmean(data),
        stddev=statistics.stdev(data) if len(data) > 1 else 0.0,
        min=min(data),
        max=max(data),
    )
