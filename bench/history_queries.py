"""The SQL cookbook on a long history, with and without the indexes, and a 48-cell report.

    .venv/bin/python bench/history_queries.py [--runs 100000] [--windows 10000000] [--keep]

Generates a history in a database of its own (DATABASE_URL's server, else a temporary
embedded server): `--runs` measured runs over 200 experiments (nightly series of 500 runs,
brokers 3/6/9/15, 1/3/5 producers, 250/500/1000 B, three profiles, 1% failed), their
producer instances, and `--windows` progress windows spread over the instances; the guide's
reference runs; and one 48-cell sweep (brokers x producers x record size, 2 repetitions)
saved through Store.save_run. Then times each cookbook query (median of 5 after a warm-up)
with every index, without the indexes migration 0003 added for the cookbook, and without
any secondary index on runs; then `kafkalab report --sweep` of the 48-cell sweep.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _db import bench_database

from kafkalab.model import ProducerOutcome, ProducerOutput, ProducerSummary, ProducerWindow, RunRecord
from kafkalab.reports import queries, reference
from kafkalab.reports.htmlreport import write_report
from kafkalab.results.store import Store

EXPERIMENTS = 200
T0 = datetime(2024, 1, 1, tzinfo=UTC)
COOKBOOK_INDEXES = {  # migration 0003: name -> definition
    "ix_runs_experiment_id_started_at": "CREATE INDEX ix_runs_experiment_id_started_at ON runs (experiment_id, started_at)",
    "ix_runs_started_at": "CREATE INDEX ix_runs_started_at ON runs (started_at)",
    "ix_runs_reference_cell": "CREATE INDEX ix_runs_reference_cell ON runs (brokers, producer_instances, record_size) "
    "WHERE source = 'reference'",
}
OLDER_INDEXES = {  # migrations 0001 / 0002: secondary indexes on runs
    "ix_runs_experiment_id": "CREATE INDEX ix_runs_experiment_id ON runs (experiment_id)",
    "ix_runs_sweep_cell": "CREATE INDEX ix_runs_sweep_cell ON runs (sweep_id, cell_index, repetition)",
}


def execute(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def generate(url: str, runs: int, windows: int) -> dict[str, float]:
    """The synthetic history, in SQL (foreign key triggers off while loading, keys built after)."""
    timings = {}
    started = time.perf_counter()
    execute(
        url,
        "SET synchronous_commit = off",
        f"INSERT INTO experiments (name, spec) SELECT format('exp-%s', lpad(i::text, 3, '0')), '{{}}'::jsonb "
        f"FROM generate_series(1, {EXPERIMENTS}) i",
    )
    execute(
        url,
        "SET session_replication_role = replica",
        f"""
        INSERT INTO runs (experiment_id, repetition, status, error, platform, kafka_version, brokers, topic,
            partitions, replication_factor, record_size, num_records, throughput, producer_instances,
            producer_props, consumer_props, broker_config, topic_config, spec, acks, batch_size, linger_ms,
            compression_type, started_at, finished_at, profile)
        SELECT e.id, 1, CASE WHEN i % 97 = 0 THEN 'failed' ELSE 'ok' END,
               CASE WHEN i % 97 = 0 THEN 'synthetic failure' END, 'local', '4.4.0',
               (ARRAY[3, 6, 9, 15])[1 + (i / {EXPERIMENTS}) % 4], 'perf', 10, 3,
               (ARRAY[250, 500, 1000])[1 + (i / ({EXPERIMENTS} * 4)) % 3], 1000000, -1,
               (ARRAY[1, 3, 5])[1 + (i / ({EXPERIMENTS} * 12)) % 3],
               '{{}}', '{{}}', '{{}}', '{{}}', '{{}}', '1',
               (ARRAY[8196, 100000, 200000])[1 + i % 3], (ARRAY[0, 10, 100])[1 + i % 3],
               (ARRAY['none', 'lz4', 'lz4'])[1 + i % 3],
               timestamptz '{T0.isoformat()}' + i * interval '10 minutes',
               timestamptz '{T0.isoformat()}' + i * interval '10 minutes' + interval '2 minutes',
               (ARRAY['baseline', 'throughput-lower', 'throughput-upper'])[1 + i % 3]
        FROM generate_series(0, {runs - 1}) i
        JOIN experiments e ON e.name = format('exp-%s', lpad((1 + i % {EXPERIMENTS})::text, 3, '0'))
        """,
        """
        INSERT INTO producer_results (run_id, instance, client_id, status, exit_code, records_requested,
            records, records_per_sec, mb_per_sec, avg_latency_ms, max_latency_ms, p50_ms, p95_ms, p99_ms,
            p999_ms, raw_output, started_at, finished_at)
        SELECT r.id, g, format('perf-producer-%s', g), r.status, 0, 1000000, 1000000, x.rate,
               x.rate * r.record_size / 1048576.0, 3 + r.id % 7, 250 + r.id % 50, 3, 9, 20 + r.id % 30 + g,
               60 + r.id % 40, '', r.started_at, r.started_at + interval '30 seconds'
        FROM runs r
        CROSS JOIN LATERAL generate_series(0, r.producer_instances - 1) g
        CROSS JOIN LATERAL (SELECT (150000 + (r.id * 7919 + g * 104729) % 100000)::double precision AS rate) x
        WHERE r.source = 'measured' AND r.sweep_id IS NULL
        """,
    )
    timings["runs and instances"] = time.perf_counter() - started
    started = time.perf_counter()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        instances = conn.execute("SELECT count(*) FROM producer_results").fetchone()[0]
    per = -(-windows // instances)  # ceil
    execute(
        url,
        "SET synchronous_commit = off",
        "SET session_replication_role = replica",
        "SET maintenance_work_mem = '512MB'",
        "ALTER TABLE producer_windows DROP CONSTRAINT pk_producer_windows",
        f"""
        INSERT INTO producer_windows (producer_result_id, seq, records, records_per_sec, mb_per_sec,
            avg_latency_ms, max_latency_ms)
        SELECT p.id, s, 1000000 / {per}, p.records_per_sec * (0.9 + ((p.id + s) % 20) / 100.0), p.mb_per_sec,
               p.avg_latency_ms, p.max_latency_ms
        FROM (SELECT id, records_per_sec, mb_per_sec, avg_latency_ms, max_latency_ms FROM producer_results
              ORDER BY id LIMIT {-(-windows // per)}) p
        CROSS JOIN generate_series(0, {per - 1}) s
        """,
        "ALTER TABLE producer_windows ADD CONSTRAINT pk_producer_windows PRIMARY KEY (producer_result_id, seq)",
    )
    timings["windows"] = time.perf_counter() - started
    return timings


def sweep_of_48_cells(store: Store) -> int:
    """A 48-cell sweep (4 broker counts x 4 producer counts x 3 record sizes), 2 repetitions,
    33 progress windows per instance, saved the way the sweep flow saves runs."""
    sweep_id = store.create_sweep(name="bench-48-cells", spec={}, fingerprint="bench", cells=48, repetitions=2,
                                  flow_run_id=None)  # fmt: skip
    start = T0 + timedelta(days=800)
    cell = 0
    for brokers in (3, 6, 9, 15):
        for producers in (1, 3, 10, 25):
            for size in (250, 500, 1000):
                for repetition in (1, 2):
                    rate = 200_000.0 * (1 + brokers / 10) / (size / 250) ** 0.3
                    outcomes = [
                        ProducerOutcome(
                            instance=i, client_id=f"p-{i}", status="ok", records_requested=1_000_000, exit_code=0,
                            output=ProducerOutput(
                                windows=[ProducerWindow(s, 1000, rate * (0.9 + (s % 5) / 25), 1.0, 3.0, 30.0)
                                         for s in range(33)],
                                summary=ProducerSummary(1_000_000, rate, rate * size / 2**20, 3.0 + producers / 5,
                                                        250.0, 3, 9 + producers, 20 + producers, 60 + brokers),
                            ),
                            raw_output="", started_at=start, finished_at=start,
                        )
                        for i in range(producers)
                    ]  # fmt: skip
                    store.save_run(RunRecord(
                        experiment="bench-48-cells", spec={}, repetition=repetition, platform="local",
                        kafka_version="4.4.0", brokers=brokers, topic="t", partitions=30, replication_factor=3,
                        record_size=size, num_records=1_000_000, throughput=-1, producer_instances=producers,
                        producer_props={"acks": "1"}, consumer_props={}, broker_config={}, topic_config={},
                        started_at=start + timedelta(minutes=cell * 2 + repetition), profile="baseline",
                        sweep_id=sweep_id, cell_index=cell, producers=outcomes,
                    ))  # fmt: skip
                cell += 1
    return sweep_id


def timed(store: Store, name: str, params: dict[str, str], repeat: int = 5) -> tuple[float, int]:
    query = queries.resolve(name)
    bound = query.bind(params)
    _, rows = store.query(query.sql, bound)  # warm-up
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        _, rows = store.query(query.sql, bound)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--windows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the generated database")
    args = parser.parse_args()

    with bench_database("kafkalab_bench_history", keep=args.keep) as url, Store(url) as store:
        store.migrate()
        have = store.query("SELECT count(*) FROM runs WHERE source = 'measured'")[1][0][0]
        if have == 0:
            for step, seconds in generate(url, args.runs, args.windows).items():
                print(f"generated {step}: {seconds:.1f} s")
            reference.load(store)
            started = time.perf_counter()
            sweep_id = sweep_of_48_cells(store)
            print(f"saved the 48-cell sweep (96 runs) through Store.save_run: {time.perf_counter() - started:.1f} s")
            execute(url, "VACUUM ANALYZE")
        sweep_id = store.query("SELECT max(id) FROM sweeps")[1][0][0]
        counts = store.query(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM producer_results), "
            "(SELECT count(*) FROM producer_windows)"
        )[1][0]
        print(f"history: {counts[0]:,} runs, {counts[1]:,} producer instances, {counts[2]:,} window rows")

        experiment = "exp-042"
        # The newest run of the experiment that matches a reference cell, and the newest with windows.
        matching_run = store.query(
            "SELECT max(m.run_id) FROM v_reference_match m JOIN runs r ON r.id = m.run_id "
            "JOIN experiments e ON e.id = r.experiment_id WHERE e.name = :e",
            {"e": experiment},
        )[1][0][0]
        windowed_run = store.query(
            "SELECT max(r.id) FROM runs r JOIN experiments e ON e.id = r.experiment_id "
            "WHERE e.name = :e AND EXISTS (SELECT 1 FROM producer_results p JOIN producer_windows w "
            "ON w.producer_result_id = p.id WHERE p.run_id = r.id)",
            {"e": experiment},
        )[1][0][0]
        middle = store.query(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY r.started_at) FROM runs r "
            "JOIN experiments e ON e.id = r.experiment_id WHERE e.name = :e",
            {"e": experiment},
        )[1][0][0]
        cases = [
            ("scaling_curve", {"experiment": experiment}),
            ("scaling_curve", {"sweep_id": str(sweep_id)}),
            ("scaling_curve", {"since": (T0 + timedelta(days=650)).isoformat()}),
            ("record_size_curve", {"experiment": experiment}),
            ("profile_comparison", {"producers": "5", "experiment": experiment}),
            ("profile_comparison", {"producers": "5", "since": (T0 + timedelta(days=650)).isoformat()}),
            ("run_vs_reference", {"run_id": str(matching_run)}),
            ("run_vs_reference", {"experiment": experiment}),
            ("nightly_trend", {"experiment": experiment}),
            ("before_after", {"experiment": experiment, "at": middle.isoformat()}),
            ("instance_windows", {"run_id": str(windowed_run)}),
            ("window_stability", {"experiment": experiment}),
            ("scaling_curve", {}),
        ]
        results: dict[str, list[tuple[float, int]]] = {}
        configs = ("all indexes", "without 0003's cookbook indexes", "without any secondary index on runs")
        for config in configs:
            if config == configs[1]:
                execute(url, *(f"DROP INDEX {name}" for name in COOKBOOK_INDEXES), "ANALYZE runs")
            if config == configs[2]:
                execute(url, *(f"DROP INDEX {name}" for name in OLDER_INDEXES), "ANALYZE runs")
            for name, params in cases:
                label = f"{name} " + " ".join(f"{k}={v}" for k, v in params.items())
                results.setdefault(label, []).append(timed(store, name, params))
        execute(url, *OLDER_INDEXES.values(), *COOKBOOK_INDEXES.values(), "ANALYZE runs")

        print()
        print("| query (parameters) | rows | " + " | ".join(configs) + " |")
        print("|---|---:|" + "---:|" * len(configs))
        for label, timings in results.items():
            cells = " | ".join(f"{seconds * 1000:,.0f} ms" for seconds, _ in timings)
            print(f"| {label} | {timings[0][1]} | {cells} |")

        with tempfile.TemporaryDirectory() as out:
            write_report(store, Path(out), sweep_id=sweep_id)  # warm-up: imports, fonts
            seconds = []
            for _ in range(3):
                report = write_report(store, Path(out), sweep_id=sweep_id)
                seconds.append(report.seconds)
            print(f"\nreport of the 48-cell sweep ({report.runs} runs, {len(report.charts)} charts, "
                  f"{report.path.stat().st_size / 1024:.0f} KiB): median {statistics.median(seconds):.2f} s "
                  f"of 3 ({', '.join(f'{s:.2f}' for s in seconds)})")  # fmt: skip


if __name__ == "__main__":
    main()
