"""The load generator's client metrics as series: one sample per instance and interval.

Each `kafkalab-interval` line of the generator carries the client's own metrics at the
interval's end (kafkalab.kafka.loadgen, LoadInterval.client_metrics): record queue time,
request latency, batch size, records per request, buffer available and throttle time for a
producer; fetch latency and the largest lag for a consumer. Sources are "producer-<i>" and
"consumer-<i>". Kafka's perf tools print no such metrics: their runs say so in `missing`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kafkalab.metrics import names as n
from kafkalab.model import ConsumerOutcome, LoadInterval, MetricSample, ProducerOutcome

PRODUCER_METRICS = (n.RECORD_QUEUE_TIME, n.REQUEST_LATENCY, n.BATCH_SIZE, n.RECORDS_PER_REQUEST, n.BUFFER_AVAILABLE,
                    n.PRODUCE_THROTTLE)
CONSUMER_METRICS = (n.FETCH_LATENCY, n.RECORDS_LAG_MAX)


def client_series(producers: list[ProducerOutcome], consumers: list[ConsumerOutcome]) -> list[MetricSample]:
    """Every instance's client metrics, per interval; a metric an interval lacks is None."""
    samples = []
    for source, names, intervals in _instances(producers, consumers):
        for interval in intervals:
            if interval.client_metrics:
                samples += _interval_samples(source, names, interval)
    return samples


def client_missing(producers: list[ProducerOutcome], consumers: list[ConsumerOutcome]) -> list[str]:
    """Instances that reported no client metrics, in words (RunMetrics.missing): one line per reason."""
    silent: dict[str, list[str]] = {}
    for source, _, intervals in _instances(producers, consumers):
        if not any(i.client_metrics for i in intervals):
            tool = _tool(source, producers, consumers)
            why = "Kafka's perf tools print none" if tool == "kafka-perf" else "no interval reported any"
            silent.setdefault(why, []).append(source)
    return [f"client metrics: none from {', '.join(sources[:5])}{' and more' if len(sources) > 5 else ''} "
            f"({len(sources)} instances; {why})" for why, sources in silent.items()]


def _instances(producers, consumers):
    for p in producers:
        yield f"producer-{p.instance}", PRODUCER_METRICS, p.intervals
    for c in consumers:
        yield f"consumer-{c.instance}", CONSUMER_METRICS, c.intervals


def _interval_samples(source: str, names: tuple[str, ...], interval: LoadInterval) -> list[MetricSample]:
    at = datetime.fromtimestamp(interval.end_ms / 1000, UTC)
    return [MetricSample(source, name, at, interval.client_metrics.get(name)) for name in names]


def _tool(source: str, producers, consumers) -> str:
    role, _, index = source.partition("-")
    outcomes = producers if role == "producer" else consumers
    return next((o.tool for o in outcomes if str(o.instance) == index), "kafkalab")
