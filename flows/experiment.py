"""The `experiment` flow: one experiment spec, run end to end on a real Kafka cluster.

Reads like the guide: install the framework, wait until every broker is registered, get
the endpoints, smoke test, then for each repetition a fresh topic, the producer fan-out,
the consumer test, what the topic holds, and the results into PostgreSQL. Teardown runs
whatever happened before it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from kafkalab import experiment as steps
from kafkalab.errors import KafkalabError
from kafkalab.model import RunRecord, StepTiming
from kafkalab.processes import install_signal_handlers
from kafkalab.spec import ExperimentSpec
from tasks.cluster import endpoints, fetch_kafka, install_framework, teardown, wait_broker_ready
from tasks.load import consumer_test, producer_fanout, records_in_topic
from tasks.results import prepare_store, publish_results, store_run
from tasks.topics import create_topic, smoke_test


class ExperimentFailed(KafkalabError):
    """At least one run of the experiment failed; its output is stored with the run."""


@contextlib.contextmanager
def _timed(step: str, into: list[StepTiming]) -> Iterator[None]:
    started = datetime.now(timezone.utc)
    try:
        yield
    finally:
        into.append(StepTiming(step, started, datetime.now(timezone.utc)))


@flow(name="experiment", flow_run_name="{spec.name}", log_prints=True)
def experiment(spec: ExperimentSpec) -> list[int]:
    """Run `spec.repetitions` runs of one case on one cluster; return the stored run ids."""
    install_signal_handlers()
    logger = get_run_logger()
    cluster_steps: list[StepTiming] = []
    prepare_store()
    with _timed("kafka jars", cluster_steps):
        dist = fetch_kafka(spec.kafka_version)
    run_dir = steps.new_run_dir(spec.name)
    with _timed("install framework", cluster_steps):
        cluster = install_framework.with_options(
            task_run_name=f"install framework: {spec.cluster.brokers} brokers"
        )(spec, dist, run_dir)
    records: list[RunRecord] = []
    run_ids: list[int] = []
    try:
        with _timed("brokers ready", cluster_steps):
            for broker_id in cluster.broker_ids:
                wait_broker_ready.with_options(task_run_name=f"broker {broker_id} ready")(
                    cluster, broker_id, spec.cluster.ready_timeout_s
                )
        endpoints(cluster)
        if spec.smoke_test:
            with _timed("smoke test", cluster_steps):
                smoke_test(spec, cluster)
        for repetition in range(1, spec.repetitions + 1):
            for attempt in range(1, spec.retries.perf_tests + 2):
                record = _repetition(spec, cluster, repetition, attempt, cluster_steps if not records else [])
                records.append(record)
                run_ids.append(store_run(record))
                if record.status == "ok":
                    break
                logger.warning("run %d failed (%s)", run_ids[-1], record.error)
            if record.status != "ok":
                break  # the same case would fail again: stop, keep what was measured
    finally:
        try:
            teardown(cluster)
        except BaseException:
            cluster.stop(grace_s=2)  # e.g. Ctrl-C while tearing down: still no JVM left
            raise
        if records:
            publish_results(spec.name, records, run_ids)
    if records and records[-1].status != "ok":
        raise ExperimentFailed(f"{spec.name}: run {run_ids[-1]} failed: {records[-1].error}")
    logger.info("experiment %s: %d runs stored (%s)", spec.name, len(run_ids), ", ".join(map(str, run_ids)))
    return run_ids


def _repetition(
    spec: ExperimentSpec, cluster: Any, repetition: int, attempt: int, inherited_steps: list[StepTiming]
) -> RunRecord:
    """One run: fresh topic, producers, consumer, integrity count. Failures are recorded, not raised."""
    label = f"rep {repetition}/{spec.repetitions}" + (f" attempt {attempt}" if attempt > 1 else "")
    timings = list(inherited_steps)
    record = steps.new_run_record(spec, cluster, repetition, spec.topic_name(repetition, attempt))
    record.flow_run_id = flow_run.get_id()
    try:
        with _timed("create topic", timings):
            record.topic = create_topic.with_options(
                task_run_name=f"topic {record.topic} ({spec.topic.partitions} partitions, RF {spec.topic.replication_factor})"
            )(spec, cluster, record.topic)
        with _timed("producers", timings):
            record.producers = producer_fanout.with_options(
                task_run_name=f"producers x{spec.producer.instances} {label}"
            )(spec, cluster, record.topic)
        sent = sum(p.output.summary.records for p in record.producers if p.output.summary)
        if spec.consumer.enabled and all(p.status == "ok" for p in record.producers):
            with _timed("consumer test", timings):
                record.consumer = consumer_test.with_options(task_run_name=f"consumer test {label}")(
                    spec, cluster, record.topic, sent
                )
        with _timed("records in topic", timings):
            record.records_in_topic = records_in_topic(cluster, record.topic)
        record.error = steps.run_error(record.producers, record.consumer)
    except Exception as exc:  # noqa: BLE001 - a failed step is stored with the run, then the flow fails
        record.error = f"{type(exc).__name__}: {exc}"
    record.status = "failed" if record.error else "ok"
    record.finished_at = datetime.now(timezone.utc)
    record.steps = timings
    return record
