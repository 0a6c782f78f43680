"""Where each run's limit was, in the report: its verdict as the headline over aligned panels.

Per run, one picture of five panels sharing one time axis (seconds into the load): the
records/s all producers had acknowledged, the p99 per interval (corrected and from the send),
the brokers' request-handler (and network-processor) idle share, the host's CPU, and the CPU
of each broker and load-generator process. The series come from the views of schema 0007
(v_broker_metrics, v_host_metrics); a series the run did not sample is said to be missing in
its panel, never drawn as zero. Per sweep, `with_verdicts` gives each cell the verdicts of
its runs for the cells' table.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from kafkalab.kafka import histograms
from kafkalab.metrics import bottleneck
from kafkalab.metrics import names as n
from kafkalab.reports.charts import _png, _thousands
from kafkalab.results.store import Store

_BROKER_METRICS = (n.REQUEST_HANDLER_IDLE, n.NETWORK_PROCESSOR_IDLE)
_HOST_METRICS = (n.CPU_BUSY, n.CPU_IOWAIT, n.PROCESS_CPU)
_PANEL_HEIGHT_IN = 1.9


def run_series(store: Store, run_ids: list[int]) -> pd.DataFrame:
    """run_id, source, metric, at, value of the panels' series for `run_ids` (empty before schema 0007)."""
    empty = pd.DataFrame(columns=["run_id", "source", "metric", "at", "value"])
    if not run_ids:
        return empty
    _, present = store.query("SELECT to_regclass('v_broker_metrics') IS NOT NULL AND "
                             "to_regclass('v_host_metrics') IS NOT NULL", {})
    if not present or not present[0][0]:
        return empty
    columns, rows = store.query(
        "SELECT run_id, source, metric, at, value FROM v_broker_metrics"
        " WHERE run_id = ANY(:ids) AND metric = ANY(:broker)"
        " UNION ALL SELECT run_id, source, metric, at, value FROM v_host_metrics"
        " WHERE run_id = ANY(:ids) AND metric = ANY(:host) AND (source = 'host' OR source LIKE 'process:%')"
        " ORDER BY 1, 2, 3, 4",
        {"ids": run_ids, "broker": list(_BROKER_METRICS), "host": list(_HOST_METRICS)},
    )
    frame = pd.DataFrame(rows, columns=columns) if rows else empty
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def with_verdicts(cells: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """`cells` (kafkalab.reports.history.summarize_cells) with a `bottlenecks` column: the verdicts
    of each cell's runs, most frequent first ("machine-bound x2, none")."""
    if cells.empty or "bottleneck" not in runs.columns:
        return cells.assign(bottlenecks="") if not cells.empty else cells
    verdict_of = dict(zip(runs["run_id"], runs["bottleneck"], strict=True))
    return cells.assign(bottlenecks=[_counted(verdict_of.get(r) for r in ids) for ids in cells["run_ids"]])


def _counted(verdicts: Any) -> str:
    counts = Counter(v for v in verdicts if isinstance(v, str))
    return ", ".join(v if c == 1 else f"{v} x{c}" for v, c in counts.most_common())


def limit_panels(runs: pd.DataFrame, intervals: pd.DataFrame, hists: pd.DataFrame, series: pd.DataFrame,
                 titles: dict[int, str]) -> dict[int, bytes]:
    """run_id -> PNG of the run's aligned panels, for the runs of `titles` (in their order)."""
    by_id = runs.set_index("run_id")
    return {run_id: _run_picture(by_id.loc[run_id], _part(intervals, run_id), _part(hists, run_id),
                                 _part(series, run_id), title)
            for run_id, title in titles.items() if run_id in by_id.index}


def section(runs: pd.DataFrame, panels: dict[int, bytes], titles: dict[int, str]) -> str:
    """The report's "Where the limit was" section: per run its verdict, its summary and its panels."""
    note = ('<p class="note">Per run: the bottleneck verdict (rules: docs/measuring.md, "Where the limit was") '
            "over its throughput, p99, broker idle shares, host CPU and process CPU on one time axis; shaded: "
            "the window the run's figures and verdict are stated over.</p>")
    parts = ["<h2>Where the limit was</h2>", note]
    if not panels:
        parts.append('<p class="note" id="no-limit-panels">No run to show.</p>')
    by_id = runs.set_index("run_id")
    for run_id, png in panels.items():
        row = by_id.loc[run_id]
        verdict = row.get("bottleneck") if isinstance(row.get("bottleneck"), str) else "not judged"
        summary = row.get("bottleneck_summary") if isinstance(row.get("bottleneck_summary"), str) else (
            "stored before kafkalab judged bottlenecks")
        data = base64.b64encode(png).decode("ascii")
        headline = f'<span class="verdict">{html.escape(verdict)}</span>'
        image = f'<img alt="limits of run {run_id}" src="data:image/png;base64,{data}">'
        parts += [
            f'<h3 id="limit-{run_id}">{html.escape(titles[run_id])}: {headline}</h3>',
            f'<p class="verdict-summary">{html.escape(summary)}</p>',
            f'<figure id="limits-run-{run_id}">{image}</figure>',
        ]
    return "\n".join(parts)


def _part(frame: pd.DataFrame, run_id: int) -> pd.DataFrame:
    return frame[frame["run_id"] == run_id] if not frame.empty else frame


def _run_picture(run: pd.Series, intervals: pd.DataFrame, hists: pd.DataFrame, series: pd.DataFrame,
                 title: str) -> bytes:
    fig = Figure(figsize=(11.0, _PANEL_HEIGHT_IN * 5 + 0.6))
    axes = list(fig.subplots(5, 1, sharex=True).ravel())
    start = _load_start(intervals, series)
    _throughput(axes[0], intervals, start)
    _p99(axes[1], hists, start)
    _idle(axes[2], series, start)
    _host_cpu(axes[3], series, start)
    _process_cpu(axes[4], series, start)
    # the window of the run's figures: on its load intervals (kafkalab.reports.history.load_intervals)
    window_start = intervals["window_start"].iloc[0] if not intervals.empty else None
    window_end = intervals["window_end"].iloc[0] if not intervals.empty else None
    for ax in axes:
        if start is not None and pd.notna(window_start) and pd.notna(window_end):
            ax.axvspan(_s(window_start, start), _s(window_end, start), alpha=0.12, color="tab:green")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds into the load")
    verdict = run.get("bottleneck") if isinstance(run.get("bottleneck"), str) else "not judged"
    fig.suptitle(f"{title}: {verdict}", fontsize="large", fontweight="bold")
    return _png(fig, hspace=0.3)


def _load_start(intervals: pd.DataFrame, series: pd.DataFrame) -> pd.Timestamp | None:
    if not intervals.empty:
        return intervals["start_at"].min()
    return series["at"].min() if not series.empty else None


def _s(moment: Any, start: pd.Timestamp) -> float:
    return (pd.Timestamp(moment) - start).total_seconds()


def _missing(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"{what}: missing (not sampled in this run)", transform=ax.transAxes, ha="center",
            va="center", color="#888", fontsize="small")


def _throughput(ax, intervals: pd.DataFrame, start: pd.Timestamp | None) -> None:
    ax.set_ylabel("records/s", fontsize="small")
    producers = intervals[intervals["role"] == "producer"] if not intervals.empty else intervals
    if producers.empty or start is None:
        _missing(ax, "throughput (no load-generator intervals)")
        return
    per_seq = producers.groupby("seq").agg(start_at=("start_at", "min"), end_at=("end_at", "max"),
                                           acked=("acked", "sum"))
    seconds = (per_seq["end_at"] - per_seq["start_at"]).dt.total_seconds().clip(lower=1e-3)
    ax.step((per_seq["start_at"] - start).dt.total_seconds(), per_seq["acked"] / seconds, where="post",
            label="acknowledged, all producers")
    ax.yaxis.set_major_formatter(_thousands)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="x-small", loc="upper right")


