"""Pieces both flows share: one run (topic, producers, consumer, count) and step timing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from uuid import UUID

from prefect import get_run_logger
from prefect.runtime import flow_run

from kafkalab.experiment import steps
from kafkalab.model import RunRecord, StepTiming
from kafkalab.platforms import Cluster
from kafkalab.results import spool
from kafkalab.results.store import Store
from kafkalab.spec import ExperimentSpec
from tasks.load import consumer_test, integrity, producer_fanout, records_in_topic, run_figures
from tasks.topics import create_topic


class CancelRequested(Exception):
    """The flow run is Cancelling, and nothing stopped this process (see stop_if_cancelled)."""


def stop_if_cancelled(before: str) -> None:
    """A cancellation checkpoint between steps.

    Cancel in the UI sets a flow run Cancelling; for a deployment's run the worker then
    stops the flow's process (Prefect's engine ends it Cancelled). A run that `kafkalab run`
    started has no worker, and a run cancelled while its process was still starting can miss
    the signal: so the flows ask at each step boundary and stop themselves.
    """
    run_id = flow_run.get_id()
    if not run_id:
        return
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(run_id)).state
    except Exception:  # noqa: BLE001 - an API that does not answer is no reason to stop a run
        return
    if state is not None and state.is_cancelling():
        raise CancelRequested(f"cancelled through the Prefect API before {before}")


@contextlib.contextmanager
def timed(step: str, into: list[StepTiming]) -> Iterator[None]:
    started = datetime.now(timezone.utc)
    try:
        yield
    finally:
        into.append(StepTiming(step, started, datetime.now(timezone.utc)))


def run_once(
    spec: ExperimentSpec,
    cluster: Cluster,
    *,
    repetition: int,
    attempt: int,
    label: str,
    topic: str,
    inherited_steps: list[StepTiming] | None = None,
    context: dict[str, object] | None = None,
) -> RunRecord:
    """One run on a ready cluster: fresh topic, producers, consumer, integrity count.

    A failed step is recorded in the returned run (status failed, error), not raised, so
    that what was measured is stored; Ctrl-C and cancellation still propagate.
    """
    timings = list(inherited_steps or [])
    record = steps.new_run_record(spec, cluster, repetition, topic)
    record.flow_run_id = flow_run.get_id()
    record.attempt = attempt
    for field_name, value in (context or {}).items():  # e.g. a sweep's id and cell: stored even if interrupted
        setattr(record, field_name, value)
    faults = steps.fault_injector(spec, cluster, on_progress=get_run_logger().info)
    record.fingerprint = steps.take_fingerprint(spec, cluster)  # before the load: its load average too
    try:
        with timed("create topic", timings):
            record.topic = create_topic(spec, cluster, topic)
        with timed("producers", timings), steps.run_metrics(spec, cluster, record, on_progress=get_run_logger().info):
            record.producers, record.consumers = producer_fanout(spec, cluster, record.topic, faults, label=label)
        record.figures = run_figures(spec, record)  # what the producers measured, whatever comes next
        with timed("records in topic", timings):
            record.records_in_topic = records_in_topic(cluster, record.topic)
        steps.check_consumers(spec, record.consumers, record.records_in_topic)
        if spec.consumer.enabled and not spec.consumer.runs_alongside and all(p.status == "ok" for p in record.producers):
            with timed("consumer test", timings):
                # what the topic holds: after a fault that lost records the consumer still
                # measures reading; the loss itself is the integrity step's finding
                record.consumers = consumer_test(spec, cluster, record.topic, record.records_in_topic, label=label)
                steps.check_consumers(spec, record.consumers, record.records_in_topic)
        with timed("integrity", timings):
            integrity(spec, cluster, record.topic, record.producers, record.records_in_topic).apply(record)
        record.error = steps.run_error(record.producers, record.consumers)
    except Exception as exc:  # noqa: BLE001 - stored with the run; the flow decides what fails
        record.error = f"{type(exc).__name__}: {exc}"
    except BaseException as exc:  # Ctrl-C, SIGTERM, a cancellation from the UI: keep the run, then stop
        record.status, record.error = "cancelled", f"cancelled ({type(exc).__name__}) during {_current_step(timings)}"
        record.finished_at = datetime.now(timezone.utc)
        record.steps = timings
        if faults is not None:
            record.fault_events = faults.events  # what was injected before the interruption
        keep_interrupted_run(record)
        raise
    if faults is not None:
        try:  # brokers left down come back before the next run; the events go with this one
            record.fault_events = faults.finish()
        except Exception as exc:  # noqa: BLE001 - stored with the run
            record.fault_events = faults.events
            record.error = record.error or f"{type(exc).__name__}: {exc}"
    record.verdict = steps.judge_bottleneck(record)  # figures and metrics are in
    record.status = "failed" if record.error else "ok"
    record.finished_at = datetime.now(timezone.utc)
    record.steps = timings
    return record


def _current_step(timings: list[StepTiming]) -> str:
    # `timed` records a step when it ends, also when it ends by the interruption
    return timings[-1].step if timings else "start"


def keep_interrupted_run(record: RunRecord) -> None:
    """Store an interrupted run as `cancelled` straight away (no Prefect task: the run is
    being cancelled), or spool it when the database does not answer."""
    def save(run: RunRecord) -> int:
        with Store() as store:
            return store.save_run(run)

    spool.save_or_spool(record, save)
