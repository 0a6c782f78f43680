"""Pieces both flows share: one run (topic, producers, consumer, count) and step timing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone

from prefect.runtime import flow_run

from kafkalab import experiment as steps
from kafkalab.model import RunRecord, StepTiming
from kafkalab.platforms.local import LocalCluster
from kafkalab.spec import ExperimentSpec
from tasks.load import consumer_test, producer_fanout, records_in_topic
from tasks.topics import create_topic


@contextlib.contextmanager
def timed(step: str, into: list[StepTiming]) -> Iterator[None]:
    started = datetime.now(timezone.utc)
    try:
        yield
    finally:
        into.append(StepTiming(step, started, datetime.now(timezone.utc)))


def run_once(
    spec: ExperimentSpec,
    cluster: LocalCluster,
    *,
    repetition: int,
    attempt: int,
    label: str,
    topic: str,
    inherited_steps: list[StepTiming] | None = None,
) -> RunRecord:
    """One run on a ready cluster: fresh topic, producers, consumer, integrity count.

    A failed step is recorded in the returned run (status failed, error), not raised, so
    that what was measured is stored; Ctrl-C and cancellation still propagate.
    """
    timings = list(inherited_steps or [])
    record = steps.new_run_record(spec, cluster, repetition, topic)
    record.flow_run_id = flow_run.get_id()
    record.attempt = attempt
    try:
        with timed("create topic", timings):
            record.topic = create_topic.with_options(
                task_run_name=f"topic {topic} ({spec.topic.partitions} partitions, RF {spec.topic.replication_factor})"
            )(spec, cluster, topic)
        with timed("producers", timings):
            record.producers = producer_fanout.with_options(
                task_run_name=f"producers x{spec.producer.instances} {label}"
            )(spec, cluster, record.topic)
        sent = sum(p.output.summary.records for p in record.producers if p.output.summary)
        if spec.consumer.enabled and all(p.status == "ok" for p in record.producers):
            with timed("consumer test", timings):
                record.consumer = consumer_test.with_options(task_run_name=f"consumer test {label}")(
                    spec, cluster, record.topic, sent
                )
        with timed("records in topic", timings):
            record.records_in_topic = records_in_topic(cluster, record.topic)
        record.error = steps.run_error(record.producers, record.consumer)
    except Exception as exc:  # noqa: BLE001 - stored with the run; the flow decides what fails
        record.error = f"{type(exc).__name__}: {exc}"
    record.status = "failed" if record.error else "ok"
    record.finished_at = datetime.now(timezone.utc)
    record.steps = timings
    return record
