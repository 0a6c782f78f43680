"""One figure per stored run, and its latency histogram, for statistics over repetitions.

A run's throughput is its window throughput (records acknowledged while every producer
measured, warm-up left out), else what it achieved, else (Kafka's perf tool) the sum of its
instances' averages. Its latency is the histogram merged over the same window, kept as
counts so that any set of runs is merged again by adding them: the p99 of several runs is
the p99 of their merged histogram, never an average of their p99s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from kafkalab.kafka import histograms
from kafkalab.results.store import Store

THROUGHPUT_SQL = """
    SELECT run_id, started_at,
           coalesce(window_records_per_sec, achieved_records_per_sec, total_records_per_sec) AS records_per_sec
    FROM v_run_totals WHERE run_id = ANY(:ids) ORDER BY started_at, run_id
"""
_HISTOGRAM_SQL = """
    SELECT h.run_id, h.encoded
    FROM latency_histograms h
    JOIN load_intervals i USING (run_id, role, instance, seq)
    JOIN runs r ON r.id = h.run_id
    WHERE h.run_id = ANY(:ids) AND h.kind = :kind
      AND i.start_at + (i.end_at - i.start_at) / 2 BETWEEN r.window_start AND r.window_end
"""


@dataclass(frozen=True)
class LatencyCounts:
    """The merged window histograms of some runs, one row of counts per run."""

    kind: str
    run_ids: tuple[int, ...]
    counts: np.ndarray  # runs x buckets, trimmed to the buckets any run uses
    offset: int  # bucket index of column 0

    def merged(self, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        return self.counts.sum(axis=0) if rows is None else self.counts[np.asarray(rows, dtype=int)].sum(axis=0)

    def percentile_ms(self, percentile: float, rows: Sequence[int] | np.ndarray | None = None) -> float:
        """HdrHistogram's value at `percentile` of the merged rows, ms."""
        return percentile_of(self.merged(rows), self.offset, percentile)

    def per_run_ms(self, percentile: float) -> np.ndarray:
        return np.array([self.percentile_ms(percentile, [row]) for row in range(len(self.run_ids))])

    def curve(self, rows: Sequence[int] | None = None) -> list[tuple[float, float]]:
        """(percentile, ms) points of the merged rows, as kafkalab.kafka.histograms.percentile_curve."""
        histogram = histograms.empty()
        counts = np.ctypeslib.as_array(histogram.counts)
        merged = self.merged(rows)
        counts[self.offset:self.offset + len(merged)] = merged
        used = np.nonzero(merged)[0]
        if len(used):
            histogram.total_count = int(merged.sum())
            histogram.min_value = int(_bucket_values()[self.offset + used[0]])
            histogram.max_value = int(_bucket_values()[self.offset + used[-1]])
        return histograms.percentile_curve(histogram)


def throughputs(store: Store, run_ids: Sequence[int]) -> dict[int, float]:
    """records/s by run id, for the runs that have a throughput."""
    _, rows = store.query(THROUGHPUT_SQL, {"ids": list(run_ids)})
    return {run_id: float(value) for run_id, _, value in rows if value is not None}


def latency_counts(store: Store, run_ids: Sequence[int], kind: str) -> LatencyCounts | None:
    """The window histograms of `kind` of `run_ids`, merged per run; None unless every run has some."""
    _, rows = store.query(_HISTOGRAM_SQL, {"ids": list(run_ids), "kind": kind})
    by_run: dict[int, list[str]] = {}
    for run_id, encoded in rows:
        by_run.setdefault(run_id, []).append(encoded)
    if any(run_id not in by_run for run_id in run_ids):
        return None
    full = []
    for run_id in run_ids:
        merged = histograms.merge(by_run[run_id])
        if merged.get_total_count() == 0:
            return None
        full.append(np.ctypeslib.as_array(merged.counts).astype(np.int64))
    matrix = np.vstack(full)
    used = np.nonzero(matrix.sum(axis=0))[0]
    low, high = int(used[0]), int(used[-1]) + 1
    return LatencyCounts(kind, tuple(run_ids), matrix[:, low:high].copy(), low)


def percentile_of(counts: np.ndarray, offset: int, percentile: float) -> float:
    """HdrHistogram's get_value_at_percentile over `counts` (buckets from `offset`), in ms."""
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    target = max(int(min(percentile, 100.0) * total / 100 + 0.5), 1)
    index = int(np.searchsorted(np.cumsum(counts), target))
    return float(_bucket_values()[offset + index]) / 1000


@cache
def _bucket_values() -> np.ndarray:
    """The highest value (µs) each bucket of the generator's histograms stands for."""
    histogram = histograms.empty()
    return np.array([histogram.get_highest_equivalent_value(histogram.get_value_from_index(i))
                     for i in range(histogram.counts_len)], dtype=np.int64)
