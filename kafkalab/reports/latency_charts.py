"""Pictures of the load generator's histograms and intervals (runs of tool kafkalab).

- the latency percentile distribution of a run, one line per kind, on HdrHistogram's
  percentile axis (0 to 99.999 on a log scale of 1 / (1 - percentile));
- the corrected p99 of each interval over time, merged over the instances;
- the throughput of each interval over time, all producer instances added up, with the
  window the run's figures are stated over shaded.

Each function takes the DataFrames of kafkalab.reports.history and a {run_id: title} map
(in panel order) and returns PNG bytes, or None when there is nothing to draw.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from kafkalab.kafka import histograms
from kafkalab.reports.charts import _png, _thousands

KIND_LABELS = {
    "send": "from the send",
    "corrected": "from the intended send (corrected)",
    "schedule_delay": "schedule delay (generator behind)",
    "end_to_end": "end to end",
}
_PERCENTILE_TICKS = (0.0, 90.0, 99.0, 99.9, 99.99, 99.999)


def _panels(count: int, *, width: float = 5.4, height: float = 3.4) -> tuple[Figure, list]:
    columns = min(3, count)
    width = width if count > 1 else 9.0  # one panel: room for the title
    rows = math.ceil(count / columns)
    fig = Figure(figsize=(width * columns, height * rows))
    axes = list(fig.subplots(rows, columns, squeeze=False).ravel())
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _seconds(frame: pd.DataFrame, start: pd.Series) -> pd.Series:
    return (frame["start_at"] - start).dt.total_seconds()


def latency_distribution(hists: pd.DataFrame, titles: dict[int, str]) -> bytes | None:
    """Per run, each kind of latency merged over the run's window, by percentile."""
    window = hists[hists["in_window"]] if not hists.empty else hists
    run_ids = [r for r in titles if not window.empty and r in set(window["run_id"])]
    if not run_ids:
        return None
    fig, axes = _panels(len(run_ids))
    for ax, run_id in zip(axes, run_ids):
        part = window[window["run_id"] == run_id]
        for kind in KIND_LABELS:
            encoded = part.loc[part["kind"] == kind, "encoded"]
            curve = histograms.percentile_curve(histograms.merge(encoded)) if not encoded.empty else []
            if curve:
                ax.plot([1 / (1 - p / 100) for p, _ in curve], [v for _, v in curve], label=KIND_LABELS[kind])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([1 / (1 - p / 100) for p in _PERCENTILE_TICKS]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{p:g}%" for p in _PERCENTILE_TICKS], fontsize="x-small")
        ax.set_yscale("log")
        ax.set_title(titles[run_id], fontsize="medium")
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    fig.suptitle("Latency by percentile, merged over every instance in the run's window")
    return _png(fig)


def corrected_p99_over_time(hists: pd.DataFrame, titles: dict[int, str]) -> bytes | None:
    """Per run, the p99 of each interval (merged over the instances) against time: corrected and send."""
    data = hists[hists["kind"].isin(["corrected", "send"])] if not hists.empty else hists
    run_ids = [r for r in titles if not data.empty and r in set(data["run_id"])]
    if not run_ids:
        return None
    fig, axes = _panels(len(run_ids))
    for ax, run_id in zip(axes, run_ids):
        part = data[data["run_id"] == run_id]
        start = part["start_at"].min()
        for kind in ("corrected", "send"):
            of_kind = part[part["kind"] == kind]
            points = []
            for seq, interval in of_kind.groupby("seq"):
                merged = histograms.merge(interval["encoded"])
                if merged.get_total_count():
                    points.append(((interval["start_at"].min() - start).total_seconds(),
                                   merged.get_value_at_percentile(99.0) / 1000))
            if points:
                ax.plot(*zip(*sorted(points)), marker=".", linewidth=1, label=f"p99 {KIND_LABELS[kind]}")
        ax.set_title(titles[run_id], fontsize="medium")
        ax.set_xlabel("seconds into the load")
        ax.set_ylabel("p99 latency (ms)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle("p99 latency per reporting interval, merged over the instances")
    return _png(fig)


def window_throughput(intervals: pd.DataFrame, titles: dict[int, str]) -> bytes | None:
    """Per run, the records/s all producer instances had acknowledged in each interval, with
    the window of the run's figures shaded."""
    producers = intervals[intervals["role"] == "producer"] if not intervals.empty else intervals
    run_ids = [r for r in titles if not producers.empty and r in set(producers["run_id"])]
    if not run_ids:
        return None
    fig, axes = _panels(len(run_ids))
    for ax, run_id in zip(axes, run_ids):
        part = producers[producers["run_id"] == run_id]
        start = part["start_at"].min()
        per_seq = part.groupby("seq").agg(start_at=("start_at", "min"), end_at=("end_at", "max"),
                                          acked=("acked", "sum"))
        seconds = (per_seq["end_at"] - per_seq["start_at"]).dt.total_seconds().clip(lower=1e-3)
        ax.step(_seconds(per_seq, start), per_seq["acked"] / seconds, where="post", label="all producers")
        window_start, window_end = part["window_start"].iloc[0], part["window_end"].iloc[0]
        if pd.notna(window_start) and pd.notna(window_end):
            ax.axvspan((window_start - start).total_seconds(), (window_end - start).total_seconds(), alpha=0.15,
                       color="tab:green", label="window of the run's figures")
        ax.set_title(titles[run_id], fontsize="medium")
        ax.set_xlabel("seconds into the load")
        ax.set_ylabel("records/s acknowledged")
        ax.yaxis.set_major_formatter(_thousands)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle("Throughput per reporting interval, all producer instances, and the common window")
    return _png(fig)
