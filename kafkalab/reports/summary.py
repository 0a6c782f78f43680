"""What a person reads after a run: the markdown summary artifact, with a link to its flow
run in the Prefect UI (kafkalab.app.links finds which runs a server knows).

A run's totals are read from v_run_totals (their one definition), so the artifacts are
built after the runs are stored. A run spooled while the database was down (run id None)
has no totals yet: it says so instead of showing numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkalab.core.errors import KafkalabError
from kafkalab.model import ConsumerSummary, RunRecord
from kafkalab.results.stats import spread
from kafkalab.results.store import Store

log = logging.getLogger(__name__)

SPOOLED = "spooled: totals when stored"
UNREAD = "not read (database unreachable): see v_run_totals"


def flow_run_url(flow_run_id: str | None, base: str | None) -> str | None:
    """The flow run's page in the Prefect UI."""
    if not flow_run_id or not base:
        return None
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"


def stored_totals(run_ids: Sequence[int | None], store: Store | None = None) -> dict[int, dict[str, Any]]:
    """The v_run_totals rows of the stored runs among `run_ids`, by run id.

    `store` None: the default database, where the runs were stored. No database is reached
    when every run was spooled. An artifact is not worth failing a flow over: when the
    database cannot be read, the rows are left out and the runs say UNREAD.
    """
    ids = [run_id for run_id in run_ids if run_id is not None]
    if not ids:
        return {}
    try:
        if store is not None:
            return store.run_totals(ids)
        with Store() as own:
            return own.run_totals(ids)
    except KafkalabError as exc:
        log.warning("run totals not read for the summary: %s", exc)
        return {}


@dataclass(frozen=True)
class _RunLine:
    """What both artifacts show of one run: its instances ok, its totals row, why it has none."""

    producers_ok: int
    totals: Mapping[str, Any]  # its v_run_totals row; empty when `missing`
    missing: str | None  # SPOOLED, UNREAD, or None when the run has its row
    consumer: ConsumerSummary | None


