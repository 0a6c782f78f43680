"""Writes and reads results: RunRecords in, rows of the documented views out.

Every value reaches PostgreSQL as a bind parameter (or a COPY row), never as SQL text.
The schema is migrated to head on first use of each Store, so any database given by URL
works without a set-up step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy.exc
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

import schema
from kafkalab.core.errors import KafkalabError
from kafkalab.model import ConsumerOutcome, FaultEvent, LoadInterval, ProducerOutcome, ProducerSummary, RunRecord
from kafkalab.results import spool
from kafkalab.results.database import connection_problem, make_engine, resolve_url
from kafkalab.results.run_metrics import insert_run_metrics
from schema.models import ConsumerResult, Experiment, ProducerResult, Run, RunLatency, StepTiming, Sweep
from schema.models import FaultEvent as FaultEventRow

log = logging.getLogger(__name__)

# Kafka 4 producer defaults, stored when a spec leaves the setting out, so that
# "acks = all" groups runs that set it with runs that relied on the default.
PRODUCER_DEFAULTS = {"acks": "all", "batch.size": 16384, "linger.ms": 5, "compression.type": "none"}

_INTERVAL_COLUMNS = ("run_id", "role", "instance", "seq", "start_at", "end_at", "sent", "acked", "failed", "received",
                     "bytes")
_HISTOGRAM_COLUMNS = ("run_id", "role", "instance", "seq", "kind", "total_count", "encoded")
_WINDOW_COLUMNS = (
    "producer_result_id", "seq", "records", "records_per_sec", "mb_per_sec",
    "avg_latency_ms", "max_latency_ms",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class SpoolLoaded:
    path: Path
    run_id: int
    created: bool  # False: the run was stored before (same run_key)


class Store:
    """The results database at `url` (default: resolve_url(), i.e. DATABASE_URL or embedded)."""

    def __init__(self, url: str | None = None):
        self.url = resolve_url(url)
        self._engine = make_engine(self.url)
        self._migrated = False
        self.spool_loaded: list[SpoolLoaded] = []  # the spooled runs the first migrate() stored

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema

    def migrate(self) -> None:
        """Bring the database to the latest schema (a no-op when it is there)."""
        with self._connection() as conn:
            schema.upgrade(conn)
        self._migrated = True
        self._load_spooled()

    def _load_spooled(self) -> None:
        """Runs spooled while the database was down (kafkalab.results.spool): stored now, once."""
        self.spool_loaded = self.load_spooled()
        for loaded in self.spool_loaded:
            print(
                f"kafkalab: spooled run {'stored as run ' if loaded.created else 'was already stored as run '}"
                f"{loaded.run_id} ({loaded.path})",
                file=sys.stderr,
            )

    def load_spooled(self, root: Path | None = None) -> list[SpoolLoaded]:
        """Store every spooled run (at most once each) and delete its file."""
        loaded: list[SpoolLoaded] = []
        for path in spool.pending(root):
            try:
                record = spool.read(path)
            except FileNotFoundError:
                continue  # another command loaded it a moment ago
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("spooled run %s is unreadable, left in place: %s", path, exc)
                continue
            run_id, created = self.save_run_once(record)
            path.unlink(missing_ok=True)
            loaded.append(SpoolLoaded(path, run_id, created))
        return loaded

    def _ready(self) -> None:
        if not self._migrated:
            self.migrate()

    # -- writing

    def save_run(self, record: RunRecord) -> int:
        """Store one run with all its results in one transaction; returns the run id.

        A run whose run_key is stored already is not stored again: its id is returned.
        """
        return self.save_run_once(record)[0]

    def save_run_once(self, record: RunRecord) -> tuple[int, bool]:
        """save_run, and whether this call stored it (False: its run_key was there)."""
        self._ready()
        try:
            with self._connection() as conn, conn.begin():
                experiment_id = _upsert_experiment(conn, record)
                run_id = conn.execute(
                    pg_insert(Run).values(_run_row(record, experiment_id))
                    .on_conflict_do_nothing(index_elements=[Run.run_key]).returning(Run.id)
                ).scalar_one_or_none()
                if run_id is None:
                    existing = conn.execute(select(Run.id).where(Run.run_key == record.run_key)).scalar_one()
                    return existing, False
                _insert_producers(conn, run_id, record.producers)
                if record.consumers:
                    conn.execute(insert(ConsumerResult), [_consumer_row(run_id, c) for c in record.consumers])
                _insert_intervals(conn, run_id, record)
                insert_run_metrics(conn, run_id, record.metrics)  # broker, host and client series (COPY)
                if record.figures is not None and record.figures.latency:
                    conn.execute(insert(RunLatency), [{"run_id": run_id, **dataclasses.asdict(summary)}
                                                      for summary in record.figures.latency])
                if record.fault_events:
                    conn.execute(insert(FaultEventRow), [_fault_row(run_id, event) for event in record.fault_events])
                if record.steps:
                    conn.execute(
                        insert(StepTiming),
                        [
                            {
                                "run_id": run_id,
                                "step": step.step,
                                "started_at": _aware(step.started_at),
                                "finished_at": _aware(step.finished_at),
                                "seconds": step.seconds,
                            }
                            for step in record.steps
                        ],
                    )
                return run_id, True
        except (sqlalchemy.exc.DBAPIError, psycopg.Error) as exc:
            raise KafkalabError(
                f"could not save run {record.repetition} of {record.experiment!r}: {_first_line(exc)}"
            ) from exc

    # -- reading

    def results(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """Rows of v_run_totals (optionally of one experiment), newest run first."""
        self._ready()
        query = "SELECT * FROM v_run_totals"
        params: dict[str, Any] = {}
        if experiment is not None:
            query += " WHERE experiment = :experiment"
            params["experiment"] = experiment
        query += " ORDER BY started_at DESC, run_id DESC"
        with self._connection() as conn:
            return [dict(row) for row in conn.execute(text(query), params).mappings()]

    def run_totals(self, run_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Rows of v_run_totals, by run id, of the stored runs among `run_ids`.

        The view is the one definition of a run's totals (its producer instances added up as
        the guide does); reports and artifacts read them here rather than adding up again.
        """
        ids = sorted(set(run_ids))
        if not ids:
            return {}
        self._ready()
        with self._connection() as conn:
            rows = conn.execute(text("SELECT * FROM v_run_totals WHERE run_id = ANY(:ids)"), {"ids": ids}).mappings()
            return {row["run_id"]: dict(row) for row in rows}

    def latency_histograms(
        self, run_id: int, *, kinds: Sequence[str], from_s: float | None = None, to_s: float | None = None,
        instances: Sequence[int] | None = None,
    ) -> tuple[datetime | None, list[tuple[str, str]]]:
        """The run's load start (its earliest interval) and the (kind, encoded histogram) of every
        interval whose middle lies within [from_s, to_s] seconds of it, of `instances` (default all)."""
        self._ready()
        with self._connection() as conn:
            start = conn.execute(text("SELECT min(start_at) FROM load_intervals WHERE run_id = :run_id"),
                                 {"run_id": run_id}).scalar_one()
            if start is None:
                return None, []
            rows = conn.execute(text(
                "SELECT h.kind, h.encoded FROM latency_histograms h"
                " JOIN load_intervals i USING (run_id, role, instance, seq)"
                " WHERE h.run_id = :run_id AND h.kind = ANY(:kinds)"
                # An interval counts where its middle lies, as for the run's own window.
                " AND (CAST(:from_s AS double precision) IS NULL"
                "      OR i.start_at + (i.end_at - i.start_at) / 2 >= :start + make_interval(secs => :from_s))"
                " AND (CAST(:to_s AS double precision) IS NULL"
                "      OR i.start_at + (i.end_at - i.start_at) / 2 <= :start + make_interval(secs => :to_s))"
                " AND (CAST(:instances AS integer[]) IS NULL OR i.instance = ANY(:instances))"
            ), {"run_id": run_id, "kinds": list(kinds), "from_s": from_s, "to_s": to_s, "start": start,
                "instances": list(instances) if instances is not None else None})
            return start, [(kind, encoded) for kind, encoded in rows]

    # -- sweeps

    def create_sweep(self, *, name: str, spec: dict[str, Any], fingerprint: str, cells: int,
                     repetitions: int, flow_run_id: str | None) -> int:
        """A new sweep row (status running); its id is what `--resume` takes."""
        self._ready()
        with self._connection() as conn, conn.begin():
            return conn.execute(
                insert(Sweep).values(name=name, spec=spec, fingerprint=fingerprint, status="running", cells=cells,
                                     repetitions=repetitions, flow_run_id=flow_run_id).returning(Sweep.id)
            ).scalar_one()

    def sweep(self, sweep_id: int) -> dict[str, Any] | None:
        self._ready()
        with self._connection() as conn:
            row = conn.execute(
                select(Sweep.id, Sweep.name, Sweep.fingerprint, Sweep.status, Sweep.cells, Sweep.repetitions,
                       Sweep.created_at, Sweep.finished_at).where(Sweep.id == sweep_id)
            ).mappings().first()
            return dict(row) if row else None

    def resume_sweep(self, sweep_id: int, flow_run_id: str | None) -> None:
        with self._connection() as conn, conn.begin():
            conn.execute(sqlalchemy.update(Sweep).where(Sweep.id == sweep_id)
                         .values(status="running", finished_at=None, flow_run_id=flow_run_id))

    def finish_sweep(self, sweep_id: int, status: str) -> None:
        with self._connection() as conn, conn.begin():
            conn.execute(sqlalchemy.update(Sweep).where(Sweep.id == sweep_id)
                         .values(status=status, finished_at=sqlalchemy.func.now()))

    def completed_cells(self, sweep_id: int) -> set[tuple[int, int]]:
        """(cell index, repetition) pairs of the sweep that have a successful run stored."""
        self._ready()
        with self._connection() as conn:
            rows = conn.execute(
                select(Run.cell_index, Run.repetition).where(Run.sweep_id == sweep_id, Run.status == "ok").distinct()
            )
            return {(int(c), int(r)) for c, r in rows}

    def experiment_names(self) -> list[str]:
        self._ready()
        with self._connection() as conn:
            return list(conn.execute(select(Experiment.name).order_by(Experiment.name)).scalars())

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, read_only: bool = True
    ) -> tuple[list[str], list[tuple]]:
        """Run `sql` (for `kafkalab sql`): (column names, rows); no columns for a command.

        With `params`, `sql` names them SQLAlchemy style (`:name`); without, it goes to the
        server untouched, so `%` and `::` need no escaping. Read-only unless told otherwise,
        so a query typed by hand cannot change stored results.
        """
        self._ready()
        with self._connection() as conn:
            try:
                if read_only:
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                else:
                    conn.begin()  # so that the commit below covers a raw cursor's writes too
                if params is None:
                    with conn.connection.driver_connection.cursor() as cursor:
                        cursor.execute(sql)  # no parameters: psycopg leaves % alone
                        columns = [column.name for column in cursor.description or []]
                        rows = [tuple(row) for row in cursor.fetchall()] if columns else []
                else:
                    result = conn.execute(text(sql), dict(params))
                    columns = list(result.keys()) if result.returns_rows else []
                    rows = [tuple(row) for row in result] if result.returns_rows else []
                conn.commit()
            except (sqlalchemy.exc.DBAPIError, psycopg.Error) as exc:
                raise KafkalabError(f"query failed: {_first_line(exc)}") from None
        return columns, rows

    # -- plumbing

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            conn = self._engine.connect()
        except sqlalchemy.exc.OperationalError as exc:
            raise connection_problem(self.url, exc.orig or exc) from None
        with conn:
            yield conn


