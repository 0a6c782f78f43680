"""`kafkalab report`: one self-contained HTML page of stored results, charts inline (PNG).

    report = write_report(store, Path("out"), sweep_id=7)
    report.path              # out/report.html: open it anywhere, it needs no other file
    report.summary_markdown  # a short table for a Prefect artifact
    report.charts["throughput_vs_brokers"]  # PNG bytes of the main chart

The page: a summary, total throughput against brokers (one line per producer count),
against record size, latency percentiles per cell, per-window throughput of each instance
over time (the newest run of each cell, at most `max_window_runs`), and the measured cells
beside the guide's reference where a cell matches (v_reference_match), with the cells'
table. Engine code: no Prefect.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kafkalab.analysis import changepoints
from kafkalab.core.errors import SpecError
from kafkalab.reports import capacity_charts, charts, history, latency_charts, metrics_charts, trend_charts
from kafkalab.results.store import Store

MAIN_CHART = "throughput_vs_brokers"
_CAPTIONS = {
    "throughput_vs_brokers": "Total throughput (records/s summed over the parallel producers) against brokers, "
    "one line per producer count; error bars: sample standard deviation over repetitions.",
    "throughput_vs_record_size": "Total records/s and MB/s against record size, one line per brokers x producers.",
    "latency_percentiles": "Latency percentiles per cell: the worst producer instance's p50 / p95 / p99 / p99.9 "
    "as Kafka's perf tool prints them per instance (its percentiles cannot be merged), mean over the cell's runs. "
    "The merged figures of kafkalab's generator are in the charts below.",
    "latency_distribution": "Latency by percentile, the newest run of each cell: every instance's histograms merged "
    "over the run's window (warm-up left out), one line per kind: from the send, from the intended send time "
    "(what a client on the schedule sees), the generator's delay behind its schedule, and end to end.",
    "corrected_p99_over_time": "p99 per reporting interval, merged over the instances: from the intended send time "
    "(corrected) beside from the send; a gap between them is time the records waited before they could be sent.",
    "window_throughput": "Records/s acknowledged per reporting interval, all producer instances added up; shaded: "
    "the window (every instance measuring, warm-up left out) the run's throughput is stated over.",
    "instance_windows": "Records/s of each producer instance per reporting window (5 s unless the spec set "
    "producer.reporting_interval_ms), the newest run of each cell.",
    "trend_change_points": "The experiment's runs oldest first, window throughput and merged p99, with the change "
    "points kafkalab check finds (E-divisive means, Apache Otava): red a regression, green an improvement; grey: "
    "the mean of each stretch between them.",
    "measured_vs_reference": "Measured cells beside the guide's published results for the same brokers, producers, "
    "record size, acks, batch.size and compression (DC/OS 1.11, AWS m3.xlarge, 3 CPU / 12 GB brokers).",
}


@dataclass
class Report:
    path: Path
    title: str
    runs: int
    cells: int
    charts: dict[str, bytes] = field(default_factory=dict)
    summary_markdown: str = ""
    seconds: float = 0.0
    reference_pairs: int = 0

    @property
    def main_chart(self) -> bytes | None:
        return self.charts.get(MAIN_CHART)

    def chart_markdown(self, name: str = MAIN_CHART) -> str:
        """A chart as a Markdown image with a data: URI (for a Markdown artifact); '' if not drawn."""
        png = self.charts.get(name)
        if png is None:
            return ""
        return f"![{name.replace('_', ' ')}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def write_report(
    store: Store | str | None,
    out_dir: Path,
    *,
    experiment: str | None = None,
    sweep_id: int | None = None,
    max_window_runs: int = 12,
) -> Report:
    """Write `out_dir`/report.html for the experiment, the sweep, or every measured run."""
    started = time.perf_counter()
    with history._store(store) as s:  # one connection pool for every query of the report
        source = None if experiment is not None else "measured"  # an experiment may be the guide's
        runs = history.runs(s, experiment=experiment, sweep_id=sweep_id, source=source)
        if runs.empty:
            what = f"experiment {experiment!r}" if experiment else f"sweep {sweep_id}" if sweep_id else "the database"
            raise SpecError(f"report: no runs stored for {what}")
        ok = runs[(runs["status"] == "ok") & runs["total_records_per_sec"].notna()]
        cells = history.summarize_cells(ok)
        newest = _newest_run_per_cell(ok, max_window_runs)
        windows = history.windows(s, run_ids=list(newest), source=None) if newest else pd.DataFrame()
        hists = history.interval_histograms(s, run_ids=list(newest)) if newest else pd.DataFrame()
        intervals = history.load_intervals(s, run_ids=list(newest)) if newest else pd.DataFrame()
        matches = history.reference_matches(s, run_ids=ok["run_id"].tolist()) if not ok.empty else pd.DataFrame()

        series = metrics_charts.run_series(s, list(newest))  # broker and host series (schema 0007)
        capacity = capacity_charts.report_section(s, runs["run_id"].tolist())  # studies among these runs (0009)
        sweep = s.sweep(sweep_id) if sweep_id is not None else None
        trend = _change_points(s, experiment) if experiment is not None and sweep_id is None else None
    title = f"Experiment {experiment}" if experiment else "All measured runs"
    if sweep_id is not None:
        title = f"Sweep {sweep_id}" + (f" ({sweep['name']})" if sweep else "")
        if experiment:
            title += f", experiment {experiment}"
    pairs = _reference_pairs(cells, matches)
    drawn = {
        "throughput_vs_brokers": charts.throughput_vs_brokers(cells),
        "throughput_vs_record_size": charts.throughput_vs_record_size(cells),
        "latency_percentiles": charts.latency_percentiles(cells),
        "instance_windows": charts.instance_windows(windows, newest),
        "latency_distribution": latency_charts.latency_distribution(hists, newest),
        "corrected_p99_over_time": latency_charts.corrected_p99_over_time(hists, newest),
        "window_throughput": latency_charts.window_throughput(intervals, newest),
        "measured_vs_reference": charts.measured_vs_reference(pairs),
        "trend_change_points": trend_charts.trend_with_change_points(trend) if trend is not None else None,
    }
    images = {name: png for name, png in drawn.items() if png is not None}
    limits = metrics_charts.limit_panels(runs, intervals, hists, series, newest)  # per run, verdict as headline
    cells = metrics_charts.with_verdicts(cells, runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    report = Report(path=path, title=title, runs=len(runs), cells=len(cells), charts=images,
                    reference_pairs=len(pairs))  # fmt: skip
    report.summary_markdown = _markdown(report, runs, cells)
    path.write_text(_page(report, runs, cells, pairs, newest, len(ok),
                          limits=metrics_charts.section(runs, limits, newest), capacity=capacity), encoding="utf-8")
    report.seconds = time.perf_counter() - started
    return report


def _change_points(store: Store, experiment: str) -> changepoints.Analysis | None:
    """The experiment's change points as `kafkalab check` finds them; None without measured runs."""
    try:
        return changepoints.analyse(store, experiment)
    except SpecError:  # e.g. the guide's reference runs only
        return None


