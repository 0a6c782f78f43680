"""Charts of stored results, drawn with matplotlib (object API, Agg canvas: no display, no
pyplot state). Each function takes DataFrames from kafkalab.history and returns PNG bytes,
or None when the data holds nothing to draw."""

from __future__ import annotations

import io
import math

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
_PERCENTILES = (
    ("mean_worst_p50_ms", "p50"),
    ("mean_worst_p95_ms", "p95"),
    ("mean_worst_p99_ms", "p99"),
    ("mean_worst_p999_ms", "p99.9"),
)


def _png(fig: Figure, *, left: float = 0.08, hspace: float = 0.45, wspace: float = 0.25) -> bytes:
    """PNG bytes of `fig`. Margins are set by hand: constrained or tight layout would
    measure every label first and double the drawing time."""
    inches = fig.get_size_inches()
    top = 1 - 0.55 / inches[1]  # room for the suptitle
    bottom = 0.6 / inches[1]
    fig.subplots_adjust(left=left, right=0.98, top=top, bottom=bottom, hspace=hspace, wspace=wspace)
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer, metadata={"Software": "kafkalab"})
    return buffer.getvalue()


def _label_margin(labels: pd.Series, width_in: float) -> float:
    """Left margin (share of the width) that fits the longest y tick label."""
    longest = max((len(str(label)) for label in labels), default=0)
    return min(0.5, (0.35 + 0.075 * longest) / width_in)


def _thousands(value: float, _pos: int | None = None) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.4g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.4g}k"
    return f"{value:.4g}"


def _series_label(row: pd.Series, profiles: int, what: str = "producers") -> str:
    n = int(row["producer_instances"])
    label = f"{n} producer{'s' if n != 1 else ''}" if what == "producers" else what
    if profiles > 1:
        label += f", {row['profile']}"
    return label


def cell_label(row: pd.Series) -> str:
    """A short name of a cell: 3b 3p 250B baseline."""
    parts = [f"{int(row['brokers'])}b", f"{int(row['producer_instances'])}p", f"{int(row['record_size'])}B"]
    if row.get("profile") not in (None, "(none)") and not pd.isna(row.get("profile")):
        parts.append(str(row["profile"]))
    return " ".join(parts)


def throughput_vs_brokers(cells: pd.DataFrame) -> bytes | None:
    """Mean total records/s (error bar: sample stddev over repetitions) against brokers, one
    line per producer count (and profile), one panel per record size."""
    if cells.empty:
        return None
    data = cells.groupby(["record_size", "producer_instances", "profile", "brokers"], as_index=False).agg(
        mean=("mean_records_per_sec", "mean"), std=("stddev_records_per_sec", "max")
    )
    sizes = sorted(data["record_size"].unique())
    profiles = data["profile"].nunique()
    columns = min(len(sizes), 2)
    fig = Figure(figsize=(6.4 * columns, 4.4 * math.ceil(len(sizes) / columns)))
    axes = fig.subplots(math.ceil(len(sizes) / columns), columns, squeeze=False).ravel()
    for ax, size in zip(axes, sizes, strict=False):
        part = data[data["record_size"] == size]
        for (producers, profile), line in part.groupby(["producer_instances", "profile"]):
            line = line.sort_values("brokers")
            label = _series_label(pd.Series({"producer_instances": producers, "profile": profile}), profiles)
            ax.errorbar(line["brokers"], line["mean"], yerr=line["std"], marker="o", capsize=3, label=label)
        ax.set_title(f"{size} B records")
        ax.set_xlabel("brokers")
        ax.set_ylabel("total records/s (all producers)")
        ax.set_xticks(sorted(part["brokers"].unique()))
        ax.yaxis.set_major_formatter(_thousands)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(sizes) :]:
        ax.set_visible(False)
    fig.suptitle("Total throughput against brokers")
    return _png(fig)


def throughput_vs_record_size(cells: pd.DataFrame) -> bytes | None:
    """Mean total records/s and MB/s against record size, one line per brokers x producers;
    None with fewer than two record sizes (no curve to draw)."""
    if cells.empty or cells["record_size"].nunique() < 2:
        return None
    data = cells.groupby(["brokers", "producer_instances", "profile", "record_size"], as_index=False).agg(
        rps=("mean_records_per_sec", "mean"), mbps=("mean_mb_per_sec", "mean")
    )
    profiles = data["profile"].nunique()
    fig = Figure(figsize=(12, 4.2))
    left, right = fig.subplots(1, 2)
    for (brokers, producers, profile), line in data.groupby(["brokers", "producer_instances", "profile"]):
        line = line.sort_values("record_size")
        label = f"{brokers} brokers, " + _series_label(
            pd.Series({"producer_instances": producers, "profile": profile}), profiles
        )
        left.plot(line["record_size"], line["rps"], marker="o", label=label)
        right.plot(line["record_size"], line["mbps"], marker="o", label=label)
    for ax, ylabel in ((left, "total records/s"), (right, "total MB/s")):
        ax.set_xlabel("record size (bytes)")
        ax.set_ylabel(ylabel)
        ax.set_xticks(sorted(data["record_size"].unique()))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    left.yaxis.set_major_formatter(_thousands)
    left.legend(fontsize="small")
    fig.suptitle("Throughput against record size")
    return _png(fig)