def producer_settings(props: Mapping[str, Any]) -> dict[str, Any]:
    """acks, batch_size, linger_ms, compression_type of producer `props` (Kafka defaults)."""
    merged = {**PRODUCER_DEFAULTS, **props}
    acks = str(merged["acks"]).strip().lower()
    return {
        "acks": "all" if acks == "-1" else acks,  # Kafka treats -1 and all alike
        "batch_size": _int_or_none(merged["batch.size"]),
        "linger_ms": _int_or_none(merged["linger.ms"]),
        "compression_type": str(merged["compression.type"]).strip().lower(),
    }


def _upsert_experiment(conn: Connection, record: RunRecord) -> int:
    statement = pg_insert(Experiment).values(name=record.experiment, spec=record.spec)
    statement = statement.on_conflict_do_update(
        index_elements=[Experiment.name],
        set_={"spec": statement.excluded.spec, "updated_at": sqlalchemy.func.now()},
    )
    return conn.execute(statement.returning(Experiment.id)).scalar_one()


def _run_row(record: RunRecord, experiment_id: int) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "repetition": record.repetition,
        "status": record.status,
        "error": record.error,
        "platform": record.platform,
        "kafka_version": record.kafka_version,
        "brokers": record.brokers,
        "topic": record.topic,
        "partitions": record.partitions,
        "replication_factor": record.replication_factor,
        "record_size": record.record_size,
        "num_records": record.num_records,
        "throughput": record.throughput,
        "producer_instances": record.producer_instances,
        "producer_props": dict(record.producer_props),
        "consumer_props": dict(record.consumer_props),
        "broker_config": dict(record.broker_config),
        "topic_config": dict(record.topic_config),
        "spec": record.spec,
        **producer_settings(record.producer_props),
        "started_at": _aware(record.started_at),
        "finished_at": _aware(record.finished_at),
        "flow_run_id": record.flow_run_id,
        "run_dir": record.run_dir,
        "records_in_topic": record.records_in_topic,
        "integrity_check": record.integrity_check,
        "records_acknowledged": record.records_acknowledged,
        "records_consumed": record.records_consumed,
        "records_lost": record.records_lost,
        "profile": record.profile,
        "attempt": record.attempt,
        "sweep_id": record.sweep_id,
        "cell_index": record.cell_index,
        "cell": record.cell,
        "cluster_origin": record.cluster_origin,
        "source": record.source,
        "hardware": record.hardware,
        "reference_key": record.reference_key,
        "run_key": record.run_key,
        "producer_tool": record.producers[0].tool if record.producers else None,
        "consumer_tool": record.consumers[0].tool if record.consumers else None,
        **_figure_columns(record),
        **_verdict_columns(record),
    }