def _newest_run_per_cell(ok: pd.DataFrame, limit: int) -> dict[int, str]:
    """run_id -> panel title: the newest ok run of each cell, at most `limit`, in cell order."""
    if ok.empty or limit <= 0:
        return {}
    keyed = ok.assign(profile=ok["profile"].fillna("(none)"))
    newest = keyed.sort_values("started_at").groupby(list(history.CELL_KEY), dropna=False, sort=True).tail(1)
    newest = newest.sort_values(["record_size", "brokers", "producer_instances", "profile"]).head(limit)
    return {int(row["run_id"]): f"run {int(row['run_id'])}: {charts.cell_label(row)}" for _, row in newest.iterrows()}


def _reference_pairs(cells: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    if cells.empty or matches.empty:
        return pd.DataFrame()
    by_run = matches.set_index("run_id")
    rows = []
    for cell in cells.itertuples():
        matched = [r for r in cell.run_ids if r in by_run.index]
        if not matched:
            continue
        ref = by_run.loc[matched[0]]
        rows.append({
            "label": charts.cell_label(pd.Series(cell._asdict())),  # namedtuple -> mapping
            "runs": cell.runs,
            "mean_records_per_sec": cell.mean_records_per_sec,
            "mean_worst_p99_ms": cell.mean_worst_p99_ms,
            "reference_experiment": ref["reference_experiment"],
            "reference_runs": ref["reference_runs"],
            "reference_records_per_sec": ref["reference_records_per_sec"],
            "reference_worst_p99_ms": ref["reference_worst_p99_ms"],
            "ratio": cell.mean_records_per_sec / ref["reference_records_per_sec"],
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- rendering


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _table(frame: pd.DataFrame, columns: list[tuple[str, str]], *, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row[c]))}</td>" for c, _ in columns) + "</tr>"
        for _, row in frame.iterrows()
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_CELL_COLUMNS = [
    ("brokers", "brokers"), ("producer_instances", "producers"), ("record_size", "record size"),
    ("partitions", "partitions"), ("profile", "profile"), ("acks", "acks"), ("batch_size", "batch.size"),
    ("linger_ms", "linger.ms"), ("compression_type", "compression"), ("runs", "runs"),
    ("mean_records_per_sec", "records/s (mean)"), ("stddev_records_per_sec", "stddev"),
    ("mean_mb_per_sec", "MB/s"), ("mean_avg_latency_ms", "avg latency ms"), ("mean_worst_p99_ms", "worst p99 ms"),
    ("mean_corrected_p99_ms", "corrected p99 ms (merged)"), ("saturated_runs", "saturated runs"),
    ("bottlenecks", "bottleneck"),
]  # fmt: skip
_PAIR_COLUMNS = [
    ("label", "cell"), ("runs", "runs"), ("mean_records_per_sec", "measured records/s"),
    ("reference_experiment", "guide"), ("reference_runs", "guide runs"),
    ("reference_records_per_sec", "guide records/s"), ("ratio", "measured / guide"),
    ("mean_worst_p99_ms", "measured worst p99 ms"), ("reference_worst_p99_ms", "guide worst p99 ms"),
]  # fmt: skip

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1280px;
       color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.4em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.note { color: #666; font-style: italic; }
"""


def _page(
    report: Report, runs: pd.DataFrame, cells: pd.DataFrame, pairs: pd.DataFrame, newest: dict[int, str], ok: int,
    *, limits: str = "", capacity: str = "",
) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    first, last = runs["started_at"].min(), runs["started_at"].max()
    experiments = ", ".join(sorted(runs["experiment"].unique()))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>kafkalab report: {html.escape(report.title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="meta">kafkalab report generated {generated}: {len(runs)} runs ({ok} ok) in {len(cells)} cells, '
        f"{_fmt(first)} to {_fmt(last)}; experiments: {html.escape(experiments)}</p>",
    ]
    for name in ("throughput_vs_brokers", "throughput_vs_record_size", "latency_percentiles", "instance_windows",
                 "latency_distribution", "corrected_p99_over_time", "window_throughput", "trend_change_points"):
        parts.append(_figure(report, name))
        if name == "instance_windows" and name in report.charts and len(newest) < len(cells):
            parts.append(f'<p class="note">Showing the newest run of {len(newest)} of {len(cells)} cells.</p>')
    parts.append(limits)  # "Where the limit was" (kafkalab.reports.metrics_charts)
    parts.append(capacity)  # latency-throughput curves (kafkalab.reports.capacity_charts)
    parts.append("<h2>Measured beside the guide</h2>")
    if pairs.empty:
        parts.append(
            '<p class="note" id="no-reference">No measured cell matches a reference cell of the guide (same brokers, '
            "producers, record size, acks, batch.size and compression), or the reference is not loaded "
            "(<code>kafkalab reference load</code>).</p>"
        )
    else:
        parts.append(_figure(report, "measured_vs_reference"))
        parts.append(_table(pairs, _PAIR_COLUMNS, table_id="reference-table"))
    parts.append("<h2>Cells</h2>")
    parts.append(_table(cells, _CELL_COLUMNS, table_id="cells-table"))
    parts.append("</body></html>")
    return "\n".join(parts)


def _figure(report: Report, name: str) -> str:
    png = report.charts.get(name)
    if png is None:
        why = {
            "throughput_vs_record_size": "These runs have a single record size: no record-size curve.",
            "instance_windows": "These runs have no progress windows (runs shorter than the reporting interval).",
            "trend_change_points": "The trend with change points is drawn in one experiment's report "
                                   "(kafkalab report --experiment NAME) of two or more measured runs.",
            **dict.fromkeys(("latency_distribution", "corrected_p99_over_time", "window_throughput"),
                            "These runs kept no latency histograms: their producers ran Kafka's perf tool "
                            "(producer.tool kafka-perf), which prints percentiles per instance only."),
        }.get(name, f"No data for {name.replace('_', ' ')}.")
        return f'<p class="note" id="no-{name}">{html.escape(why)}</p>'
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="{name}"><img alt="{html.escape(name.replace("_", " "))}" '
        f'src="data:image/png;base64,{data}"><figcaption>{html.escape(_CAPTIONS[name])}</figcaption></figure>'
    )


def _markdown(report: Report, runs: pd.DataFrame, cells: pd.DataFrame) -> str:
    lines = [
        f"**{report.title}**: {len(runs)} runs in {len(cells)} cells; report: `{report.path}`",
        "",
        "| brokers | producers | record size | profile | runs | records/s | MB/s | worst p99 ms | bottleneck |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for cell in cells.itertuples():
        lines.append(
            f"| {cell.brokers} | {cell.producer_instances} | {cell.record_size} | {cell.profile} | {cell.runs} | "
            f"{cell.mean_records_per_sec:,.0f} | {cell.mean_mb_per_sec:,.2f} | {_fmt(cell.mean_worst_p99_ms, 1)} | "
            f"{getattr(cell, 'bottlenecks', '')} |"
        )
    return "\n".join(lines)
