"""Sweep bookkeeping: the sweep row, what a resume skips, progress and cell artifacts."""

from __future__ import annotations

from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact

from kafkalab.core.errors import SpecError
from kafkalab.plan import SweepPlan
from kafkalab.results.store import Store
from tasks import DATABASE_RETRIES, kafkalab_task


@kafkalab_task(name="open sweep", **DATABASE_RETRIES)
def open_sweep(plan: SweepPlan, resume: int | None, flow_run_id: str | None) -> tuple[int, set[tuple[int, int]]]:
    """A new sweep, or the one to resume: its id and the (cell, repetition) pairs already done."""
    logger = get_run_logger()
    with Store() as store:
        if resume is None:
            sweep_id = store.create_sweep(
                name=plan.spec.name, spec=plan.spec.model_dump(mode="json"), fingerprint=plan.fingerprint,
                cells=len(plan.cells), repetitions=plan.repetitions, flow_run_id=flow_run_id,
            )
            logger.info("sweep %d: %d cells x %d repetitions", sweep_id, len(plan.cells), plan.repetitions)
            return sweep_id, set()
        found = store.sweep(resume)
        if found is None:
            raise SpecError(f"--resume {resume}: no such sweep")
        if found["fingerprint"] != plan.fingerprint:
            raise SpecError(
                f"--resume {resume}: sweep {resume} ({found['name']}) was planned from a different spec; "
                "resume it with the same spec file"
            )
        done = store.completed_cells(resume)
        store.resume_sweep(resume, flow_run_id)
    logger.info("resuming sweep %d: %d of %d runs already done", resume, len(done), len(plan.cells) * plan.repetitions)
    return resume, done


@kafkalab_task(name="close sweep", **DATABASE_RETRIES)
def close_sweep(sweep_id: int, status: str) -> None:
    with Store() as store:
        store.finish_sweep(sweep_id, status)


def start_progress(total_runs: int, done: int) -> UUID:
    return create_progress_artifact(
        progress=100.0 * done / max(1, total_runs), key=None, description="Sweep progress: runs finished of planned"
    )


def advance_progress(artifact_id: UUID, total_runs: int, done: int) -> None:
    update_progress_artifact(artifact_id=artifact_id, progress=100.0 * done / max(1, total_runs))


def publish_cells(sweep_name: str, sweep_id: int, rows: list[dict[str, object]]) -> None:
    """The finished cells so far, one row per run (replaced after each cell)."""
    key = "sweep-" + "".join(c if c.isalnum() else "-" for c in sweep_name.lower())
    create_table_artifact(key=key, table=rows, description=f"Sweep **{sweep_name}** (id {sweep_id}): finished runs")


@kafkalab_task(name="sweep report")
def publish_report(sweep_id: int, sweep_name: str, out_dir: str) -> str:
    """The sweep's HTML report (kafkalab report --sweep), its summary and main chart as artifacts."""
    from pathlib import Path

    from prefect.artifacts import create_markdown_artifact

    from kafkalab.reports.htmlreport import write_report

    report = write_report(None, Path(out_dir), sweep_id=sweep_id)
    key = "sweep-" + "".join(c if c.isalnum() else "-" for c in sweep_name.lower()) + "-report"
    create_markdown_artifact(
        key=key,
        markdown=f"{report.summary_markdown}\n\n{report.chart_markdown()}\n\nFull report: `{report.path}`",
        description=f"Sweep {sweep_id} ({sweep_name}): summary and main chart",
    )
    get_run_logger().info("report written to %s", report.path)
    return str(report.path)