def _verdict_columns(record: RunRecord) -> dict[str, Any]:
    """The fingerprint (with its id) and the bottleneck verdict with its evidence (schema 0008)."""
    verdict = record.verdict
    return {
        "fingerprint": record.fingerprint,
        "fingerprint_id": (record.fingerprint or {}).get("id"),
        "bottleneck": verdict.bottleneck if verdict else None,
        "bottleneck_summary": verdict.summary if verdict else None,
        "bottleneck_evidence": [{**dataclasses.asdict(e), "at": e.at.isoformat() if e.at else None}
                                for e in verdict.evidence] if verdict else None,
    }


def _figure_columns(record: RunRecord) -> dict[str, Any]:
    figures = record.figures
    if figures is None:
        return {}
    return {
        "warmup_s": figures.warmup_s, "window_start": figures.window_start, "window_end": figures.window_end,
        "window_records": figures.window_records, "window_bytes": figures.window_bytes,
        "target_records_per_sec": figures.target_records_per_sec,
        "achieved_records_per_sec": figures.achieved_records_per_sec, "saturated": figures.saturated,
        "saturation_reason": figures.saturation_reason,
    }


def _summary_columns(summary: ProducerSummary | None, prefix: str = "") -> dict[str, Any]:
    names = (
        "records", "records_per_sec", "mb_per_sec", "avg_latency_ms", "max_latency_ms",
        "p50_ms", "p95_ms", "p99_ms", "p999_ms",
    )  # fmt: skip
    return {prefix + name: getattr(summary, name) if summary else None for name in names}


