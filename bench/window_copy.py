"""Producer window rows: PostgreSQL COPY (what kafkalab.store does) against the ORM.

    .venv/bin/python bench/window_copy.py [--rows 1000000] [--orm-rows N]

COPY: Store.save_run of one run whose 10 producer instances carry rows/10 windows each,
the real write path (one transaction, windows written with COPY). ORM row by row: one
SQLAlchemy ORM object added and flushed per window (one INSERT per row, one transaction),
the path an ORM-minded writer takes; ORM batched: the same objects flushed once (SQLAlchemy
2's multi-row "insertmanyvalues"), for context. Prints rows/s of each and the ratio.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from _db import bench_database
from sqlalchemy.orm import Session

from kafkalab.model import ProducerOutcome, ProducerOutput, ProducerSummary, ProducerWindow, RunRecord
from kafkalab.results.store import Store
from schema.models import ProducerWindow as WindowRow

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def record(rows: int, instances: int = 10) -> RunRecord:
    per = rows // instances
    producers = [
        ProducerOutcome(
            instance=i, client_id=f"bench-{i}", status="ok", records_requested=per * 100, exit_code=0,
            output=ProducerOutput(
                windows=[ProducerWindow(seq, 100_000 + seq, 200_000.0 + seq, 47.7, 3.1, 40.0) for seq in range(per)],
                summary=ProducerSummary(per * 100, 200_000.0, 47.7, 3.1, 300.0, 3, 9, 20, 60),
            ),
            raw_output="", started_at=T0, finished_at=T0,
        )  # fmt: skip
        for i in range(instances)
    ]
    return RunRecord(
        experiment="bench-windows", spec={}, repetition=1, platform="local", kafka_version="4.4.0", brokers=3,
        topic="t", partitions=10, replication_factor=3, record_size=250, num_records=per * 100, throughput=-1,
        producer_instances=instances, producer_props={}, consumer_props={}, broker_config={}, topic_config={},
        started_at=T0, producers=producers,
    )  # fmt: skip


def orm_rows(store: Store, producer_result_id: int, rows: int, *, batched: bool) -> float:
    objects = (
        WindowRow(producer_result_id=producer_result_id, seq=100_000_000 + seq, records=1, records_per_sec=1.0,
                  mb_per_sec=1.0, avg_latency_ms=1.0, max_latency_ms=1.0)  # fmt: skip
        for seq in range(rows)
    )
    started = time.perf_counter()
    with Session(store._engine) as session, session.begin():
        if batched:
            session.add_all(list(objects))
        else:
            for obj in objects:
                session.add(obj)
                session.flush()  # one INSERT per row
    return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-rows", type=int, default=None, help="rows for the ORM paths (default: --rows)")
    args = parser.parse_args()
    orm_n = args.orm_rows or args.rows
    with bench_database("kafkalab_bench_windows") as url, Store(url) as store:
        store.migrate()
        run = record(args.rows)
        started = time.perf_counter()
        run_id = store.save_run(run)
        copy_seconds = time.perf_counter() - started
        copy_rate = args.rows / copy_seconds
        stored = store.query("SELECT count(*) FROM producer_windows")[1][0][0]
        assert stored == args.rows, stored
        result_id = store.query("SELECT min(id) FROM producer_results WHERE run_id = :r", {"r": run_id})[1][0][0]
        print(f"COPY (Store.save_run): {args.rows:,} rows in {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s")
        batched = orm_rows(store, result_id, orm_n, batched=True)
        print(f"ORM batched flush:     {orm_n:,} rows = {batched:,.0f} rows/s  (COPY is {copy_rate / batched:.1f}x)")
        store.query("DELETE FROM producer_windows WHERE seq >= :s", {"s": 100_000_000}, read_only=False)
        row_by_row = orm_rows(store, result_id, orm_n, batched=False)
        print(f"ORM row by row:        {orm_n:,} rows = {row_by_row:,.0f} rows/s  (COPY is {copy_rate / row_by_row:.1f}x)")


if __name__ == "__main__":
    main()
