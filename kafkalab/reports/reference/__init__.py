"""The user's guide's published results as reference runs, beside the measured ones.

The result lines of the guide "Advanced Load Testing Kafka" (GitHub repository
ably77/DCOS-Kafka-Performance) ship with the package in `guide.yaml`, copied verbatim
(tests/test_reference.py checks the copy against the guide's output blocks). `reference_runs`
parses them with kafkalab.perftools into RunRecords, exactly as a measured run's tool
output is parsed, and `load` stores them through kafkalab.store with `source =
'reference'`, the guide's hardware, and a stable `reference_key`, so loading twice stores
nothing new. Totals and averages are never copied: the views compute them from the lines.
The guide's own printed totals and averages go to `reference_figures`, and the view
`v_reference_check` sets each beside the computed figure, flagging every disagreement
beyond the printed precision; `explain` says what the printed figure matches instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kafkalab.kafka.perftools import parse_consumer_output, parse_producer_output
from kafkalab.model import ConsumerOutcome, ProducerOutcome, RunRecord

if TYPE_CHECKING:
    from kafkalab.results.store import Store

GUIDE_FILE = Path(__file__).with_name("guide.yaml")

# The guide's printed summary lines: "Average: ..." under the 5-run baselines, "Total
# Throughput: ..." under the parallel producers. "av max" is the guide's own typo.
_PRINTED = re.compile(
    r"^(Total Throughput|Average): ([\d.]+) records/sec, ([\d.]+)\s+MB/sec, ([\d.]+) ms avg latency, "
    r"([\d.]+) ms (?:avg |av )?max latency\s*$"
)
# Printed figure -> the v_run_totals column it is computed from (averaged over the runs).
PRINTED_METRICS = ("total_records_per_sec", "total_mb_per_sec", "avg_latency_ms", "avg_max_latency_ms")


@dataclass(frozen=True)
class PrintedFigure:
    """One number of the guide's "Average:" / "Total Throughput:" lines, as printed."""

    statistic: str  # 'average' (over the experiment's runs) | 'total' (over one run's instances)
    metric: str  # the v_run_totals column it corresponds to
    printed: Decimal
    text: str  # as printed, e.g. "61.07"
    line: str

    @property
    def decimals(self) -> int:
        return len(self.text.split(".")[1]) if "." in self.text else 0


@dataclass
class ReferenceExperiment:
    name: str
    title: str
    settings: dict[str, Any]
    runs: list[RunRecord]
    printed: list[PrintedFigure] = field(default_factory=list)


@dataclass(frozen=True)
class ReferenceSet:
    key: str
    title: str
    hardware: dict[str, Any]
    experiments: list[ReferenceExperiment]

    def experiment(self, name: str) -> ReferenceExperiment:
        return next(e for e in self.experiments if e.name == name)


def printed_figures(line: str) -> list[PrintedFigure]:
    """The four figures of a printed "Average:" / "Total Throughput:" line."""
    match = _PRINTED.match(line.strip())
    if not match:
        raise ValueError(f"not a printed total or average: {line!r}")
    statistic = "average" if match.group(1) == "Average" else "total"
    return [
        PrintedFigure(statistic, metric, Decimal(text), text, line.strip())
        for metric, text in zip(PRINTED_METRICS, match.groups()[1:], strict=True)
    ]


