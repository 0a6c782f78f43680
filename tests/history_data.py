"""A known synthetic history of runs, for the cookbook, pandas, check and report tests.

Every number is chosen so that the expected query results can be written down by hand:
an instance's records/s is given, its MB/s follows from the record size as the tool computes
it, and its latencies are fixed per run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kafkalab.model import ProducerOutcome, ProducerOutput, ProducerSummary, ProducerWindow, RunRecord
from kafkalab.results.store import Store

T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
BASELINE = {"acks": "1", "buffer.memory": "67108864", "compression.type": "none", "batch.size": "8196"}
LOWER = {**BASELINE, "compression.type": "lz4", "batch.size": "100000", "linger.ms": "10", "retries": "0"}


def run(
    experiment: str,
    started_at: datetime,
    *,
    rates: list[float],
    brokers: int = 3,
    record_size: int = 250,
    p99: float = 20.0,
    avg_latency: float = 5.0,
    profile: str | None = "baseline",
    props: dict[str, str] | None = None,
    status: str = "ok",
    windows: list[list[float]] | None = None,
    reporting_interval_ms: int = 5000,
    repetition: int = 1,
    sweep_id: int | None = None,
    cell_index: int | None = None,
    partitions: int = 10,
) -> RunRecord:
    """A run of len(rates) producer instances, each sending 1000 records at its rate."""
    producers = []
    for i, rate in enumerate(rates):
        summary = ProducerSummary(
            records=1000, records_per_sec=rate, mb_per_sec=rate * record_size / 2**20,
            avg_latency_ms=avg_latency, max_latency_ms=p99 * 3, p50_ms=p99 / 4, p95_ms=p99 / 2,
            p99_ms=p99 + i, p999_ms=p99 * 2,
        )  # fmt: skip
        series = windows[i] if windows else [rate * 0.9, rate * 1.1]
        output = ProducerOutput(
            windows=[ProducerWindow(seq, 500, r, r * record_size / 2**20, avg_latency, p99) for seq, r in enumerate(series)],
            summary=summary if status == "ok" else None,
        )
        producers.append(
            ProducerOutcome(
                instance=i, client_id=f"{experiment}-producer-{i}", status=status, records_requested=1000,  # type: ignore[arg-type]
                exit_code=0 if status == "ok" else 1, output=output, raw_output="synthetic\n",
                started_at=started_at, finished_at=started_at + timedelta(seconds=30),
                error=None if status == "ok" else "synthetic failure",
            )  # fmt: skip
        )
    return RunRecord(
        experiment=experiment,
        spec={"name": experiment, "producer": {"reporting_interval_ms": reporting_interval_ms}},
        repetition=repetition,
        platform="local",
        kafka_version="4.4.0",
        brokers=brokers,
        topic="perf",
        partitions=partitions,
        replication_factor=min(3, brokers),
        record_size=record_size,
        num_records=1000,
        throughput=-1,
        producer_instances=len(rates),
        producer_props=dict(props if props is not None else BASELINE),
        consumer_props={},
        broker_config={},
        topic_config={},
        started_at=started_at,
        finished_at=started_at + timedelta(minutes=1),
        status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "synthetic failure",
        profile=profile,
        sweep_id=sweep_id,
        cell_index=cell_index,
        producers=producers,
    )


def nightly(experiment: str, totals: list[float | None], *, start: datetime = T0) -> list[RunRecord]:
    """One single-producer run per night; None is a failed night."""
    return [
        run(experiment, start + timedelta(days=day), rates=[total if total is not None else 1.0],
            status="ok" if total is not None else "failed")
        for day, total in enumerate(totals)
    ]  # fmt: skip


def scale_history() -> list[RunRecord]:
    """Experiment "scale": brokers 3 and 6 x 1 and 3 producers x 2 repetitions, 250 B.
    Each instance runs at 1000 x brokers records/s (+10 in repetition 1, -10 in repetition 2),
    so a cell's mean total is 1000 x brokers x producers."""
    records = []
    minute = 0
    for brokers in (3, 6):
        for producers in (1, 3):
            for repetition, delta in ((1, 10.0), (2, -10.0)):
                records.append(
                    run("scale", T0 + timedelta(minutes=minute), rates=[1000.0 * brokers + delta] * producers,
                        brokers=brokers, p99=10.0 * brokers + producers, repetition=repetition)
                )  # fmt: skip
                minute += 1
    return records


def sizes_history() -> list[RunRecord]:
    """Experiment "sizes": 3 brokers, 1 producer, 250 / 500 / 1000 B at 4000 / 3000 / 2000 records/s."""
    return [
        run("sizes", T0 + timedelta(hours=1, minutes=i), rates=[rate], record_size=size, p99=float(size) / 10)
        for i, (size, rate) in enumerate(((250, 4000.0), (500, 3000.0), (1000, 2000.0)))
    ]


def profiles_history() -> list[RunRecord]:
    """Experiment "profiles": 10 producers, baseline (p99 40, 10 x 500 records/s) against
    throughput-lower (p99 25, 10 x 700 records/s), two runs each."""
    records = []
    for i in range(2):
        records.append(run("profiles", T0 + timedelta(hours=2, minutes=i), rates=[500.0] * 10, p99=40.0))
        records.append(
            run("profiles", T0 + timedelta(hours=2, minutes=10 + i), rates=[700.0] * 10, p99=25.0,
                profile="throughput-lower", props=LOWER)
        )  # fmt: skip
    return records


def store_all(store: Store, records: list[RunRecord]) -> list[int]:
    return [store.save_run(r) for r in records]
