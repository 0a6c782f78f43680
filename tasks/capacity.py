"""Capacity study bookkeeping: the study row, what a resume skips, each step's figures, the artifacts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from kafkalab.analysis import capacity_store
from kafkalab.analysis.capacity import (
    CapacityResult,
    Step,
    StepOutcome,
    StudyPlan,
    summarize_step,
)
from kafkalab.results.store import Store
from tasks import DATABASE_RETRIES, kafkalab_task


@kafkalab_task(name="open capacity study", **DATABASE_RETRIES)
def open_study(name: str, spec: dict[str, Any], study: dict[str, Any], plan: StudyPlan, resume: int | None,
               flow_run_id: str | None, sweep_id: int | None = None, cell_index: int | None = None,
               cell: dict[str, Any] | None = None) -> tuple[int, list[capacity_store.StoredStep]]:
    """A new study, or the one to resume: its id and the steps stored so far."""
    logger = get_run_logger()
    with Store() as store:
        if resume is None:
            study_id = capacity_store.create_study(store, name=name, spec=spec, study=study, plan=plan,
                                                   flow_run_id=flow_run_id, sweep_id=sweep_id, cell_index=cell_index,
                                                   cell=cell)
            logger.info("capacity study %d: %s on %s, %d repetitions a step", study_id, plan.objective.text, plan.kind,
                        plan.repetitions)
            return study_id, []
        capacity_store.resume_study(store, resume, spec=spec, study=study, flow_run_id=flow_run_id)
        stored = capacity_store.stored_steps(store, resume)
    done = sum(1 for s in stored if len(s.ok_runs) >= (1 if s.step.phase == "probe" else plan.repetitions))
    logger.info("resuming capacity study %d: %d steps done, %d runs stored", resume, done,
                sum(len(s.ok_runs) for s in stored))
    return resume, stored


@kafkalab_task(name="cell capacity study", **DATABASE_RETRIES)
def find_cell_study(sweep_id: int, cell_index: int) -> dict[str, Any] | None:
    with Store() as store:
        return capacity_store.cell_study(store, sweep_id, cell_index)


@kafkalab_task(name="capacity cells done", **DATABASE_RETRIES)
def completed_capacity_cells(sweep_id: int) -> set[int]:
    with Store() as store:
        return capacity_store.completed_capacity_cells(store, sweep_id)


@kafkalab_task(name="record step", task_run_name="record step {step.seq} ({step.phase})", **DATABASE_RETRIES)
def record_step(study_id: int, step: Step) -> None:
    with Store() as store:
        capacity_store.record_step(store, study_id, step)


@kafkalab_task(name="link run", **DATABASE_RETRIES)
def link_run(study_id: int, seq: int, repetition: int, run_id: int) -> None:
    with Store() as store:
        capacity_store.link_run(store, study_id, seq, repetition, run_id)


@kafkalab_task(name="measure step", task_run_name="measure step {step.seq}", **DATABASE_RETRIES)
def measure_step(study_id: int, step: Step, run_ids: list[int], plan: StudyPlan) -> StepOutcome:
    """The step's figures from its stored runs (histograms merged over them), kept with the step."""
    with Store() as store:
        outcome = summarize_step(step, capacity_store.run_measures(store, run_ids, plan.kind), plan.objective)
        capacity_store.save_outcome(store, study_id, outcome)
    return outcome


@kafkalab_task(name="close capacity study", **DATABASE_RETRIES)
def close_study(study_id: int, status: str, result: CapacityResult | None = None) -> None:
    with Store() as store:
        capacity_store.finish_study(store, study_id, status, result)


@kafkalab_task(name="capacity artifacts")
def publish_study(study_id: int, name: str, line: str) -> None:
    """The study's steps as a table, its curve and result as Markdown with the picture."""
    from kafkalab.reports.capacity_charts import curve_chart_markdown

    with Store() as store:
        study, steps = capacity_store.study_summary(store, study_id)
        picture = curve_chart_markdown(store, study_id)
    key = "capacity-" + "".join(c if c.isalnum() else "-" for c in name.lower())
    columns = ("seq", "phase", "target_records_per_sec", "achieved_records_per_sec", "p50_ms", "p99_ms", "p999_ms",
               "objective_ms", "verdict", "reason")
    create_table_artifact(key=key, table=[{c: _plain(s[c]) for c in columns} for s in steps],
                          description=f"Capacity study {study_id} ({name}): one row a step")
    slo = study["slo"] if study else ""
    create_markdown_artifact(key=key + "-result", markdown=f"**Capacity study {study_id}** ({name}, {slo})\n\n{line}"
                                                           f"\n\n{picture}",
                             description=f"Capacity study {study_id}: the result and the latency-throughput curve")


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value  # artifacts are JSON
