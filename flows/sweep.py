"""The `sweep` flow: the guide's whole study as one resumable flow.

The plan expands the sweep's axes into cells (each a full experiment spec) and orders them
so that a cluster is deployed once and scaled between broker counts, as the guide scales
3 -> 6 -> 9 -> 15 on a live cluster. Every cell runs `repetitions` times; each run is stored
with its sweep, cell and how the cluster got there. `resume` runs only the (cell,
repetition) pairs without a successful run, so an interrupted sweep goes on where it stopped.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Cancelled

from flows.capacity import CapacityFailed, sweep_cell_study
from flows.common import CancelRequested, run_once, stop_if_cancelled
from kafkalab.analysis.capacity import sweep_study_plans
from kafkalab.core.errors import KafkalabError
from kafkalab.core.paths import runs_dir
from kafkalab.core.processes import install_signal_handlers
from kafkalab.experiment import steps
from kafkalab.model import RunRecord
from kafkalab.plan import Cell, plan_sweep
from kafkalab.platforms import SCALE, Cluster, check_plan
from kafkalab.reports.summary import run_summary_rows
from kafkalab.spec import SweepSpec
from tasks.capacity import completed_capacity_cells
from tasks.changepoints import publish_change_points
from tasks.cluster import (
    endpoints,
    fetch_kafka,
    install_framework,
    reassign_partitions,
    scale_brokers,
    teardown,
    wait_broker_ready,
)
from tasks.results import prepare_store, store_or_spool
from tasks.sweeps import advance_progress, close_sweep, open_sweep, publish_cells, publish_report, start_progress
from tasks.topics import smoke_test


class SweepFailed(KafkalabError):
    """Some cells of the sweep failed; they are stored as failed and run again on resume."""


class _Cluster:
    """The sweep's live cluster, what it was deployed for, and how it got to its current shape."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self.key: str | None = None
        self.origin = "fresh"

    def stop(self) -> None:
        if self.cluster is not None:
            try:
                teardown(self.cluster)
            except BaseException:
                self.cluster.stop(grace_s=2)  # Ctrl-C while tearing down: still no JVM left
                raise
            finally:
                self.cluster = None


@flow(name="sweep", flow_run_name="{spec.name}", log_prints=True)
def sweep(spec: SweepSpec, resume: int | None = None) -> int:
    """Run every cell of the sweep (or, with `resume`, the runs it still lacks); return the sweep id.

    Args:
        spec: The sweep: a base experiment, axes (setting path -> values) and repetitions.
        resume: The id of an interrupted sweep of the same spec, to run only what it lacks.
    """
    install_signal_handlers()
    try:
        return _run_sweep(spec, resume)
    except CancelRequested as exc:
        get_run_logger().warning("%s: %s; the cluster was stopped", spec.name, exc)
        return Cancelled(message=str(exc))