def _run_line(record: RunRecord, run_id: int | None, totals: Mapping[int, Mapping[str, Any]]) -> _RunLine:
    missing = SPOOLED if run_id is None else (None if run_id in totals else UNREAD)
    return _RunLine(
        producers_ok=sum(1 for p in record.producers if p.status == "ok" and p.output.summary),
        totals=totals.get(run_id, {}), missing=missing,
        consumer=record.consumers[0].summary if len(record.consumers) == 1 else None,
    )


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _saturated(totals: Mapping[str, Any]) -> str:
    value = totals.get("saturated")
    return "" if value is None else ("yes" if value else "no")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _verdict_line(record: RunRecord, run_id: int | None) -> str:
    """Where the run's limit was (kafkalab.metrics.bottleneck), with the figure that decided it."""
    verdict = record.verdict
    reason = verdict.summary.removeprefix(f"{verdict.bottleneck}: ")
    return f"- run {run_id or '(spooled)'} limit: **{verdict.bottleneck}**: {reason}".replace("\n", " ")


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
    store: Store | None = None,
    totals: Mapping[int, Mapping[str, Any]] | None = None,
) -> str:
    """The experiment flow's final artifact: one row per run (the cells of the case), totals, links.

    `run_ids` are the stored ids of `records` (None: spooled); their totals are `totals`
    (stored_totals' rows, when the caller read them already), else read from `store`'s
    v_run_totals (None: the default database).
    """
    totals_by_run = stored_totals(run_ids, store) if totals is None else totals
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
    header = ["run", "rep", "status", "brokers", "partitions", "record size", "producers ok", "window records/s",
              "records/s (sum)", "MB/s (sum)", "corrected p99 ms", "worst p99 ms", "saturated", "records in topic",
              "consumer MB/s"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ok_totals = []
    for record, run_id in zip(records, run_ids):
        run = _run_line(record, run_id, totals_by_run)
        if run.totals.get("status") == "ok" and run.totals.get("total_records_per_sec") is not None:
            ok_totals.append(run.totals)
        status = record.status if not record.error else f"{record.status}: {record.error}"
        cells = [
            str(run_id or ""), str(record.repetition), status.replace("|", "/").replace("\n", " "), str(record.brokers),
            str(record.partitions), str(record.record_size), f"{run.producers_ok}/{record.producer_instances}",
            run.missing or _num(run.totals.get("window_records_per_sec")),
            _num(run.totals.get("total_records_per_sec")), _num(run.totals.get("total_mb_per_sec")),
            _num(run.totals.get("corrected_p99_ms")), _num(run.totals.get("worst_p99_ms")),
            _saturated(run.totals),
            "" if record.records_in_topic is None else f"{record.records_in_topic:,}",
            _num(run.consumer.mb_per_sec if run.consumer else None),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"## Figures ({len(ok_totals)} of {len(records)} runs ok)", ""]
    spooled = sum(1 for run_id in run_ids if run_id is None)
    windowed = [t for t in ok_totals if t.get("window_records_per_sec") is not None]
    if windowed:
        lines += [
            _spread_line("window throughput (every producer measuring, warm-up left out: "
                         + (f"{windowed[0]['window_s']:.1f} s after {windowed[0]['warmup_s'] or 0:.1f} s)"
                            if len(windowed) == 1 else "each run over its own window)"),
                         [t["window_records_per_sec"] for t in windowed], "records/s"),
            *[_spread_line(f"{kind} p99, merged over instances", values, "ms") for kind, values in (
                (kind, [t[f"{column}_p99_ms"] for t in windowed if t.get(f"{column}_p99_ms") is not None])
                for kind, column in (("corrected (from the intended send time)", "corrected"),
                                     ("send", "send"), ("end to end", "end_to_end"))) if values],
        ]
    for t in ok_totals:
        if t.get("saturated"):
            lines.append(f"- run {t['run_id']} **saturated**: {t['saturation_reason']}"
                         + ("" if t.get("target_records_per_sec") is not None
                            else " (a max-throughput run: read its latency as queueing, not as Kafka's)"))
    lines += [_verdict_line(record, run_id) for record, run_id in zip(records, run_ids) if record.verdict]
    if ok_totals:
        lines += [
            _spread_line("total throughput (sum of the instances' own averages, as the guide adds them)",
                         [t["total_records_per_sec"] for t in ok_totals], "records/s"),
            _spread_line("total throughput (sum of the instances' own averages)",
                         [t["total_mb_per_sec"] for t in ok_totals], "MB/s"),
            _spread_line("avg latency (mean of the instances' averages)", [t["avg_latency_ms"] for t in ok_totals],
                         "ms"),
            f"- worst p99 of any instance: **{max(t['worst_p99_ms'] for t in ok_totals):,.2f}** ms",
            f"- records sent: **{sum(t['total_records'] for t in ok_totals):,}**",
        ]
    elif not spooled:
        lines.append("- no run finished ok: no totals (a failed run never counts as zero)")
    if spooled:
        lines.append(f"- {spooled} of {len(records)} runs {SPOOLED} (the next command that reaches the database)")
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


def run_summary_rows(
    records: list[RunRecord], run_ids: list[int | None], *, store: Store | None = None,
    totals: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[dict[str, object]]:
    """One row per run: totals across the run's producer instances as the guide adds them
    (`totals`, else v_run_totals of `store`, None: the default database)."""
    totals_by_run = stored_totals(run_ids, store) if totals is None else totals
    rows = []
    for record, run_id in zip(records, run_ids):
        run = _run_line(record, run_id, totals_by_run)
        rows.append({
            "run_id": run_id,
            "repetition": record.repetition,
            "status": record.status,
            "brokers": record.brokers,
            "producers": f"{run.producers_ok}/{record.producer_instances}",
            "window_records_per_sec": run.missing or _rounded(run.totals.get("window_records_per_sec")),
            "total_records_per_sec": run.missing or _rounded(run.totals["total_records_per_sec"]),
            "total_mb_per_sec": _rounded(run.totals.get("total_mb_per_sec")),
            "avg_latency_ms": _rounded(run.totals.get("avg_latency_ms")),
            "p99_ms": run.totals.get("worst_p99_ms"),
            "corrected_p99_ms": _rounded(run.totals.get("corrected_p99_ms")),
            "saturated": run.totals.get("saturated"),
            "records_in_topic": record.records_in_topic,
            "consumer_mb_per_sec": round(run.consumer.mb_per_sec, 2) if run.consumer else None,
            "saturation_reason": run.totals.get("saturation_reason") or "",
            "bottleneck": record.verdict.bottleneck if record.verdict else None,
            "error": record.error or "",
        })
    return rows
