"""Pictures of capacity studies: the latency–throughput curve with its objective.

One panel per study: p50, p99 and p99.9 of the study's latency kind against the achieved
throughput of each step (error bars: 95% confidence intervals over the step's
repetitions, both ways), passing steps filled and failing ones hollow, the objective's
bound as a horizontal line, the knee and the maximum sustainable throughput (with its
interval shaded) marked. Read from v_capacity and v_latency_curve; no Prefect here.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from kafkalab.analysis import capacity_store
from kafkalab.reports.charts import _png, _thousands
from kafkalab.results.store import Store

_SERIES = (("p50_ms", "p50", "#4c72b0"), ("p99_ms", "p99", "#dd8452"), ("p999_ms", "p99.9", "#c44e52"))


def curve_chart(study: dict[str, Any], steps: list[dict[str, Any]]) -> bytes | None:
    """PNG of one study's curve, or None without a measured step."""
    points = [s for s in steps if s["phase"] != "probe" and s["achieved_records_per_sec"] is not None]
    if not points:
        return None
    points.sort(key=lambda s: float(s["achieved_records_per_sec"]))
    fig = Figure(figsize=(9.0, 4.6))
    ax = fig.subplots()
    xs = [float(s["achieved_records_per_sec"]) for s in points]
    xerr = _errors(points, "achieved_records_per_sec")
    for column, label, color in _SERIES:
        ys = [_value(s[column]) for s in points]
        ax.plot(xs, ys, color=color, linewidth=1.2, label=label)
        ax.errorbar(xs, ys, xerr=xerr, yerr=_errors(points, column), fmt="none", ecolor=color, elinewidth=0.8,
                    capsize=2)
        for x, y, step in zip(xs, ys, points):
            passed = step["verdict"] == "pass"
            ax.plot([x], [y], marker="o", markersize=5, color=color, markerfacecolor=color if passed else "white")
    bound = float(study["bound_ms"])
    ax.axhline(bound, color="black", linestyle="--", linewidth=1, label=f"objective {study['slo']}")
    best = study.get("max_sustainable_records_per_sec")
    if best is not None:
        low, high = study.get("ci95_low_max_sustainable_records_per_sec"), study.get(
            "ci95_high_max_sustainable_records_per_sec")
        if low is not None and high is not None:
            ax.axvspan(float(low), float(high), color="#55a868", alpha=0.15)
        ax.axvline(float(best), color="#55a868", linewidth=1.5,
                   label=f"max sustainable {_thousands(float(best))} records/s")
    if study.get("knee_records_per_sec") is not None:
        ax.plot([float(study["knee_records_per_sec"])], [float(study["knee_latency_ms"])], marker="D", markersize=9,
                color="#8172b3", linestyle="none", label="knee")
    ax.set_yscale("log")
    ax.set_xlabel("achieved throughput (records/s, all producers)")
    ax.set_ylabel(f"{study['kind']} latency (ms)")
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"Capacity study {study['study_id']} ({study['experiment']}): latency against throughput; "
                 "hollow: the step broke the objective or saturated", fontsize=10)
    return _png(fig)


def _value(value: Any) -> float | None:
    return None if value is None else float(value)


def _errors(points: list[dict[str, Any]], column: str) -> list[list[float]]:
    """Distances from each point to its CI's ends (0 where there is none: one repetition)."""
    below, above = [], []
    for s in points:
        value, low, high = s[column], s[f"ci95_low_{column}"], s[f"ci95_high_{column}"]
        below.append(float(value) - float(low) if value is not None and low is not None else 0.0)
        above.append(float(high) - float(value) if value is not None and high is not None else 0.0)
    return [below, above]


def study_chart(store: Store, study_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]], bytes | None]:
    study, steps = capacity_store.study_summary(store, study_id)
    return study, steps, (curve_chart(study, steps) if study else None)


def curve_chart_markdown(store: Store, study_id: int) -> str:
    """The curve as a Markdown image with a data: URI (for a Prefect artifact); '' when nothing to draw."""
    _, _, png = study_chart(store, study_id)
    return "" if png is None else f"![latency-throughput curve](data:image/png;base64,{_b64(png)})"


def capacity_section(store: Store, study_ids: list[int]) -> str:
    """HTML of the studies' curves and steps, for the report page ('' without studies)."""
    parts = []
    for study_id in study_ids:
        study, steps, png = study_chart(store, study_id)
        if study is None:
            continue
        best = study["max_sustainable_records_per_sec"]
        line = (f"max sustainable throughput at {html.escape(str(study['slo']))} ({study['kind']}): "
                + (f"{best:,.0f} records/s" if best is not None else "none in the range tried")
                + f" &middot; finding: {study['finding'] or study['status']}")
        parts.append(f"<h3>Capacity study {study_id}: {html.escape(str(study['experiment']))}</h3><p>{line}</p>")
        if png is not None:
            parts.append(f'<img alt="latency-throughput curve" src="data:image/png;base64,{_b64(png)}">')
        parts.append(_steps_table(steps))
    if not parts:
        return ""
    return ("<h2>Capacity under a latency objective</h2><p>Each step's p50 / p99 / p99.9 from the histograms merged "
            "over its repetitions, against its achieved throughput; bars: 95% confidence intervals over the "
            "repetitions. Dashed: the objective; green: the maximum sustainable throughput (shaded: its interval); "
            "diamond: the knee.</p>" + "".join(parts))


def _steps_table(steps: list[dict[str, Any]]) -> str:
    columns = ("seq", "phase", "target_records_per_sec", "achieved_records_per_sec", "p50_ms", "p99_ms", "p999_ms",
               "objective_ms", "verdict", "reason")
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(s[c])}</td>" for c in columns) + "</tr>" for s in steps)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return html.escape(str(value))


def write_capacity_report(store: Store, out_dir: Path, study_id: int) -> Path:
    """`kafkalab report --capacity ID`: a self-contained page of one study."""
    section = capacity_section(store, [study_id])
    if not section:
        from kafkalab.core.errors import SpecError

        raise SpecError(f"--capacity {study_id}: no such capacity study")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"capacity-{study_id}.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>kafkalab capacity study {study_id}"
                    "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                    "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style></head><body>"
                    f"{section}</body></html>", encoding="utf-8")
    return path


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def report_section(store: Store, run_ids: list[int]) -> str:
    """The report page's section: every capacity study with a step run among `run_ids`."""
    if not run_ids:
        return ""
    _, rows = store.query("SELECT DISTINCT study_id FROM capacity_step_runs WHERE run_id = ANY(:ids) ORDER BY 1",
                          {"ids": [int(r) for r in run_ids]})
    return capacity_section(store, [int(r[0]) for r in rows])