def _p99(ax, hists: pd.DataFrame, start: pd.Timestamp | None) -> None:
    ax.set_ylabel("p99 ms", fontsize="small")
    data = hists[hists["kind"].isin(["corrected", "send"])] if not hists.empty else hists
    if data.empty or start is None:
        _missing(ax, "latency p99 (no histograms)")
        return
    for kind, label in (("corrected", "p99 from the intended send"), ("send", "p99 from the send")):
        points = []
        for _, interval in data[data["kind"] == kind].groupby("seq"):
            merged = histograms.merge(interval["encoded"])
            if merged.get_total_count():
                points.append((_s(interval["start_at"].min(), start), merged.get_value_at_percentile(99.0) / 1000))
        if points:
            ax.plot(*zip(*sorted(points), strict=True), marker=".", linewidth=1, label=label)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="x-small", loc="upper right")


def _lines(ax, frame: pd.DataFrame, start: pd.Timestamp, label_of, **style) -> bool:
    drawn = False
    for source, part in frame.groupby("source"):
        values = part.dropna(subset=["value"])
        if not values.empty:
            ax.plot((values["at"] - start).dt.total_seconds(), values["value"], label=label_of(source), **style)
            drawn = True
    return drawn


def _idle(ax, series: pd.DataFrame, start: pd.Timestamp | None) -> None:
    ax.set_ylabel("idle %", fontsize="small")
    if series.empty or start is None:
        _missing(ax, "broker request-handler idle")
        return
    handlers = series[series["metric"] == n.REQUEST_HANDLER_IDLE]
    network = series[series["metric"] == n.NETWORK_PROCESSOR_IDLE]
    drawn = _lines(ax, handlers, start, lambda s: f"{s} request handlers")
    drawn = _lines(ax, network, start, lambda s: f"{s} network processors", linestyle="--") or drawn
    if not drawn:
        _missing(ax, "broker request-handler idle")
        return
    ax.axhline(bottleneck.HANDLER_IDLE_PCT, color="tab:red", linewidth=0.8, linestyle=":",
               label=f"broker-cpu-bound below {bottleneck.HANDLER_IDLE_PCT:g}%")
    ax.set_ylim(0, 105)
    ax.legend(fontsize="x-small", loc="lower right", ncol=2)


