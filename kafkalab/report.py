"""Run summaries for people: rows for tables, artifacts and the CLI."""

from __future__ import annotations

from kafkalab.model import RunRecord
from kafkalab.stats import run_totals


def run_summary_rows(records: list[RunRecord], run_ids: list[int | None]) -> list[dict[str, object]]:
    """One row per run: totals across the run's producer instances, as the guide adds them."""
    rows = []
    for record, run_id in zip(records, run_ids):
        ok = [p.output.summary for p in record.producers if p.status == "ok" and p.output.summary]
        totals = run_totals(ok) if ok else None
        consumer = record.consumer.summary if record.consumer else None
        rows.append({
            "run_id": run_id,
            "repetition": record.repetition,
            "status": record.status,
            "brokers": record.brokers,
            "producers": f"{len(ok)}/{record.producer_instances}",
            "total_records_per_sec": round(totals.records_per_sec, 2) if totals else None,
            "total_mb_per_sec": round(totals.mb_per_sec, 2) if totals else None,
            "avg_latency_ms": round(totals.avg_latency_ms, 2) if totals else None,
            "p99_ms": totals.p99_ms if totals else None,
            "records_in_topic": record.records_in_topic,
            "consumer_mb_per_sec": round(consumer.mb_per_sec, 2) if consumer else None,
            "error": record.error or "",
        })
    return rows
