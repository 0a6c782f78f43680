"""The trend of an experiment's runs with its change points marked (kafkalab.analysis.changepoints).

One panel per series (window throughput, merged p99), runs oldest first; at each change
point a vertical line (red: a regression, green: an improvement) and the means before and
after it as horizontal segments.
"""

from __future__ import annotations

import itertools

from matplotlib.figure import Figure

from kafkalab.analysis.changepoints import METRICS, Analysis
from kafkalab.reports.charts import _png, _thousands


def trend_with_change_points(analysis: Analysis) -> bytes | None:
    """PNG of the experiment's series and change points; None with fewer than two runs."""
    drawn = [s for s in analysis.series.values() if len(s.values) >= 2]
    if not drawn:
        return None
    fig = Figure(figsize=(11, 3.4 * len(drawn)))
    axes = fig.subplots(len(drawn), 1, squeeze=False).ravel()
    for ax, series in zip(axes, drawn, strict=True):
        title, unit, _ = METRICS[series.metric]
        label = f"{series.latency_kind} {title}" if series.latency_kind else title
        ax.plot(series.started_at, series.values, marker=".", linewidth=1, color="tab:blue", label=label)
        bounds = [0, *sorted(c.position for c in analysis.change_points if c.metric == series.metric), len(series.values)]
        for point in (c for c in analysis.change_points if c.metric == series.metric):
            color = "tab:red" if point.regression else "tab:green"
            ax.axvline(point.started_at, color=color, linestyle="--", linewidth=1.2,
                       label=f"run {point.run_id}: {point.detected.change_share:+.1%}")
        for start, end in itertools.pairwise(bounds):  # the mean of each stable stretch
            if end > start:
                segment = series.values[start:end]
                ax.hlines(sum(segment) / len(segment), series.started_at[start], series.started_at[end - 1],
                          color="0.4", linewidth=1)
        ax.set_ylabel(f"{label} ({unit})")
        if series.metric == "window_records_per_sec":
            ax.yaxis.set_major_formatter(_thousands)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=25)  # slanted: a long history's dates would run into each other
        ax.legend(fontsize="x-small", loc="best")
    fig.suptitle(f"{analysis.experiment}: runs over time and change points (E-divisive means, Apache Otava)")
    return _png(fig)
