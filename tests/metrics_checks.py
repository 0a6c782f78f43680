"""What the broker-metrics tests (local and on real pods) compare: the bytes the brokers'
BytesIn counted over a run's window against the bytes its generator had acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise


def at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def window_bytes(rows: list[tuple], record) -> tuple[int, float, float]:
    """(spans, BytesIn bytes, acknowledged value bytes) within `record`'s measurement window.

    `rows` are one broker's BytesIn samples, (at, bytes/s, ...) in time order; each sample's
    rate covers the time since the previous one, so the window's bytes are those of the spans
    inside it."""
    start, end = record.figures.window_start, record.figures.window_end
    spans = [(a[0], b[0], b[1]) for a, b in pairwise(rows) if a[0] >= start and b[0] <= end]
    broker_bytes = sum(rate * (b - a).total_seconds() for a, b, rate in spans)
    acknowledged = sum(_acked_bytes(p.intervals, a, b) for p in record.producers for a, b, _ in spans)
    return len(spans), broker_bytes, acknowledged


def _acked_bytes(intervals, start: datetime, end: datetime) -> float:
    """Value bytes acknowledged in [start, end], each interval's bytes shared out over its length."""
    total = 0.0
    for i in intervals:
        a, b = at(i.start_ms), at(i.end_ms)
        overlap = (min(b, end) - max(a, start)).total_seconds()
        if overlap > 0 and b > a:
            total += i.bytes * overlap / (b - a).total_seconds()
    return total
