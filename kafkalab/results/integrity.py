"""Integrity: what the producers report acknowledged against what the topic holds.

Acknowledged is the sum of the instances' summary record counts (ProducerPerformance counts
a record only when its send completed without error, i.e. the broker acknowledged it per
`acks`), failed instances included: what they got acknowledged is in the topic too. When an
instance printed no summary (it crashed) the acknowledged count is unknown and stays NULL.

What the topic holds: the end offsets (sum of end - start offset per partition; the
default), or, with `integrity: {verify: consume}`, the records read back by a plain consumer
from the start offsets to the end offsets taken before reading. Lost = acknowledged - held:
0 when nothing was lost, > 0 for acknowledged records the topic no longer has, < 0 when it
holds more than was acknowledged (duplicates from retries, or sends that reached the log but
whose acknowledgement the producer never got).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from kafkalab.core.errors import ClusterError
from kafkalab.core.waiting import wait_until
from kafkalab.kafka import admin
from kafkalab.model import ProducerOutcome, RunRecord


@dataclass(frozen=True)
class Integrity:
    check: str  # end_offsets | consume
    acknowledged: int | None
    in_topic: int | None  # end offsets
    consumed: int | None = None  # consume only

    @property
    def held(self) -> int | None:
        return self.consumed if self.check == "consume" else self.in_topic

    @property
    def lost(self) -> int | None:
        if self.acknowledged is None or self.held is None:
            return None
        return self.acknowledged - self.held

    def apply(self, record: RunRecord) -> None:
        record.integrity_check = self.check
        record.records_acknowledged = self.acknowledged
        record.records_consumed = self.consumed
        record.records_lost = self.lost


def acknowledged(producers: list[ProducerOutcome]) -> int | None:
    """Records the instances report acknowledged; None when one printed no summary."""
    if not producers or any(p.output.summary is None for p in producers):
        return None
    return sum(p.output.summary.records for p in producers)


def consume_count(target: admin.Target, topic: str, *, timeout_s: float) -> int:
    """Read every partition from its start to the end offset seen now; the records read."""
    client = admin.admin_client(target)
    meta = client.list_topics(topic=topic, timeout=30).topics.get(topic)
    if meta is None or meta.error is not None:
        raise ClusterError(f"topic {topic} not found")
    consumer = Consumer({
        **admin.client_config(target), "group.id": f"kafkalab-verify-{uuid.uuid4()}",
        "enable.auto.commit": False, "auto.offset.reset": "earliest", "enable.partition.eof": True,
    })
    try:
        ends: dict[int, int] = {}
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        remaining = set(ends)
        count = 0

        def read_to_the_end() -> bool:
            nonlocal count
            if not remaining:
                return True
            for msg in consumer.consume(num_messages=10000, timeout=1.0):  # waits for records: no pause needed
                partition = msg.partition()
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        if partition in remaining and msg.offset() >= ends[partition]:
                            remaining.discard(partition)
                        continue
                    raise ClusterError(f"reading {topic} back: {msg.error()}")
                if partition in remaining and msg.offset() < ends[partition]:
                    count += 1
                    if msg.offset() + 1 >= ends[partition]:
                        remaining.discard(partition)
            return not remaining

        wait_until(read_to_the_end, timeout_s, f"reading {topic} back: every partition read to the end", interval=0,
                   detail=lambda: f"partitions {sorted(remaining)} left, {count} records read", error=ClusterError)
        return count
    finally:
        consumer.close()
