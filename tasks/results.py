"""Results into PostgreSQL, and the table a person looks at in the Prefect UI."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from kafkalab.model import RunRecord
from kafkalab.reports.summary import experiment_markdown, flow_run_url, run_summary_rows, stored_totals
from kafkalab.results import spool
from kafkalab.results.store import Store
from tasks import DATABASE_RETRIES, kafkalab_task


@kafkalab_task(name="results database", **DATABASE_RETRIES)
def prepare_store() -> None:
    """Reach the results database and bring its schema to the newest migration."""
    with Store() as store:
        store.migrate()


@kafkalab_task(name="store run", **DATABASE_RETRIES)
def store_run(record: RunRecord) -> int:
    """One transaction: the run, its producer instances, their windows, the consumer result."""
    with Store() as store:
        run_id = store.save_run(record)
    get_run_logger().info("stored run %d (%s, repetition %d, %s)", run_id, record.experiment, record.repetition, record.status)
    return run_id


def store_or_spool(record: RunRecord) -> int | None:
    """store_run; when the database stays unreachable through its retries, the run goes to a
    spool file in its run directory, loaded by the next command that reaches the database.
    Returns the run id, or None when spooled."""
    run_id, spooled, error = spool.save_or_spool(record, store_run)
    if spooled is not None:
        get_run_logger().error(
            "could not store run (%s); spooled to %s: the next kafkalab command that reaches the database "
            "(or `kafkalab results import`) stores it", error, spooled,
        )
    return run_id


@kafkalab_task(name="results table")
def publish_results(experiment: str, records: list[RunRecord], run_ids: list[int]) -> None:
    totals = stored_totals(run_ids)  # one read of v_run_totals for both artifacts
    create_table_artifact(
        key=_artifact_key(experiment),
        table=run_summary_rows(records, run_ids, totals=totals),
        description=f"kafkalab experiment **{experiment}**: one row per run; totals are sums across producer instances.",
    )
    create_markdown_artifact(
        key=_artifact_key(experiment) + "-summary",
        markdown=experiment_markdown(experiment, records, run_ids, flow_run_url=_this_flow_run_url(),
                                     totals=totals),
        description=f"kafkalab experiment **{experiment}**: runs, totals and links.",
    )


def _this_flow_run_url() -> str | None:
    from prefect.runtime import flow_run
    from prefect.settings import get_current_settings

    return flow_run_url(flow_run.get_id(), get_current_settings().ui_url)


def _artifact_key(name: str) -> str:
    # Artifact keys allow lower-case letters, digits and dashes only.
    return "kafkalab-" + "".join(c if c.isalnum() else "-" for c in name.lower())