def reference_runs(path: Path = GUIDE_FILE) -> ReferenceSet:
    """The reference data file as RunRecords (parsed with kafkalab.perftools), per experiment."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    source, hardware, defaults = data["source"], data["hardware"], data["defaults"]
    base = datetime.fromisoformat(source["date"]).replace(tzinfo=UTC)
    experiments: list[ReferenceExperiment] = []
    position = 0  # each run's place in the guide: its started_at is the guide's date + that many minutes
    for entry in data["experiments"]:
        settings = {**defaults, **{k: v for k, v in entry.items() if k not in ("runs", "consumer", "printed")}}
        runs = []
        outputs: list[list[str]] = entry.get("runs") or ([[]] if "consumer" in entry else [])
        for repetition, instances in enumerate(outputs, start=1):
            started = base + timedelta(minutes=position)
            position += 1
            record = _record(source, hardware, settings, entry, repetition, instances, started)
            runs.append(record)
        printed = printed_figures(entry["printed"]) if entry.get("printed") else []
        experiments.append(ReferenceExperiment(entry["name"], entry.get("title", ""), settings, runs, printed))
    return ReferenceSet(source["key"], source["title"], hardware, experiments)


def _record(
    source: dict[str, Any],
    hardware: dict[str, Any],
    settings: dict[str, Any],
    entry: dict[str, Any],
    repetition: int,
    instances: list[str],
    started: datetime,
) -> RunRecord:
    name = entry["name"]
    num_records = int(settings.get("num_records", 0))
    producers = []
    for instance, text in enumerate(instances):
        output = parse_producer_output(text)
        ok = output.summary is not None and output.summary.records >= num_records
        producers.append(
            ProducerOutcome(
                instance=instance,
                client_id=f"{source['key']}-producer-{instance + 1}",
                status="ok" if ok else "failed",
                records_requested=num_records,
                exit_code=None,
                output=output,
                raw_output=text,
                started_at=started,
                finished_at=started,
                error=None if ok else "the guide's line is not a complete producer summary",
            )
        )
    consumer = None
    if "consumer" in entry:
        summary = parse_consumer_output(entry["consumer"])
        consumer = ConsumerOutcome(
            status="ok" if summary else "failed",
            messages_requested=int(entry.get("messages", 0)),
            exit_code=None,
            summary=summary,
            raw_output=entry["consumer"],
            started_at=started,
            finished_at=started,
            error=None if summary else "the guide's consumer output did not parse",
        )
    spec = {
        "name": name,
        "title": entry.get("title", ""),
        "source": {k: source[k] for k in ("key", "title", "repository")},
        "section": entry.get("section"),
        "block": entry.get("block"),
        "assumed": list(entry.get("assumed") or []),
        "settings": {k: v for k, v in settings.items() if k not in ("name", "title", "section", "block", "assumed")},
    }
    failed = any(p.status != "ok" for p in producers) or (consumer is not None and consumer.status != "ok")
    return RunRecord(
        experiment=name,
        spec=spec,
        repetition=repetition,
        platform=str(settings["platform"]),
        kafka_version=str(settings["kafka_version"]),
        brokers=int(settings["brokers"]),
        topic=str(settings["topic"]),
        partitions=int(settings["partitions"]),
        replication_factor=int(settings["replication_factor"]),
        record_size=int(settings["record_size"]),
        num_records=num_records,
        throughput=float(settings["throughput"]),
        producer_instances=len(producers),
        producer_props={k: str(v) for k, v in (settings.get("producer_props") or {}).items()},
        consumer_props={k: str(v) for k, v in (settings.get("consumer_props") or {}).items()},
        broker_config={},
        topic_config={},
        started_at=started,
        status="failed" if failed else "ok",
        error="a reference line did not parse" if failed else None,
        profile=settings.get("profile"),
        source="reference",
        hardware=dict(hardware),
        reference_key=f"{source['key']}:{name}:{repetition}",
        producers=producers,
        consumers=[consumer] if consumer is not None else [],
    )


# --------------------------------------------------------------------------- storing


@dataclass(frozen=True)
class LoadResult:
    added: int
    present: int
    figures_added: int


def load(store: Store, reference: ReferenceSet | None = None) -> LoadResult:
    """Store the reference runs and printed figures that are not stored yet (idempotent)."""
    reference = reference or reference_runs()
    keys = [run.reference_key for e in reference.experiments for run in e.runs]
    _, rows = store.query("SELECT reference_key FROM runs WHERE reference_key = ANY(:keys)", {"keys": keys})
    present = {row[0] for row in rows}
    added = 0
    for experiment in reference.experiments:
        for run in experiment.runs:
            if run.reference_key not in present:
                store.save_run(run)
                added += 1
    figures_added = 0
    for experiment in reference.experiments:
        for figure in experiment.printed:
            _, inserted = store.query(
                "INSERT INTO reference_figures (experiment_id, statistic, metric, printed, decimals, printed_text, line) "
                "SELECT e.id, :statistic, :metric, :printed, :decimals, :text, :line FROM experiments e "
                "WHERE e.name = :name "
                "ON CONFLICT (experiment_id, metric) DO NOTHING RETURNING id",
                {"name": experiment.name, "statistic": figure.statistic, "metric": figure.metric,
                 "printed": figure.printed, "decimals": figure.decimals, "text": figure.text, "line": figure.line},
                read_only=False,
            )  # fmt: skip
            figures_added += len(inserted)
    return LoadResult(added=added, present=len(present), figures_added=figures_added)


def check_rows(store: Store) -> tuple[list[str], list[tuple]]:
    """v_reference_check: every printed figure beside the computed one."""
    return store.query(
        "SELECT experiment, statistic, metric, printed, computed_rounded, agrees, truncated_agrees, computed "
        "FROM v_reference_check ORDER BY reference_order, metric_order"
    )


# --------------------------------------------------------------------------- explanations


def round_as_printed(value: float, decimals: int) -> Decimal:
    """`value` rounded half up to `decimals` places, as PostgreSQL's round(numeric) does."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


