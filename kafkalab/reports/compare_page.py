"""The page of `kafkalab compare A B --html DIR`: DIR/compare.html, self-contained.

Its charts: both sides' latency by percentile on one chart (each side's histograms merged
over all its runs' windows, on HdrHistogram's percentile axis), and each run's window
throughput per side with the side's mean and the 95% interval of the difference. Below
them the figures, the verdict, the noise floor and the settings that differ.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from kafkalab.analysis.compare import Comparison
from kafkalab.reports.charts import _png, _thousands
from kafkalab.reports.latency_charts import KIND_LABELS

_PERCENTILE_TICKS = (0.0, 90.0, 99.0, 99.9, 99.99, 99.999)
_COLORS = {"A": "tab:blue", "B": "tab:orange"}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
          "pre{background:#f6f6f6;padding:1em;overflow-x:auto}figure img{max-width:100%;border:1px solid #ddd}"
          "figcaption{color:#555;font-size:.9em}")


def percentile_chart(comparison: Comparison) -> bytes | None:
    """Both sides' merged latency distributions on one percentile axis; None without histograms."""
    if not comparison.curves:
        return None
    fig = Figure(figsize=(9, 4.6))
    ax = fig.subplots()
    for side in (comparison.a, comparison.b):
        curve = comparison.curves.get(side.label, [])
        if curve:
            ax.plot([1 / (1 - p / 100) for p, _ in curve], [v for _, v in curve], color=_COLORS[side.label],
                    label=f"{side.label}: {side.selector.text} ({len(side.run_ids)} runs merged)")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([1 / (1 - p / 100) for p in _PERCENTILE_TICKS]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{p:g}%" for p in _PERCENTILE_TICKS], fontsize="small")
    ax.set_yscale("log")
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    kind = KIND_LABELS.get(comparison.latency_kind or "", comparison.latency_kind or "")
    fig.suptitle(f"Latency by percentile, {kind}: A and B")
    return _png(fig, left=0.1)


def throughput_chart(comparison: Comparison) -> bytes | None:
    """Each run's window throughput, a column per side, with the side's mean."""
    if not comparison.throughputs:
        return None
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    for position, side in enumerate((comparison.a, comparison.b)):
        values = list(comparison.throughputs.get(side.label, {}).values())
        ax.scatter([position] * len(values), values, color=_COLORS[side.label], alpha=0.7, label=f"{side.label} runs")
        if values:
            mean = sum(values) / len(values)
            ax.hlines(mean, position - 0.25, position + 0.25, color=_COLORS[side.label], linewidth=2)
    ax.set_xticks([0, 1], [f"A: {comparison.a.selector.text}", f"B: {comparison.b.selector.text}"], fontsize="small")
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel("window records/s (per run; bar: mean)")
    ax.yaxis.set_major_formatter(_thousands)
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Window throughput of each run")
    return _png(fig, left=0.14)


def write_compare_page(comparison: Comparison, out_dir: Path) -> Path:
    """Write `out_dir`/compare.html; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "compare.html"
    figures = []
    for name, png, caption in (
        ("percentiles", percentile_chart(comparison),
         "Latency by percentile: each side's histograms merged over all its runs' windows (warm-up left out)."),
        ("throughput", throughput_chart(comparison), "Window throughput of each run; the bar is the side's mean."),
    ):
        if png is not None:
            data = base64.b64encode(png).decode("ascii")
            figures.append(f'<figure id="{name}"><img alt="{name}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    title = f"{comparison.a.selector.text} vs {comparison.b.selector.text}"
    page = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>kafkalab compare: {html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>B against A: {html.escape(comparison.verdict)}</h1>",
        *figures,
        f'<pre id="figures">{html.escape(comparison.text())}</pre>',
        "</body></html>",
    ]
    path.write_text("\n".join(page), encoding="utf-8")
    return path
