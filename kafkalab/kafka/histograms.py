"""HdrHistograms of the load generator: merged, never averaged.

Every generator instance writes one histogram per kind of latency and reporting interval,
in microseconds, in HdrHistogram's compressed encoding (kafkalab.kafka.loadgen). A figure
over several instances or intervals comes from the merged histogram; the percentiles of
separate histograms are never combined (averaging or taking the worst of percentiles
answers no question anyone asks).
"""

from __future__ import annotations

from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

from kafkalab.model import LatencySummary

# The generator's histogram range (kafkalab/java/loadgen: 1 µs to 1 hour, 3 significant digits).
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0, "p999_ms": 99.9, "p9999_ms": 99.99}


def empty() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def decode(encoded: str) -> HdrHistogram:
    return HdrHistogram.decode(encoded)


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """One histogram holding every value of the `encoded` ones."""
    merged = empty()
    for item in encoded:
        if item:
            merged.decode_and_add(item)
    return merged


def summarize(kind: str, histogram: HdrHistogram) -> LatencySummary | None:
    """Count, mean, percentiles and max in milliseconds (microsecond precision); None when empty."""
    count = histogram.get_total_count()
    if count == 0:
        return None
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES.values()))
    return LatencySummary(
        kind=kind, count=count, mean_ms=histogram.get_mean_value() / 1000,
        **{name: values[percentile] / 1000 for name, percentile in PERCENTILES.items()},
        max_ms=histogram.get_max_value() / 1000,
    )


def percentile_curve(histogram: HdrHistogram, *, up_to: float = 99.999) -> list[tuple[float, float]]:
    """(percentile, value in ms) points for HdrHistogram's percentile plot: 0 to `up_to` on a
    log axis of 1 / (1 - percentile), a few points per halving of the tail."""
    if histogram.get_total_count() == 0:
        return []
    points = []
    tail = 1.0
    while True:
        percentile = min(100 * (1 - tail), up_to)
        points.append((percentile, histogram.get_value_at_percentile(percentile) / 1000))
        if percentile >= up_to:
            return points
        tail /= 2 ** 0.25  # four points per halving
