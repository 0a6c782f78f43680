"""Merging an hour of interval histograms: 25 generator instances x 720 intervals (5 s each).

    .venv/bin/python bench/histogram_merge.py [--instances 25] [--intervals 720] [--repeat 3]

Each interval histogram holds what a producer instance at about 600 records/s records in 5 s:
2,000-4,000 latencies, log-normal around 3 ms, clipped to 0.5-50 ms, in the generator's
encoding (HdrHistogram V2, compressed, base64; 1 µs to 1 hour, 3 significant digits). Making
18,000 such histograms in Python takes longer than merging them, so a pool of distinct ones
(one per instance and a few intervals) is cycled: a merge decodes and adds each item the same
way whatever its neighbours are. Times kafkalab.kafka.histograms.merge (target: under 1 s)
and checks that it holds every record and gives the percentiles of a plain HdrHistogram
decode_and_add, as a report's figures (kafkalab/results/figures.py) would.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from hdrh.histogram import HdrHistogram

from kafkalab.kafka import histograms

POOL_PER_INSTANCE = 8  # distinct histograms per instance, cycled over its intervals


def interval_histogram(rng: np.random.Generator) -> str:
    """One 5-s interval of one instance, encoded as the generator writes it."""
    records = int(rng.integers(2000, 4001))
    values_us = np.clip(rng.lognormal(mean=np.log(3000), sigma=0.7, size=records), 500, 50_000).astype(np.int64)
    histogram = histograms.empty()
    for value, count in zip(*np.unique(values_us, return_counts=True)):
        histogram.record_value(int(value), int(count))
    return histogram.encode().decode()


def hour_of_histograms(instances: int, intervals: int, seed: int = 12) -> list[str]:
    rng = np.random.default_rng(seed)
    pools = [[interval_histogram(rng) for _ in range(POOL_PER_INSTANCE)] for _ in range(instances)]
    return [pools[i][j % POOL_PER_INSTANCE] for i in range(instances) for j in range(intervals)]


def plain_merge(encoded: list[str]) -> HdrHistogram:
    """HdrHistogram's own decode_and_add, one item at a time: the reference result."""
    merged = histograms.empty()
    for item in encoded:
        merged.decode_and_add(item)
    return merged


def timed(merge, encoded: list[str], repeat: int) -> tuple[float, HdrHistogram]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = merge(encoded)
        times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=25)
    parser.add_argument("--intervals", type=int, default=720)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    encoded = hour_of_histograms(args.instances, args.intervals)
    print(f"{len(encoded):,} interval histograms ({args.instances} instances x {args.intervals} intervals), "
          f"{sum(map(len, encoded)) / len(encoded):,.0f} base64 characters each on average, "
          f"made in {time.perf_counter() - started:.1f} s")
    plain_s, reference = timed(plain_merge, encoded, args.repeat)
    merge_s, merged = timed(histograms.merge, encoded, args.repeat)
    same = (merged.get_total_count() == reference.get_total_count()
            and all(merged.get_value_at_percentile(p) == reference.get_value_at_percentile(p)
                    for p in (*histograms.PERCENTILES.values(), 100.0))
            and merged.get_min_value() == reference.get_min_value())
    rows = [("plain decode_and_add (reference)", plain_s), ("kafkalab.kafka.histograms.merge", merge_s)]
    print(f"\n{'merge of ' + format(len(encoded), ',') + ' histograms':<40} {'median of ' + str(args.repeat):>14}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:>12.3f} s")
    summary = histograms.summarize("send", merged)
    assert summary is not None
    print(f"\nmerged: {merged.get_total_count():,} records, p50 {summary.p50_ms:.3f} ms, p99 {summary.p99_ms:.3f} ms, "
          f"p99.99 {summary.p9999_ms:.3f} ms, max {summary.max_ms:.3f} ms; same percentiles as the reference: {same}")
    print(f"target: under 1 s: {'met' if merge_s < 1 else 'NOT met'} ({merge_s:.3f} s); "
          f"speed-up over the plain merge {plain_s / merge_s:.1f}x")
    if not same:
        raise SystemExit("the merge differs from HdrHistogram's decode_and_add")


if __name__ == "__main__":
    main()