def _run_sweep(spec: SweepSpec, resume: int | None) -> int:
    logger = get_run_logger()
    plan = plan_sweep(spec)
    check_plan(plan)  # what the cells' platform cannot do is refused before anything starts
    studies = sweep_study_plans(spec, plan.cells)  # capacity: a study per cell, its objective checked now
    prepare_store()
    sweep_id, done = open_sweep(plan, resume, flow_run.get_id())
    studied = completed_capacity_cells(sweep_id) if studies else set()
    total = len(plan.cells) if studies else len(plan.cells) * plan.repetitions
    finished = len(studied) if studies else len(done)
    progress = start_progress(total, finished)
    live = _Cluster()
    rows: list[dict[str, object]] = []
    failed_cells: list[str] = []
    status = "failed"
    try:
        for cell in plan.cells:
            if studies:  # a capacity study instead of fixed-rate runs; a completed one is not run again
                if cell.index not in studied:
                    _shape(live, cell, spec)
                    stop_if_cancelled(f"cell {cell.index} ({cell.label})")
                    try:
                        sweep_cell_study(spec, cell, studies[cell.index], live.cluster, sweep_id, live.origin)
                    except CapacityFailed as exc:
                        failed_cells.append(f"cell {cell.index} ({cell.label}): {exc}")
                        logger.error("%s", exc)
                    finished += 1
                    advance_progress(progress, total, finished)
                continue
            todo = [r for r in range(1, plan.repetitions + 1) if (cell.index, r) not in done]
            if not todo:
                continue
            _shape(live, cell, spec)
            for repetition in todo:
                stop_if_cancelled(f"cell {cell.index} ({cell.label}) rep {repetition}")
                record = _run_cell(cell, live, sweep_id, repetition, plan.repetitions)
                run_id = store_or_spool(record)  # None: spooled, stored by the next command that reaches the database
                rows += run_summary_rows([record], [run_id])
                if record.status != "ok":
                    failed_cells.append(f"cell {cell.index} ({cell.label}) rep {repetition}: {record.error}")
                    logger.error("run %s failed: %s", run_id, record.error)
                finished += 1
                advance_progress(progress, total, finished)
            publish_cells(spec.name, sweep_id, rows)
        status = "failed" if failed_cells else "completed"
    except CancelRequested:
        status = "cancelled"
        raise
    except Exception:
        raise
    except BaseException:  # Ctrl-C, SIGTERM, a cancellation from the UI (Prefect's TerminationSignal)
        status = "cancelled"
        raise
    finally:
        try:
            live.stop()
        finally:
            close_sweep(sweep_id, status)
    if finished > len(done) and not studies:  # something ran: the report of the whole sweep, stored with its runs
        publish_report(sweep_id, spec.name, str(runs_dir() / f"sweep-{sweep_id}-report"))
        publish_change_points(sweep_id=sweep_id)  # each cell's history, this sweep's runs included
    if failed_cells:
        raise SweepFailed(
            f"sweep {sweep_id}: {len(failed_cells)} runs failed (first: {failed_cells[0]}); "
            f"`kafkalab sweep SPEC --resume {sweep_id}` runs them again"
        )
    logger.info("sweep %d completed: %d runs", sweep_id, total)
    return sweep_id


def _shape(live: _Cluster, cell: Cell, sweep_spec: SweepSpec) -> None:
    """Deploy, redeploy or scale the live cluster for `cell`."""
    spec = cell.spec
    want = spec.cluster.brokers
    if live.cluster is None or live.key != cell.cluster_key:
        live.stop()
        dist = fetch_kafka(spec.kafka_version)
        run_dir = steps.new_run_dir(sweep_spec.name)
        live.cluster = install_framework(spec, dist, run_dir)
        live.key, live.origin = cell.cluster_key, "fresh"
        for broker_id in live.cluster.broker_ids:
            wait_broker_ready(live.cluster, broker_id, spec.cluster.ready_timeout_s)
        endpoints(live.cluster, spec.cluster.client_quotas)
        if spec.smoke_test:
            smoke_test(spec, live.cluster)
        return
    have = len(live.cluster.brokers)
    if want == have or SCALE not in live.cluster.capabilities:
        return  # without scaling, check_plan let no broker count change: the cluster has the brokers it has
    added = scale_brokers(live.cluster, want)
    for broker_id in added:
        wait_broker_ready(live.cluster, broker_id, spec.cluster.ready_timeout_s)
    live.origin = f"scaled from {have}"
    if added and sweep_spec.scaling.reassign_partitions:
        reassign_partitions(live.cluster, sweep_spec.scaling.reassign_timeout_s)
        live.origin += ", reassigned"
    endpoints(live.cluster)


def _run_cell(cell: Cell, live: _Cluster, sweep_id: int, repetition: int, repetitions: int) -> RunRecord:
    """One repetition of a cell, retried per the spec; returns the last attempt's record."""
    spec = cell.spec
    assert live.cluster is not None
    attempts = spec.retries.perf_tests + 1
    for attempt in range(1, attempts + 1):
        label = f"{cell.label} rep {repetition}/{repetitions}" + (f" attempt {attempt}" if attempt > 1 else "")
        topic = f"{spec.topic.name}-s{sweep_id}-c{cell.index}-r{repetition}" + (f"-a{attempt}" if attempt > 1 else "")
        record = run_once(spec, live.cluster, repetition=repetition, attempt=attempt, label=label, topic=topic,
                          context={"sweep_id": sweep_id, "cell_index": cell.index, "cell": dict(cell.values),
                                   "cluster_origin": live.origin})
        if record.status == "ok" or attempt == attempts:
            break
        store_or_spool(record)  # a failed attempt is kept; the next one gets a fresh topic
    return record