def _host_cpu(ax, series: pd.DataFrame, start: pd.Timestamp | None) -> None:
    ax.set_ylabel("host CPU %", fontsize="small")
    host = series[(series["source"] == "host") & series["metric"].isin([n.CPU_BUSY, n.CPU_IOWAIT])] \
        if not series.empty else series
    if host.empty or start is None:
        _missing(ax, "host CPU")
        return
    for metric, label in ((n.CPU_BUSY, "busy (all cores)"), (n.CPU_IOWAIT, "iowait")):
        values = host[(host["metric"] == metric)].dropna(subset=["value"])
        if not values.empty:
            ax.plot((values["at"] - start).dt.total_seconds(), values["value"], label=label)
    ax.axhline(bottleneck.HOST_CPU_BUSY_PCT, color="tab:red", linewidth=0.8, linestyle=":",
               label=f"machine-bound from {bottleneck.HOST_CPU_BUSY_PCT:g}%")
    ax.set_ylim(0, 105)
    ax.legend(fontsize="x-small", loc="lower right")


def _process_cpu(ax, series: pd.DataFrame, start: pd.Timestamp | None) -> None:
    ax.set_ylabel("% of a core", fontsize="small")
    processes = series[series["source"].str.startswith("process:") & (series["metric"] == n.PROCESS_CPU)] \
        if not series.empty else series
    if processes.empty or start is None or not _lines(ax, processes, start, lambda s: s.removeprefix("process:")):
        _missing(ax, "per-process CPU")
        return
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="x-small", loc="upper right", ncol=3)
