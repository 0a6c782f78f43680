"""The `capacity` flow: the most throughput a cluster sustains while a latency objective holds.

Reads like the study: deploy the cluster once, probe the maximum with a short unthrottled
run, step the target rate up (10% .. 110% of the probe, or the given rates), each step
repeated, stop at the first step that breaks the objective or saturates, bisect between the
last pass and the first fail, and store the curve, the knee and the maximum sustainable
throughput (kafkalab.analysis.capacity has the rules). `resume` replays the search from the
stored steps and runs only what is missing. A sweep with `capacity:` runs `sweep_cell_study`
per cell on its live cluster.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Cancelled

from flows.common import CancelRequested, run_once, stop_if_cancelled
from kafkalab.analysis.capacity import (
    CapacityResult,
    StepOutcome,
    StudyPlan,
    next_step,
    plan_study,
    result,
    step_spec,
)
from kafkalab.analysis.capacity_store import StoredStep
from kafkalab.core.errors import KafkalabError, SpecError
from kafkalab.core.processes import install_signal_handlers
from kafkalab.experiment import steps
from kafkalab.experiment.launch import request_name, resolve_spec
from kafkalab.plan import Cell
from kafkalab.platforms import Cluster
from kafkalab.spec import ExperimentSpec, SweepSpec, spec_to_dict
from kafkalab.spec.models import CapacitySpec
from tasks.capacity import (
    close_study,
    find_cell_study,
    link_run,
    measure_step,
    open_study,
    publish_study,
    record_step,
)
from tasks.cluster import (
    endpoints,
    fetch_kafka,
    install_framework,
    teardown,
    wait_broker_ready,
)
from tasks.results import prepare_store, store_run
from tasks.topics import smoke_test

MAX_STEPS = 40  # a bound on any search: probe + 11 steps + bisections stay far below it


class CapacityFailed(KafkalabError):
    """A run of the study failed; it is stored, and a resume runs that repetition again."""


def _run_name() -> str:
    return "capacity " + request_name(**{k: flow_run.parameters.get(k) for k in ("spec", "spec_file")})


@flow(name="capacity", flow_run_name=_run_name, log_prints=True, validate_parameters=False)
def capacity(
    study: CapacitySpec,
    spec: ExperimentSpec | None = None,
    spec_file: str | None = None,
    resume: int | None = None,
) -> int:
    """Find the maximum sustainable throughput under a latency objective; return the study id.

    Args:
        study: The objective (e.g. p99<20ms), the latency kind, the rates or the probe's steps, repetitions.
        spec: The experiment, inline. Leave empty when spec_file names one.
        spec_file: An experiment YAML, e.g. experiments/quickstart.yaml. Leave empty when spec is given.
        resume: The id of an interrupted study of the same spec and objective, to run only what it lacks.
    """
    spec = resolve_spec(spec, spec_file)
    study = _study(study)
    plan = plan_study(study, spec)  # a bad objective, kind or rate list: one line, nothing started
    install_signal_handlers()
    try:
        return _run_capacity(spec, study, plan, resume)
    except CancelRequested as exc:
        get_run_logger().warning("%s: %s; the cluster was stopped", spec.name, exc)
        return Cancelled(message=str(exc))


def _study(study: CapacitySpec | dict[str, Any]) -> CapacitySpec:
    if isinstance(study, CapacitySpec):
        return study
    from pydantic import ValidationError

    from kafkalab.spec.models import _format_error

    try:
        return CapacitySpec.model_validate(study)
    except ValidationError as exc:
        raise SpecError(f"study: {_format_error(exc)}") from None


def _run_capacity(spec: ExperimentSpec, study: CapacitySpec, plan: StudyPlan, resume: int | None) -> int:
    prepare_store()
    study_id, stored = open_study(spec.name, spec_to_dict(spec), study.model_dump(mode="json"), plan, resume,
                                  flow_run.get_id())
    status, found = "failed", None
    try:
        dist = fetch_kafka(spec.kafka_version)
        stop_if_cancelled("install framework")
        cluster = install_framework(spec, dist, steps.new_run_dir(spec.name))
        try:
            for broker_id in cluster.broker_ids:
                wait_broker_ready(cluster, broker_id, spec.cluster.ready_timeout_s)
            endpoints(cluster, spec.cluster.client_quotas)
            if spec.smoke_test:
                smoke_test(spec, cluster)
            found = study_on_cluster(spec, plan, study_id, stored, cluster)
        finally:
            try:
                teardown(cluster)
            except BaseException:
                cluster.stop(grace_s=2)  # Ctrl-C while tearing down: still no JVM left
                raise
        status = "completed"
    except CancelRequested:
        status = "cancelled"
        raise
    except Exception:
        raise
    except BaseException:  # Ctrl-C, SIGTERM, a cancellation from the UI (Prefect's TerminationSignal)
        status = "cancelled"
        raise
    finally:
        close_study(study_id, status, found)
    assert found is not None
    line = found.describe(plan.objective)
    get_run_logger().info("capacity study %d: %s", study_id, line)
    publish_study(study_id, spec.name, line)
    return study_id


def study_on_cluster(spec: ExperimentSpec, plan: StudyPlan, study_id: int, stored: list[StoredStep], cluster: Cluster,
                     *, context: dict[str, object] | None = None) -> CapacityResult:
    """The search on a ready cluster: each step the plan asks for, its missing repetitions run,
    its figures from the stored runs. Steps stored before (a resume) are not run again."""
    logger = get_run_logger()
    before = {s.step.seq: s for s in stored}
    outcomes: list[StepOutcome] = []
    while (step := next_step(plan, outcomes)) is not None:
        if step.seq >= MAX_STEPS:
            raise CapacityFailed(f"capacity study {study_id}: more than {MAX_STEPS} steps planned; stopped")
        old = before.get(step.seq)
        if old is not None and old.step != step:
            raise CapacityFailed(f"capacity study {study_id}: step {step.seq} was stored as {old.step}, "
                                 f"the search now asks for {step}; its runs are not those of this search")
        record_step(study_id, step)
        ok_runs = dict(old.ok_runs) if old else {}
        repetitions = 1 if step.phase == "probe" else plan.repetitions
        what = "unthrottled" if step.target is None else f"{step.target:,.0f} records/s"
        for repetition in range(1, repetitions + 1):
            if repetition in ok_runs:
                continue
            label = f"step {step.seq} {step.phase} {what} rep {repetition}/{repetitions}"
            stop_if_cancelled(label)
            record = run_once(step_spec(spec, step, plan), cluster, repetition=repetition, attempt=1, label=label,
                              topic=f"{spec.topic.name}-cap{study_id}-s{step.seq}-r{repetition}",
                              context=context)
            run_id = store_run(record)  # a study needs its runs stored: no spool here
            link_run(study_id, step.seq, repetition, run_id)
            if record.status != "ok":
                raise CapacityFailed(f"capacity study {study_id}: run {run_id} ({label}) failed: {record.error}; "
                                     f"resume it with --resume {study_id}")
            ok_runs[repetition] = run_id
        outcome = measure_step(study_id, step, [ok_runs[r] for r in sorted(ok_runs)], plan)
        if step.phase == "probe" and outcome.achieved.value is None:
            raise CapacityFailed(f"capacity study {study_id}: the probe measured no window throughput "
                                 "(run longer: producer.num_records)")
        outcomes.append(outcome)
        logger.info("step %d (%s) %s: achieved %s records/s, %s %s ms: %s%s", step.seq, step.phase, what,
                    _number(outcome.achieved.value), plan.objective.name,
                    _number(outcome.latency["objective"].value, 2), outcome.verdict,
                    "" if outcome.verdict in ("pass", "probe") else f" ({outcome.reason})")
    return result(plan, outcomes)


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def sweep_cell_study(sweep_spec: SweepSpec, cell: Cell, plan: StudyPlan, cluster: Cluster, sweep_id: int,
                     origin: str) -> CapacityResult:
    """A sweep cell's capacity study on the sweep's live cluster: started, or resumed where the
    cell's study stopped (a sweep resumed after an interruption)."""
    study = sweep_spec.capacity
    assert study is not None
    existing = find_cell_study(sweep_id, cell.index)
    study_id, stored = open_study(cell.spec.name, spec_to_dict(cell.spec), study.model_dump(mode="json"), plan,
                                  existing["id"] if existing else None, flow_run.get_id(), sweep_id=sweep_id,
                                  cell_index=cell.index, cell=dict(cell.values))
    status, found = "failed", None
    try:
        found = study_on_cluster(cell.spec, plan, study_id, stored, cluster,
                                 context={"cell": dict(cell.values), "cluster_origin": origin})
        status = "completed"
    except Exception:
        raise
    except BaseException:  # Ctrl-C, SIGTERM, a cancellation from the UI
        status = "cancelled"
        raise
    finally:
        close_study(study_id, status, found)
    line = found.describe(plan.objective)
    get_run_logger().info("cell %d (%s): capacity study %d: %s", cell.index, cell.label, study_id, line)
    publish_study(study_id, f"{sweep_spec.name}-cell-{cell.index}", line)
    return found