def latency_percentiles(cells: pd.DataFrame) -> bytes | None:
    """Per cell, the mean over its runs of the worst instance's p50 / p95 / p99 / p99.9."""
    if cells.empty:
        return None
    data = cells.assign(label=cells.apply(cell_label, axis=1)).sort_values(
        ["record_size", "brokers", "producer_instances", "profile"]
    )
    n = len(data)
    fig = Figure(figsize=(9, 1.2 + 0.32 * n * 1.3))
    ax = fig.subplots()
    height = 0.8 / len(_PERCENTILES)
    positions = range(n)
    for i, (column, name) in enumerate(_PERCENTILES):
        ax.barh([p + i * height for p in positions], data[column].fillna(0), height=height, label=name)
    ax.set_yticks([p + height * (len(_PERCENTILES) - 1) / 2 for p in positions], data["label"])
    ax.invert_yaxis()
    ax.set_xlabel("latency (ms), worst producer instance, mean over runs")
    if (data[[c for c, _ in _PERCENTILES]].max().max() or 0) > 50 * max(data["mean_worst_p50_ms"].min() or 1, 1):
        ax.set_xscale("log")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    fig.suptitle("Latency percentiles per cell")
    return _png(fig, left=_label_margin(data["label"], 9))


def instance_windows(windows: pd.DataFrame, titles: dict[int, str]) -> bytes | None:
    """Per run (one panel each, in `titles` order), each instance's records/s per window."""
    if windows.empty:
        return None
    run_ids = [r for r in titles if r in set(windows["run_id"])]
    columns = min(3, len(run_ids))
    rows = math.ceil(len(run_ids) / columns)
    fig = Figure(figsize=(5.2 * columns, 3.2 * rows))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, run_id in zip(axes, run_ids, strict=False):
        part = windows[windows["run_id"] == run_id]
        for instance, line in part.groupby("instance"):
            ax.plot(line["seconds"], line["records_per_sec"], marker=".", linewidth=1, label=f"instance {instance}")
        ax.set_title(titles[run_id], fontsize="medium")
        ax.set_xlabel("seconds")
        ax.set_ylabel("records/s")
        ax.yaxis.set_major_formatter(_thousands)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if part["instance"].nunique() <= 6:
            ax.legend(fontsize="x-small")
    for ax in axes[len(run_ids) :]:
        ax.set_visible(False)
    fig.suptitle("Per-window throughput of each producer instance")
    return _png(fig)


def measured_vs_reference(pairs: pd.DataFrame) -> bytes | None:
    """Measured cells beside the guide's matching reference cells: records/s and p99."""
    if pairs.empty:
        return None
    data = pairs.reset_index(drop=True)
    fig = Figure(figsize=(12, 1.5 + 0.55 * len(data)))
    left, right = fig.subplots(1, 2, sharey=True)
    positions = list(range(len(data)))
    h = 0.38
    left.barh([p - h / 2 for p in positions], data["mean_records_per_sec"], height=h, label="measured")
    left.barh([p + h / 2 for p in positions], data["reference_records_per_sec"], height=h, label="guide (reference)")
    right.barh([p - h / 2 for p in positions], data["mean_worst_p99_ms"].fillna(0), height=h, label="measured")
    right.barh([p + h / 2 for p in positions], data["reference_worst_p99_ms"].fillna(0), height=h,
               label="guide (reference)")  # fmt: skip
    left.set_yticks(positions, data["label"])
    left.invert_yaxis()
    left.set_xlabel("total records/s")
    left.xaxis.set_major_formatter(_thousands)
    right.set_xlabel("worst-instance p99 latency (ms)")
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    left.legend(fontsize="small", loc="lower right")
    fig.suptitle("Measured beside the guide's published results (DC/OS 1.11, AWS m3.xlarge)")
    return _png(fig, left=_label_margin(data["label"], 12), wspace=0.08)