# Printed figure -> the per-instance field it is made of (summed or averaged over instances).
_INSTANCE_FIELD = {
    "total_records_per_sec": "records_per_sec",
    "total_mb_per_sec": "mb_per_sec",
    "avg_latency_ms": "avg_latency_ms",
    "avg_max_latency_ms": "max_latency_ms",
}


def explanations(data: ReferenceSet, columns: list[str], rows: list[tuple]) -> dict[tuple[str, str], str]:
    """(experiment, metric) -> `explain` of each printed figure, from check_rows' `computed`."""
    at = {name: columns.index(name) for name in ("experiment", "metric", "computed")}
    computed = {(row[at["experiment"]], row[at["metric"]]): row[at["computed"]] for row in rows}
    return {(e.name, f.metric): explain(f, e, computed.get((e.name, f.metric)))
            for e in data.experiments for f in e.printed}


def explain(figure: PrintedFigure, experiment: ReferenceExperiment, computed: float | None) -> str:
    """Why a printed figure does not match its lines, when a simple reason fits; else ''.

    `computed` is the figure as v_reference_check computes it (its `computed` column, from
    v_run_totals: the one definition of the totals); None when there is nothing to compare.
    """
    field_of = _INSTANCE_FIELD[figure.metric]
    value = None if computed is None else float(computed)
    if value is None:
        return ""
    step = Decimal(1).scaleb(-figure.decimals)
    if round_as_printed(value, figure.decimals) == figure.printed:
        return ""
    if Decimal(repr(value)).quantize(step, rounding=ROUND_DOWN) == figure.printed:
        shown = f"{value:.{figure.decimals + 3}f}".rstrip("0")
        return f"computed {shown}, which rounds to {round_as_printed(value, figure.decimals)}: the guide truncated it"
    reasons = []
    if figure.statistic == "total" and len(experiment.runs) == 1:
        summaries = [p.output.summary for p in experiment.runs[0].producers if p.output.summary]
        if figure.metric in ("total_records_per_sec", "total_mb_per_sec"):
            for k in range(1, len(summaries)):
                partial = math.fsum(getattr(s, field_of) for s in summaries[:k])
                if round_as_printed(partial, figure.decimals) == figure.printed:
                    reasons.append(f"the printed total is the sum of the first {k} of the {len(summaries)} lines")
                    break
    rounded = f"{round_as_printed(value, figure.decimals)}"
    if _adjacent_swap(rounded, figure.text):
        reasons.append("the printed figure has two adjacent digits of it swapped")
    return f"computed {rounded}: " + ("; ".join(reasons) or "no simple explanation")


def _adjacent_swap(a: str, b: str) -> bool:
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
