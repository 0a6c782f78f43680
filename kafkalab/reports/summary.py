"""What a person reads after a run: the markdown summary artifact, with a link to its flow
run in the Prefect UI (kafkalab.app.links finds which runs a server knows)."""

from __future__ import annotations

from collections.abc import Sequence

from kafkalab.model import RunRecord
from kafkalab.results.stats import run_totals, spread


def flow_run_url(flow_run_id: str | None, base: str | None) -> str | None:
    """The flow run's page in the Prefect UI."""
    if not flow_run_id or not base:
        return None
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _spread_line(label: str, values: list[float], unit: str) -> str:
    s = spread(values)
    if s.n == 1:
        return f"- {label}: **{s.mean:,.2f}** {unit}"
    return (f"- {label}: mean **{s.mean:,.2f}** {unit} over {s.n} runs "
            f"(stddev {s.stddev:,.2f}, min {s.min:,.2f}, max {s.max:,.2f})")


def experiment_markdown(
    experiment: str,
    records: Sequence[RunRecord],
    run_ids: Sequence[int | None],
    *,
    flow_run_url: str | None = None,
) -> str:
    """The experiment flow's final artifact: one row per run (the cells of the case), totals, links."""
    first = records[0] if records else None
    lines = [f"# kafkalab experiment `{experiment}`", ""]
    if first is not None:
        lines += [
            f"{first.brokers} brokers ({first.platform}, Kafka {first.kafka_version}), topic `{first.topic}` "
            f"{first.partitions} partitions RF {first.replication_factor}; {first.producer_instances} producer(s) x "
            f"{first.num_records:,} records of {first.record_size} B"
            + ("" if first.throughput == -1 else f" at {first.throughput:,.0f} records/s each")
            + (f"; profile `{first.profile}`" if first.profile else ""),
            "",
        ]
    header = ["run", "rep", "status", "brokers", "partitions", "record size", "producers ok", "records/s",
              "MB/s", "avg latency ms", "worst p99 ms", "records in topic", "consumer MB/s"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ok_totals = []
    for record, run_id in zip(records, run_ids):
        ok = [p.output.summary for p in record.producers if p.status == "ok" and p.output.summary]
        totals = run_totals(ok) if ok else None
        if totals is not None and record.status == "ok":
            ok_totals.append(totals)
        consumer = record.consumer.summary if record.consumer else None
        status = record.status if not record.error else f"{record.status}: {record.error}"
        cells = [
            str(run_id or ""), str(record.repetition), status.replace("|", "/").replace("\n", " "), str(record.brokers),
            str(record.partitions), str(record.record_size), f"{len(ok)}/{record.producer_instances}",
            _num(totals.records_per_sec if totals else None), _num(totals.mb_per_sec if totals else None),
            _num(totals.avg_latency_ms if totals else None), _num(totals.p99_ms if totals else None),
            "" if record.records_in_topic is None else f"{record.records_in_topic:,}",
            _num(consumer.mb_per_sec if consumer else None),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"## Totals ({len(ok_totals)} of {len(records)} runs ok; sums across producer instances)", ""]
    if ok_totals:
        lines += [
            _spread_line("total throughput", [t.records_per_sec for t in ok_totals], "records/s"),
            _spread_line("total throughput", [t.mb_per_sec for t in ok_totals], "MB/s"),
            _spread_line("avg latency", [t.avg_latency_ms for t in ok_totals], "ms"),
            f"- worst p99 of any instance: **{max(t.p99_ms for t in ok_totals):,.2f}** ms",
            f"- records sent: **{sum(t.records for t in ok_totals):,}**",
        ]
    else:
        lines.append("- no run finished ok: no totals (a failed run never counts as zero)")
    ids = ", ".join(str(i) for i in run_ids if i is not None)
    lines += ["", "## Links", ""]
    if flow_run_url:
        lines.append(f"- this flow run: [{flow_run_url}]({flow_run_url})")
    lines += [
        f"- results: `kafkalab results --experiment {experiment}`",
        f"- SQL: `kafkalab sql \"SELECT * FROM v_run_totals WHERE run_id IN ({ids})\"`" if ids else "",
    ]
    run_dirs = sorted({r.run_dir for r in records if r.run_dir})
    lines += [f"- run directory (configs, broker logs, tool output): `{d}`" for d in run_dirs]
    return "\n".join(line for line in lines if line is not None).rstrip() + "\n"


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
