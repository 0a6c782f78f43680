"""The results store on a real PostgreSQL: tables, views, transactions, migrations, URLs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import schema
from kafkalab.core.errors import EnvironmentProblem, KafkalabError
from kafkalab.model import (
    ConsumerOutcome,
    ConsumerSummary,
    ProducerOutcome,
    ProducerOutput,
    ProducerSummary,
    ProducerWindow,
    RunRecord,
    StepTiming,
)
from kafkalab.results import database
from kafkalab.results.store import Store, producer_settings
from schema.models import Base

T0 = datetime(2025, 11, 25, 8, 0, tzinfo=UTC)

# The view columns DESIGN.md promises.
PRODUCER_VIEW_COLUMNS = (
    "run_id experiment started_at platform kafka_version brokers partitions replication_factor "
    "record_size producer_instances instance acks batch_size linger_ms compression_type records "
    "records_per_sec mb_per_sec avg_latency_ms max_latency_ms p50_ms p95_ms p99_ms p999_ms"
).split()
TOTALS_VIEW_COLUMNS = (
    "run_id experiment brokers partitions record_size producer_instances total_records "
    "total_records_per_sec total_mb_per_sec avg_latency_ms weighted_avg_latency_ms "
    "avg_max_latency_ms max_latency_ms worst_p50_ms worst_p95_ms worst_p99_ms worst_p999_ms "
    "status instances_ok records_in_topic"
).split()
CONSUMER_VIEW_COLUMNS = (
    "run_id messages mb mb_per_sec msgs_per_sec rebalance_ms fetch_ms fetch_mb_per_sec fetch_msgs_per_sec"
).split()


def _summary(records: int, rate: float, mb: float, avg: float, mx: float, base: float) -> ProducerSummary:
    return ProducerSummary(records, rate, mb, avg, mx, base, base * 2, base * 3, base * 4)


def _producer(instance: int, status: str, summary: ProducerSummary | None, windows: int) -> ProducerOutcome:
    return ProducerOutcome(
        instance=instance,
        client_id=f"perf-producer-{instance}",
        status=status,  # type: ignore[arg-type]
        records_requested=1000,
        exit_code=0 if status == "ok" else 1,
        output=ProducerOutput(
            windows=[ProducerWindow(seq, 100 * seq, 500.0 + seq, 0.5, 2.0 + seq, 9.0) for seq in range(windows)],
            summary=summary,
        ),
        raw_output=f"raw output of {instance}\n" * 3,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=30),
        error=None if status == "ok" else "broker went away",
    )


def make_record(experiment: str = "baseline", **changes) -> RunRecord:
    """A run of 3 producers (two ok, one failed), windows, a consumer test and steps."""
    record = RunRecord(
        experiment=experiment,
        spec={"name": experiment, "producer": {"batch.size": 65536}, "note": "it's \"quoted\"; DROP TABLE runs"},
        repetition=1,
        platform="local",
        kafka_version="4.1.0",
        brokers=3,
        topic="perf-test",
        partitions=6,
        replication_factor=3,
        record_size=1024,
        num_records=1000,
        throughput=-1,
        producer_instances=3,
        producer_props={"batch.size": "65536", "acks": "1"},
        consumer_props={},
        broker_config={"num.io.threads": "8"},
        topic_config={"min.insync.replicas": "2"},
        started_at=T0,
        finished_at=T0 + timedelta(minutes=2),
        records_in_topic=2000,
        producers=[
            _producer(0, "ok", _summary(1000, 100.0, 1.0, 10.0, 50.0, 5.0), windows=3),
            _producer(1, "ok", _summary(3000, 300.0, 3.0, 20.0, 70.0, 8.0), windows=2),
            _producer(2, "failed", _summary(10, 9999.0, 99.0, 999.0, 9999.0, 999.0), windows=1),
        ],
        consumers=[ConsumerOutcome(
            status="ok",
            messages_requested=2000,
            exit_code=0,
            summary=ConsumerSummary(
                "2025-11-25 08:01:00:000", "2025-11-25 08:01:10:000", 1.9, 0.19, 2000, 200.0, 3000.0, 7000.0, 0.27, 285.7
            ),
            raw_output="start.time, end.time, ...",
            started_at=T0 + timedelta(seconds=60),
            finished_at=T0 + timedelta(seconds=75),
        )],
        steps=[StepTiming("deploy", T0, T0 + timedelta(seconds=20)), StepTiming("produce", T0, T0 + timedelta(seconds=31))],
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


@pytest.fixture
def store(fresh_db_url: str):
    with Store(fresh_db_url) as store:
        yield store


def _one(store: Store, sql: str, params: dict | None = None) -> dict:
    columns, rows = store.query(sql, params)
    assert len(rows) == 1, rows
    return dict(zip(columns, rows[0], strict=True))


def _count(store: Store, table: str) -> int:
    return store.query(f"SELECT count(*) FROM {table}")[1][0][0]


# ---------------------------------------------------------------- writing and the views


def test_save_run_writes_every_table(store: Store) -> None:
    run_id = store.save_run(make_record())

    run = _one(store, "SELECT * FROM runs WHERE id = :id", {"id": run_id})
    assert run["status"] == "ok" and run["brokers"] == 3 and run["num_records"] == 1000
    assert run["producer_props"] == {"batch.size": "65536", "acks": "1"}
    assert run["spec"]["note"] == "it's \"quoted\"; DROP TABLE runs"  # stored as data, not SQL
    assert (run["acks"], run["batch_size"], run["linger_ms"], run["compression_type"]) == ("1", 65536, 5, "none")
    assert run["started_at"] == T0

    experiment = _one(store, "SELECT * FROM experiments")
    assert experiment["name"] == "baseline" and experiment["spec"]["producer"] == {"batch.size": 65536}

    producers = store.query("SELECT instance, status, records, p999_ms, raw_output FROM producer_results ORDER BY instance")[1]
    assert [(i, s, r) for i, s, r, _, _ in producers] == [(0, "ok", 1000), (1, "ok", 3000), (2, "failed", 10)]
    assert producers[0][3] == 20.0 and producers[0][4] == "raw output of 0\n" * 3

    windows = store.query(
        "SELECT p.instance, w.seq, w.records, w.records_per_sec, w.avg_latency_ms FROM producer_windows w "
        "JOIN producer_results p ON p.id = w.producer_result_id ORDER BY 1, 2"
    )[1]
    assert windows == [(0, 0, 0, 500.0, 2.0), (0, 1, 100, 501.0, 3.0), (0, 2, 200, 502.0, 4.0),
                       (1, 0, 0, 500.0, 2.0), (1, 1, 100, 501.0, 3.0), (2, 0, 0, 500.0, 2.0)]  # fmt: skip

    consumer = _one(store, "SELECT * FROM consumer_results")
    assert consumer["messages"] == 2000 and consumer["start_time"] == "2025-11-25 08:01:00:000"

    steps = store.query("SELECT step, seconds FROM step_timings ORDER BY step")[1]
    assert steps == [("deploy", 20.0), ("produce", 31.0)]


def test_views_have_the_documented_columns_and_values(store: Store) -> None:
    run_id = store.save_run(make_record())

    columns, rows = store.query("SELECT * FROM v_producer_results ORDER BY instance")
    assert set(PRODUCER_VIEW_COLUMNS) <= set(columns)
    first = dict(zip(columns, rows[0], strict=True))
    assert {k: first[k] for k in PRODUCER_VIEW_COLUMNS} == {
        "run_id": run_id, "experiment": "baseline", "started_at": T0, "platform": "local",
        "kafka_version": "4.1.0", "brokers": 3, "partitions": 6, "replication_factor": 3,
        "record_size": 1024, "producer_instances": 3, "instance": 0, "acks": "1",
        "batch_size": 65536, "linger_ms": 5, "compression_type": "none", "records": 1000,
        "records_per_sec": 100.0, "mb_per_sec": 1.0, "avg_latency_ms": 10.0,
        "max_latency_ms": 50.0, "p50_ms": 5.0, "p95_ms": 10.0, "p99_ms": 15.0, "p999_ms": 20.0,
    }  # fmt: skip
    assert [row[columns.index("status")] for row in rows] == ["ok", "ok", "failed"]

    totals = _one(store, "SELECT * FROM v_run_totals")
    assert set(TOTALS_VIEW_COLUMNS) <= set(totals)
    # Only the two ok instances count; the failed one's (absurd) numbers must not leak in.
    assert {k: totals[k] for k in TOTALS_VIEW_COLUMNS} == {
        "run_id": run_id, "experiment": "baseline", "brokers": 3, "partitions": 6,
        "record_size": 1024, "producer_instances": 3,
        "total_records": 1000 + 3000, "total_records_per_sec": 100.0 + 300.0,
        "total_mb_per_sec": 1.0 + 3.0,
        "avg_latency_ms": (10.0 + 20.0) / 2,
        "weighted_avg_latency_ms": (10.0 * 1000 + 20.0 * 3000) / 4000,
        "avg_max_latency_ms": (50.0 + 70.0) / 2, "max_latency_ms": 70.0,
        "worst_p50_ms": 8.0, "worst_p95_ms": 16.0, "worst_p99_ms": 24.0, "worst_p999_ms": 32.0,
        "status": "ok", "instances_ok": 2, "records_in_topic": 2000,
    }  # fmt: skip
    summed = _one(
        store,
        "SELECT sum(records) AS r, sum(records_per_sec) AS rps FROM v_producer_results WHERE status = 'ok'",
    )
    assert (totals["total_records"], totals["total_records_per_sec"]) == (summed["r"], summed["rps"])

    consumer = _one(store, "SELECT * FROM v_consumer_results")
    assert {k: consumer[k] for k in CONSUMER_VIEW_COLUMNS} == {
        "run_id": run_id, "messages": 2000, "mb": 1.9, "mb_per_sec": 0.19, "msgs_per_sec": 200.0,
        "rebalance_ms": 3000.0, "fetch_ms": 7000.0, "fetch_mb_per_sec": 0.27, "fetch_msgs_per_sec": 285.7,
    }  # fmt: skip


def test_views_and_latency_columns_are_documented(store: Store) -> None:
    store.migrate()
    for view in schema.VIEWS:
        assert _one(store, "SELECT obj_description(CAST(:v AS regclass), 'pg_class') AS d", {"v": view})["d"]
    latency = [c for c in TOTALS_VIEW_COLUMNS if c.endswith("latency_ms") or c.startswith("worst_")]
    undocumented = store.query(
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = 'v_run_totals'::regclass "
        "AND a.attname = ANY(:names) AND col_description(a.attrelid, a.attnum) IS NULL",
        {"names": latency},
    )[1]
    assert undocumented == []


def test_run_without_an_ok_producer_has_null_totals(store: Store) -> None:
    record = make_record(status="failed", error="cluster did not start", producers=[], consumers=[], steps=[])
    store.save_run(record)
    totals = store.results()[0]
    assert (totals["status"], totals["instances_ok"], totals["total_records"]) == ("failed", 0, None)


def test_results_newest_first_filtered_by_experiment(store: Store) -> None:
    first = store.save_run(make_record("a", producers=[], spec={"v": 1}))
    second = store.save_run(make_record("b", started_at=T0 + timedelta(hours=1), spec={}))
    third = store.save_run(make_record("a", started_at=T0 + timedelta(hours=2), spec={"v": 2}))
    assert [r["run_id"] for r in store.results()] == [third, second, first]
    assert [r["run_id"] for r in store.results("a")] == [third, first]
    assert store.results("missing") == []
    assert store.experiment_names() == ["a", "b"]
    # One experiment row per name, holding the latest spec.
    assert store.query("SELECT name, spec->'v' FROM experiments ORDER BY name")[1] == [("a", 2), ("b", None)]


def test_a_failure_mid_save_leaves_nothing(store: Store) -> None:
    store.save_run(make_record("kept"))
    before = {t: _count(store, t) for t in ("experiments", "runs", "producer_results", "producer_windows")}
    broken = make_record("never-stored")
    broken.consumers[0].status = "exploded"  # violates the status check, after everything else was written
    with pytest.raises(KafkalabError, match="could not save run 1 of 'never-stored'"):
        store.save_run(broken)
    after = {t: _count(store, t) for t in before}
    assert after == before
    assert store.experiment_names() == ["kept"]


def test_query_is_read_only_and_errors_are_one_line(store: Store) -> None:
    store.save_run(make_record())
    with pytest.raises(KafkalabError, match="read-only"):
        store.query("DELETE FROM runs")
    assert _count(store, "runs") == 1
    with pytest.raises(KafkalabError, match="^query failed: syntax error"):
        store.query("SELEC 1")
    assert store.query("SELECT 'x%' AS pct, '1'::int AS cast_") == (["pct", "cast_"], [("x%", 1)])


def test_producer_settings_fill_kafka_defaults() -> None:
    assert producer_settings({}) == {"acks": "all", "batch_size": 16384, "linger_ms": 5, "compression_type": "none"}
    assert producer_settings({"acks": "-1", "linger.ms": 100, "compression.type": "LZ4"}) == {
        "acks": "all", "batch_size": 16384, "linger_ms": 100, "compression_type": "lz4",
    }  # fmt: skip


# ---------------------------------------------------------------- migrations


def test_migrations_run_twice_are_a_no_op(fresh_db_url: str) -> None:
    with Store(fresh_db_url) as store:
        store.migrate()
        run_id = store.save_run(make_record())
        schema_before = store.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2"
        )
    with Store(fresh_db_url) as again:  # a new process connecting: migrates again
        again.migrate()
        again.migrate()
        assert again.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2"
        ) == schema_before
        assert again.query("SELECT version_num FROM alembic_version")[1] == [(schema.head_revision(),)]
        assert [r["run_id"] for r in again.results()] == [run_id]


def test_models_match_the_migrations(fresh_db_url: str) -> None:
    with Store(fresh_db_url) as store:
        store.migrate()
    engine = create_engine(database.sqlalchemy_url(fresh_db_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


# ---------------------------------------------------------------- URLs


def test_resolve_url_precedence(monkeypatch: pytest.MonkeyPatch, embedded_results_server) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://env@db.example:5433/results")
    assert database.resolve_url("postgres://me@here/db") == "postgresql://me@here/db"
    assert database.resolve_url("postgresql+psycopg://me@here/db") == "postgresql://me@here/db"
    assert database.resolve_url(None) == "postgresql://env@db.example:5433/results"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("KAFKALAB_DATA_DIR", str(embedded_results_server.root.parent))
    assert database.resolve_url() == embedded_results_server.status().url("kafkalab")
    assert database.sqlalchemy_url("postgres://a@b/c") == "postgresql+psycopg://a@b/c"
    with pytest.raises(EnvironmentProblem, match="DATABASE_URL is not a PostgreSQL URL"):
        monkeypatch.setenv("DATABASE_URL", "mysql://u:secret@h/db")
        database.resolve_url()


def test_mask_url_hides_passwords() -> None:
    assert database.mask_url("postgresql://u:s3cr%40t@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert database.mask_url("postgres://u@h/db?password=x&sslmode=require") == "postgres://u@h/db?password=***&sslmode=require"
    assert database.mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert database.mask_url("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"


def test_a_database_that_does_not_answer_is_one_quick_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:hunter2@127.0.0.1:{port}/kafkalab")
    started = time.monotonic()
    with pytest.raises(EnvironmentProblem) as caught:
        Store().migrate()
    # Refused at once on loopback; the generous bound only catches hanging or retrying
    # (each connect may wait CONNECT_TIMEOUT_S), not a busy machine's slow imports.
    assert time.monotonic() - started < 6 * database.CONNECT_TIMEOUT_S
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "hunter2" not in message and "\n" not in message


# ---------------------------------------------------------------- the embedded server


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(pgdata) in (process.info["cmdline"] or []):
            found.append(process)
    return found


def test_embedded_server_start_stop_and_port_reuse(tmp_path: Path) -> None:
    server = database.EmbeddedServer(tmp_path / "postgres")
    assert not server.status().running and not server.stop()
    url = server.url()
    port = server.status().port
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("kafkalab",)
    assert server.url() == url  # already running: same server
    assert server.stop()
    assert not server.status().running and _postgres_processes(server.pgdata) == []

    assert server.start().port == port  # the stored port, when free
    assert server.stop()
    with socket.socket() as squatter:  # another program took the stored port meanwhile
        # The stopped server's connections may linger in TIME_WAIT on that port.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        moved = server.start()
        assert moved.running and moved.port != port
    try:
        with psycopg.connect(moved.url("kafkalab")) as conn:  # the database survived restarts
            conn.execute("SELECT 1")
    finally:
        server.stop()
    assert _postgres_processes(server.pgdata) == []


def test_concurrent_starts_share_one_server(tmp_path: Path) -> None:
    code = "from kafkalab.results import database; print(database.resolve_url())"
    env = {"KAFKALAB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    starters = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    try:
        urls = {starter.communicate(timeout=120)[0].strip() for starter in starters}
        assert all(starter.returncode == 0 for starter in starters)
        assert len(urls) == 1
        assert len(_postgres_processes(tmp_path / "postgres" / "pgdata")) == 1  # one postmaster
    finally:
        assert database.EmbeddedServer(tmp_path / "postgres").stop()
    assert _postgres_processes(tmp_path / "postgres" / "pgdata") == []


def test_a_write_without_parameters_is_committed(fresh_db_url):
    with Store(fresh_db_url) as store:
        store.query("CREATE TABLE scratch (n int)", read_only=False)
        store.query("INSERT INTO scratch VALUES (1), (2)", read_only=False)
        assert store.query("SELECT count(*) FROM scratch")[1] == [(2,)]
        with pytest.raises(KafkalabError, match="read-only"):
            store.query("INSERT INTO scratch VALUES (3)")
