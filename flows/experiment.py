"""The `experiment` flow: one experiment spec, run end to end on a real Kafka cluster.

Reads like the guide: install the framework, wait until every broker is registered, get
the endpoints, smoke test, then for each repetition a fresh topic, the producer fan-out,
the consumer test, what the topic holds, and the results into PostgreSQL. Teardown runs
whatever happened before it.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Cancelled

from flows.common import CancelRequested, run_once, stop_if_cancelled, timed
from kafkalab.core.errors import KafkalabError
from kafkalab.core.processes import install_signal_handlers
from kafkalab.experiment import steps
from kafkalab.experiment.launch import SpecOverrides, request_name, resolve_spec
from kafkalab.model import RunRecord, StepTiming
from kafkalab.spec import ExperimentSpec
from tasks.changepoints import publish_change_points
from tasks.cluster import endpoints, fetch_kafka, install_framework, teardown, wait_broker_ready
from tasks.results import prepare_store, publish_results, store_or_spool
from tasks.topics import smoke_test


class ExperimentFailed(KafkalabError):
    """At least one run of the experiment failed; its output is stored with the run."""


def _run_name() -> str:
    return request_name(**{k: flow_run.parameters.get(k) for k in ("spec", "spec_file", "overrides")})


# validate_parameters=False: a spec from the UI arrives as a mapping and goes through
# kafkalab's own parse (profile, options.json, errors naming the field); the annotations
# still make the deployment's parameter schema, which the server enforces on every run.
@flow(name="experiment", flow_run_name=_run_name, log_prints=True, validate_parameters=False)
def experiment(
    spec: ExperimentSpec | None = None,
    spec_file: str | None = None,
    overrides: SpecOverrides | None = None,
) -> list[int | None]:
    """Run one experiment spec on a fresh Kafka cluster, `repetitions` times; return the stored run ids.

    Args:
        spec: The experiment, inline. Leave empty when spec_file names one.
        spec_file: An experiment YAML, e.g. experiments/quickstart.yaml (relative to the project). Leave empty when spec is given.
        overrides: Settings that replace the spec's for this run; empty fields keep the spec's values.
    """
    spec = resolve_spec(spec, spec_file, overrides)
    install_signal_handlers()
    try:
        return _run_experiment(spec)
    except CancelRequested as exc:
        get_run_logger().warning("%s: %s; the cluster was stopped", spec.name, exc)
        return Cancelled(message=str(exc))


def _run_experiment(spec: ExperimentSpec) -> list[int | None]:
    logger = get_run_logger()
    cluster_steps: list[StepTiming] = []
    prepare_store()
    with timed("kafka jars", cluster_steps):
        dist = fetch_kafka(spec.kafka_version)
    stop_if_cancelled("install framework")
    run_dir = steps.new_run_dir(spec.name)
    with timed("install framework", cluster_steps):
        cluster = install_framework(spec, dist, run_dir)
    records: list[RunRecord] = []
    run_ids: list[int] = []
    try:
        with timed("brokers ready", cluster_steps):
            for broker_id in cluster.broker_ids:
                wait_broker_ready(cluster, broker_id, spec.cluster.ready_timeout_s)
        endpoints(cluster, spec.cluster.client_quotas)
        stop_if_cancelled("the smoke test")
        if spec.smoke_test:
            with timed("smoke test", cluster_steps):
                smoke_test(spec, cluster)
        for repetition in range(1, spec.repetitions + 1):
            for attempt in range(1, spec.retries.perf_tests + 2):
                label = f"rep {repetition}/{spec.repetitions}" + (f" attempt {attempt}" if attempt > 1 else "")
                stop_if_cancelled(f"run {label}")
                record = run_once(
                    spec, cluster, repetition=repetition, attempt=attempt, label=label,
                    topic=spec.topic_name(repetition, attempt), inherited_steps=cluster_steps if not records else [],
                )
                records.append(record)
                run_ids.append(store_or_spool(record))
                if record.status == "ok":
                    break
                logger.warning("run %s failed (%s)", run_ids[-1], record.error)
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
            publish_change_points([spec.name])  # the history with this run: has it shifted?
    if records and records[-1].status != "ok":
        raise ExperimentFailed(f"{spec.name}: run {run_ids[-1]} failed: {records[-1].error}")
    logger.info("experiment %s: %d runs stored (%s)", spec.name, len(run_ids), ", ".join(map(str, run_ids)))
    return run_ids