def _insert_producers(conn: Connection, run_id: int, producers: list[ProducerOutcome]) -> None:
    if not producers:
        return
    rows = [
        {
            "run_id": run_id,
            "instance": p.instance,
            "client_id": p.client_id,
            "status": p.status,
            "exit_code": p.exit_code,
            "records_requested": p.records_requested,
            **_summary_columns(p.output.summary),
            **_summary_columns(p.output.steady_state, "steady_state_"),
            "error": p.error,
            "raw_output": p.raw_output,
            "started_at": _aware(p.started_at),
            "finished_at": _aware(p.finished_at),
            "tool": p.tool,
            "stopped_by": p.stopped_by,
        }
        for p in producers
    ]
    ids = conn.execute(
        insert(ProducerResult).returning(ProducerResult.id, sort_by_parameter_order=True), rows
    ).scalars()
    windows = [
        (result_id, w.seq, w.records, w.records_per_sec, w.mb_per_sec, w.avg_latency_ms, w.max_latency_ms)
        for result_id, p in zip(ids, producers, strict=True)
        for w in p.output.windows
    ]
    if windows:
        # COPY: a long run has thousands of windows per instance; row-by-row inserts crawl.
        # Same connection, hence same transaction, as the inserts above.
        copy_sql = f"COPY producer_windows ({', '.join(_WINDOW_COLUMNS)}) FROM STDIN"
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for window in windows:
                copy.write_row(window)


