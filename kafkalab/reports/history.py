"""Stored results as pandas DataFrames, for notebooks, reports and checks.

    from kafkalab.reports import history
    runs = history.runs(experiment="guide-baseline", since="2026-11-01")
    windows = history.windows(run_ids=runs.run_id[:3])

Every function takes the same filters (experiment, sweep_id, since, until, source) and
reads one documented view (or the windows table) with bound parameters. `store` is a
kafkalab Store, or a database URL, or None for the default database (DATABASE_URL, else the
embedded server). Times are timezone-aware pandas Timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from kafkalab.results.store import Store

if TYPE_CHECKING:
    StoreLike = Store | str | None

# The settings that make two runs the same cell: runs of one cell differ only by repetition.
CELL_KEY = (
    "brokers", "partitions", "replication_factor", "record_size", "producer_instances",
    "profile", "acks", "batch_size", "linger_ms", "compression_type",
)  # fmt: skip

_ANY = "measured"


@contextmanager
def _store(store: StoreLike) -> Iterator[Store]:
    if isinstance(store, Store):
        yield store
        return
    with Store(store) as own:
        yield own


def _filters(
    *,
    alias: str,
    experiment: str | None,
    sweep_id: int | None,
    since: datetime | str | None,
    until: datetime | str | None,
    source: str | None,
    run_ids: Iterable[int] | None = None,
    status: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A WHERE clause of fixed fragments and its bound parameters."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if experiment is not None:
        clauses.append(f"{alias}.experiment = :experiment")
        params["experiment"] = experiment
    if sweep_id is not None:
        clauses.append(f"{alias}.sweep_id = :sweep_id")
        params["sweep_id"] = int(sweep_id)
    if since is not None:
        clauses.append(f"{alias}.started_at >= :since")
        params["since"] = _moment(since)
    if until is not None:
        clauses.append(f"{alias}.started_at < :until")
        params["until"] = _moment(until)
    if source is not None:
        clauses.append(f"{alias}.source = :source")
        params["source"] = source
    if status is not None:
        clauses.append(f"{alias}.status = :status")
        params["status"] = status
    if run_ids is not None:
        clauses.append(f"{alias}.run_id = ANY(:run_ids)")
        params["run_ids"] = [int(r) for r in run_ids]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _moment(value: datetime | str) -> datetime:
    moment = pd.Timestamp(value).to_pydatetime()
    return moment if moment.tzinfo else moment.astimezone()


def _frame(store: StoreLike, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    with _store(store) as s:
        columns, rows = s.query(sql, params)
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in frame.columns:
        # numeric columns (e.g. printed reference figures) arrive as Decimal
        if frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = frame[column].astype(float)
        elif isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC")
        elif frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, datetime)).any():
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def runs(
    store: StoreLike = None,
    *,
    experiment: str | None = None,
    sweep_id: int | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    source: str | None = _ANY,
    status: str | None = None,
    run_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """One row per run (v_run_totals): settings and totals across its producer instances,
    oldest first. source='measured' by default; 'reference' for the guide's, None for both."""
    where, params = _filters(alias="t", experiment=experiment, sweep_id=sweep_id, since=since, until=until,
                             source=source, status=status, run_ids=run_ids)  # fmt: skip
    return _frame(store, f"SELECT t.* FROM v_run_totals t{where} ORDER BY t.started_at, t.run_id", params)


