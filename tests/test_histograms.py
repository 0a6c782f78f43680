"""kafkalab.kafka.histograms.merge: the same histogram as HdrHistogram's own decode_and_add of
each item, on the generator's real output and on made-up intervals (no broker)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from kafkalab.kafka import histograms, loadgen

DATA = Path(__file__).parent / "data" / "loadgen"
CHECKED_PERCENTILES = (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0)


def plain_merge(encoded: list[str]) -> HdrHistogram:
    merged = histograms.empty()
    for item in encoded:
        if item:
            merged.decode_and_add(item)
    return merged


def encoded(values_us: list[int], histogram: HdrHistogram | None = None) -> str:
    histogram = histogram or histograms.empty()
    for value in values_us:
        histogram.record_value(value)
    return histogram.encode().decode()


def assert_same(merged: HdrHistogram, reference: HdrHistogram) -> None:
    assert merged.get_total_count() == reference.get_total_count()
    assert list(merged.counts) == list(reference.counts)
    assert merged.get_max_value() == reference.get_max_value()
    assert merged.get_mean_value() == reference.get_mean_value()
    for percentile in CHECKED_PERCENTILES:
        assert merged.get_value_at_percentile(percentile) == reference.get_value_at_percentile(percentile), percentile
    assert histograms.summarize("send", merged) == histograms.summarize("send", reference)


def test_merging_the_generators_real_intervals_gives_hdrhistograms_own_result():
    items = [interval.histograms[kind]
             for name in ("producer-2000-at-1000.out", "consumer-2000.out")
             for interval in loadgen.parse_output((DATA / name).read_text()).intervals
             for kind in interval.histograms]
    assert len(items) >= 10
    merged = histograms.merge(items)
    assert merged.get_total_count() == 3 * 2000 + 2000  # three producer kinds and the consumer's
    assert_same(merged, plain_merge(items))


def test_an_hour_of_many_instances_merges_to_the_same_percentiles():
    rng = random.Random(7)
    items = []
    for _ in range(40):  # instances x intervals, a few hundred records each, 0.5-50 ms and some outliers
        values = [min(50_000, max(500, int(rng.lognormvariate(8.0, 0.7)))) for _ in range(rng.randint(50, 400))]
        items.append(encoded(values + [0, 1, histograms.HIGHEST_US][: rng.randint(0, 3)]))
    merged = histograms.merge(items)
    assert_same(merged, plain_merge(items))
    assert merged.get_max_value() >= histograms.HIGHEST_US  # the hour-long outlier counted, at its bucket's top


def test_empty_intervals_and_histograms_of_other_settings_are_merged_too():
    other_settings = encoded([1500, 2500, 9_000_000], HdrHistogram(1, 60_000_000, 2))
    items = ["", encoded([]), encoded([700, 800]), other_settings, encoded([]), encoded([40_000])]
    merged = histograms.merge(items)
    reference = plain_merge(items)
    assert merged.get_total_count() == 6
    assert list(merged.counts) == list(reference.counts)
    for percentile in CHECKED_PERCENTILES:
        assert merged.get_value_at_percentile(percentile) == reference.get_value_at_percentile(percentile)
    # An empty interval has no smallest value (HdrHistogram's add takes it as 0).
    assert merged.get_min_value() == 700


def test_a_garbled_histogram_is_an_error_not_a_silent_zero():
    whole = encoded([1000, 2000])
    with pytest.raises(Exception):  # noqa: B017 - base64 or zlib, as HdrHistogram's decode raises
        histograms.merge([whole, whole[:-12] + "AAAAAAAAAAAA"])