def _insert_intervals(conn: Connection, run_id: int, record: RunRecord) -> None:
    """The load generator's intervals and their histograms, with COPY (a long run of many
    instances has tens of thousands of them)."""
    instances = [("producer", p.instance, p.intervals) for p in record.producers] + [
        ("consumer", c.instance, c.intervals) for c in record.consumers]
    if not any(intervals for _, _, intervals in instances):
        return
    cursor_of = conn.connection.driver_connection.cursor
    with cursor_of() as cursor, cursor.copy(f"COPY load_intervals ({', '.join(_INTERVAL_COLUMNS)}) FROM STDIN") as copy:
        for role, instance, intervals in instances:
            for i in intervals:
                copy.write_row((run_id, role, instance, i.seq, _epoch(i.start_ms), _epoch(i.end_ms), i.sent, i.acked,
                                i.failed, i.received, i.bytes))
    with cursor_of() as cursor, cursor.copy(f"COPY latency_histograms ({', '.join(_HISTOGRAM_COLUMNS)}) FROM STDIN") as copy:
        for role, instance, intervals in instances:
            for i in intervals:
                for kind, encoded in i.histograms.items():
                    copy.write_row((run_id, role, instance, i.seq, kind, _recorded(kind, i), encoded))


def _recorded(kind: str, interval: LoadInterval) -> int:
    """How many values a histogram of the interval holds: one per record it times."""
    return {"schedule_delay": interval.sent, "end_to_end": interval.received}.get(kind, interval.acked)


def _epoch(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)


def _consumer_row(run_id: int, consumer: ConsumerOutcome) -> dict[str, Any]:
    summary = consumer.summary
    measured = (
        "start_time", "end_time", "messages", "mb", "mb_per_sec", "msgs_per_sec",
        "rebalance_ms", "fetch_ms", "fetch_mb_per_sec", "fetch_msgs_per_sec",
    )  # fmt: skip
    return {
        "run_id": run_id,
        "status": consumer.status,
        "exit_code": consumer.exit_code,
        "messages_requested": consumer.messages_requested,
        **{name: getattr(summary, name) if summary else None for name in measured},
        "error": consumer.error,
        "raw_output": consumer.raw_output,
        "started_at": _aware(consumer.started_at),
        "finished_at": _aware(consumer.finished_at),
        "instance": consumer.instance,
        "tool": consumer.tool,
        "group_id": consumer.group,
    }


def _fault_row(run_id: int, event: FaultEvent) -> dict[str, Any]:
    return {
        "run_id": run_id, "seq": event.seq, "action": event.action, "broker": event.broker,
        "planned_at_s": event.planned_at_s, "planned_restart_after_s": event.planned_restart_after_s,
        "at_s": event.at_s, "down_at": _aware(event.down_at), "restarted_at_s": event.restarted_at_s,
        "ready_at_s": event.ready_at_s, "outcome": event.outcome, "error": event.error,
    }


def _aware(moment: datetime | None) -> datetime | None:
    """Naive datetimes are local time (Python's convention); make that explicit for timestamptz."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.astimezone()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None  # not a number Kafka would accept either; the raw value stays in the props


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__
