"""HdrHistograms of the load generator: merged, never averaged.

Every generator instance writes one histogram per kind of latency and reporting interval,
in microseconds, in HdrHistogram's compressed encoding (kafkalab.kafka.loadgen). A figure
over several instances or intervals comes from the merged histogram; the percentiles of
separate histograms are never combined (averaging or taking the worst of percentiles
answers no question anyone asks).
"""

from __future__ import annotations

import base64
import ctypes
import struct
import zlib
from collections.abc import Iterable

import numpy as np
from hdrh import codec
from hdrh.histogram import HdrHistogram
from pyhdrh import (
    decode as decode_counts,  # hdrh's C extension: varints into a counts array
)

from kafkalab.model import LatencySummary

# The generator's histogram range (kafkalab/java/loadgen: 1 µs to 1 hour, 3 significant digits).
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0, "p999_ms": 99.9, "p9999_ms": 99.99}


def empty() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """One histogram holding every value of the `encoded` ones.

    The same counts as HdrHistogram's decode_and_add of each, 3-4 times faster (an hour of
    25 instances' 5-s intervals in about 0.6 s, bench/histogram_merge.py): each one's counts
    are decoded into one scratch array and only the range they occupy is added, instead of
    a new histogram of every count (1 µs to 1 hour: 23,552 of them) per item. A histogram of
    other settings than the generator's is added the plain way. An empty one adds nothing
    (HdrHistogram's add would take its minimum as 0).
    """
    merged = empty()
    counts = np.ctypeslib.as_array(merged.counts)  # a view: adding to it adds to the histogram
    scratch_counts = (ctypes.c_uint64 * merged.counts_len)()
    scratch, scratch_address = np.ctypeslib.as_array(scratch_counts), ctypes.addressof(scratch_counts)
    lowest_index, highest_index, total = merged.counts_len, -1, 0
    for item in encoded:
        if not item:
            continue
        varints = _generator_varints(item)
        if varints is None:
            merged.decode_and_add(item)
            continue
        # Writes the non-zero counts only: the scratch array is zero again after each item.
        found = decode_counts(varints, codec.payload_header_size, scratch_address, merged.counts_len, 8)
        if found["total"] == 0:
            continue
        low, high = found["min_nonzero_index"], found["max_nonzero_index"] + 1
        counts[low:high] += scratch[low:high]
        scratch[low:high] = 0
        lowest_index, highest_index, total = min(lowest_index, low), max(highest_index, high - 1), total + found["total"]
    if total:  # what HdrHistogram.add keeps besides the counts
        merged.total_count += total
        merged.min_value = min(merged.min_value, merged.get_value_from_index(lowest_index))
        merged.max_value = max(merged.max_value,
                               merged.get_highest_equivalent_value(merged.get_value_from_index(highest_index)))
    return merged


_EXTERNAL_HEADER = struct.Struct(">II")  # cookie, length of the compressed payload
_PAYLOAD_HEADER = struct.Struct(">IIIIqqd")  # cookie, varints' length, index offset, digits, lowest, highest, ratio


def _generator_varints(encoded: str) -> bytes | None:
    """The decompressed payload of a V2 histogram of the generator's settings, else None.

    Malformed input raises as HdrHistogram's own decode does (base64, zlib errors)."""
    raw = base64.b64decode(encoded)
    cookie, length = _EXTERNAL_HEADER.unpack_from(raw)
    if codec.get_cookie_base(cookie) != codec.V2_COMPRESSION_COOKIE_BASE or length != len(raw) - _EXTERNAL_HEADER.size:
        return None
    payload = zlib.decompress(raw[_EXTERNAL_HEADER.size:])
    if len(payload) < _PAYLOAD_HEADER.size:
        return None
    cookie, _, index_offset, digits, lowest, highest, ratio = _PAYLOAD_HEADER.unpack_from(payload)
    if (codec.get_cookie_base(cookie), index_offset, digits, lowest, highest, ratio) != (
            codec.V2_ENCODING_COOKIE_BASE, 0, SIGNIFICANT_DIGITS, LOWEST_US, HIGHEST_US, 1.0):
        return None
    return payload


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