def instances(
    store: StoreLike = None,
    *,
    experiment: str | None = None,
    sweep_id: int | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    source: str | None = _ANY,
    run_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """One row per producer instance per run (v_producer_results), oldest run first."""
    where, params = _filters(alias="p", experiment=experiment, sweep_id=sweep_id, since=since, until=until,
                             source=source, run_ids=run_ids)  # fmt: skip
    return _frame(
        store, f"SELECT p.* FROM v_producer_results p{where} ORDER BY p.started_at, p.run_id, p.instance", params
    )


def windows(
    store: StoreLike = None,
    *,
    experiment: str | None = None,
    sweep_id: int | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    source: str | None = _ANY,
    run_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """One row per progress window of each producer instance: run_id, instance, seq,
    seconds (end of the window since the instance started: (seq + 1) x the reporting
    interval), records, records/s, MB/s, avg and max latency of the window."""
    where, params = _filters(alias="p", experiment=experiment, sweep_id=sweep_id, since=since, until=until,
                             source=source, run_ids=run_ids)  # fmt: skip
    sql = f"""
        SELECT p.run_id, p.experiment, p.started_at, p.brokers, p.producer_instances, p.record_size,
               p.instance, p.status, w.seq,
               (w.seq + 1) * coalesce((r.spec -> 'producer' ->> 'reporting_interval_ms')::double precision, 5000)
                   / 1000 AS seconds,
               w.records, w.records_per_sec, w.mb_per_sec, w.avg_latency_ms, w.max_latency_ms
        FROM v_producer_results p
        JOIN runs r ON r.id = p.run_id
        JOIN producer_windows w ON w.producer_result_id = p.producer_result_id
        {where}
        ORDER BY p.started_at, p.run_id, p.instance, w.seq
    """
    return _frame(store, sql, params)


def load_intervals(store: StoreLike = None, *, run_ids: Iterable[int]) -> pd.DataFrame:
    """One row per reporting interval of each load-generator instance of `run_ids`: run_id,
    role, instance, seq, start_at, end_at, sent, acked, failed, received, bytes, and the
    run's window_start and window_end."""
    sql = """
        SELECT i.*, r.window_start, r.window_end
        FROM load_intervals i JOIN runs r ON r.id = i.run_id
        WHERE i.run_id = ANY(:run_ids)
        ORDER BY i.run_id, i.role, i.instance, i.seq
    """
    return _frame(store, sql, {"run_ids": sorted(set(run_ids))})


def interval_histograms(store: StoreLike = None, *, run_ids: Iterable[int]) -> pd.DataFrame:
    """One row per interval histogram of `run_ids`: run_id, role, instance, seq, kind,
    start_at, end_at, encoded, and whether the interval lies in the run's window."""
    sql = """
        SELECT h.run_id, h.role, h.instance, h.seq, h.kind, i.start_at, i.end_at, h.encoded,
               (r.window_start IS NOT NULL
                AND i.start_at + (i.end_at - i.start_at) / 2 BETWEEN r.window_start AND r.window_end) AS in_window
        FROM latency_histograms h
        JOIN load_intervals i USING (run_id, role, instance, seq)
        JOIN runs r ON r.id = h.run_id
        WHERE h.run_id = ANY(:run_ids)
        ORDER BY h.run_id, h.kind, h.seq, h.instance
    """
    return _frame(store, sql, {"run_ids": sorted(set(run_ids))})


def cells(
    store: StoreLike = None,
    *,
    experiment: str | None = None,
    sweep_id: int | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    source: str | None = _ANY,
) -> pd.DataFrame:
    """One row per cell (runs with the same CELL_KEY settings) over its ok runs: runs, mean,
    sample stddev, min and max of the total records/s, mean MB/s and latencies (as
    v_run_totals defines them), first and last run time, the sweep and cell index if any."""
    frame = runs(store, experiment=experiment, sweep_id=sweep_id, since=since, until=until, source=source,
                 status="ok")  # fmt: skip
    return summarize_cells(frame)


def summarize_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """`runs()` rows grouped into cells (see `cells`).

    A run's throughput is its window's (every instance measuring, warm-up left out) where the
    load generator measured one, else the sum of its instances' averages (Kafka's perf tool).
    """
    columns = [
        *CELL_KEY, "runs", "mean_records_per_sec", "stddev_records_per_sec", "min_records_per_sec",
        "max_records_per_sec", "mean_mb_per_sec", "mean_avg_latency_ms", "mean_worst_p50_ms", "mean_worst_p95_ms",
        "mean_worst_p99_ms", "mean_worst_p999_ms", "experiments", "sweep_id", "cell_index", "first_run", "last_run",
        "run_ids", "mean_corrected_p99_ms", "saturated_runs",
    ]  # fmt: skip
    frame = frame[frame["total_records_per_sec"].notna()] if len(frame) else frame
    if frame.empty:
        return pd.DataFrame(columns=columns)
    window = frame["window_records_per_sec"] if "window_records_per_sec" in frame else None
    keyed = frame.assign(
        profile=frame["profile"].fillna("(none)"),
        throughput=frame["total_records_per_sec"] if window is None else window.fillna(frame["total_records_per_sec"]),
        mb_throughput=frame["total_mb_per_sec"] if window is None
        else frame["window_mb_per_sec"].fillna(frame["total_mb_per_sec"]),
        corrected_p99=frame.get("corrected_p99_ms", pd.Series(float("nan"), index=frame.index)),
        saturated_run=frame.get("saturated", pd.Series(False, index=frame.index)).fillna(False).astype(bool),
    )
    grouped = keyed.groupby(list(CELL_KEY), dropna=False, sort=True)
    out = grouped.agg(
        runs=("run_id", "count"),
        mean_records_per_sec=("throughput", "mean"),
        stddev_records_per_sec=("throughput", "std"),
        min_records_per_sec=("throughput", "min"),
        max_records_per_sec=("throughput", "max"),
        mean_mb_per_sec=("mb_throughput", "mean"),
        mean_avg_latency_ms=("avg_latency_ms", "mean"),
        mean_worst_p50_ms=("worst_p50_ms", "mean"),
        mean_worst_p95_ms=("worst_p95_ms", "mean"),
        mean_worst_p99_ms=("worst_p99_ms", "mean"),
        mean_worst_p999_ms=("worst_p999_ms", "mean"),
        experiments=("experiment", lambda s: ", ".join(sorted(set(s)))),
        sweep_id=("sweep_id", "max"),
        cell_index=("cell_index", "max"),
        first_run=("started_at", "min"),
        last_run=("started_at", "max"),
        run_ids=("run_id", list),
        mean_corrected_p99_ms=("corrected_p99", "mean"),
        saturated_runs=("saturated_run", "sum"),
    ).reset_index()
    out["stddev_records_per_sec"] = out["stddev_records_per_sec"].fillna(0.0)
    return out[columns]


def reference_cells(store: StoreLike = None) -> pd.DataFrame:
    """The guide's reference experiments as cells (v_reference_cells); empty until
    `kafkalab reference load`."""
    return _frame(store, "SELECT * FROM v_reference_cells ORDER BY experiment_id", {})


def reference_check(store: StoreLike = None) -> pd.DataFrame:
    """Each figure the guide prints beside the one computed from its lines (v_reference_check)."""
    return _frame(store, "SELECT * FROM v_reference_check ORDER BY reference_order, metric_order", {})


def reference_matches(store: StoreLike = None, *, run_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Measured runs with the reference cell they match (v_reference_match)."""
    params: dict[str, Any] = {}
    where = ""
    if run_ids is not None:
        where = " WHERE m.run_id = ANY(:run_ids)"
        params["run_ids"] = [int(r) for r in run_ids]
    return _frame(store, f"SELECT m.* FROM v_reference_match m{where} ORDER BY m.run_id", params)
