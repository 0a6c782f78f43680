"""A run's series kept as a JSON file, so the bottleneck rules can be judged again off-line.

The tests' recorded series (tests/data/metrics/*.json) are such files; `record` writes one
from a measured run. The format is plain JSON:

    {"format": 1, "about": "...", "cores": 2,
     "figures": {... RunFigures fields, datetimes as ISO 8601 ...},
     "metrics": {"interval_s": 1.0, "missing": [...],
                 "broker": [{"source": "broker-1", "metric": "...", "at": "...", "value": 1.0}, ...],
                 "host": [...], "client": [...]}}
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kafkalab.model import (
    LatencySummary,
    MetricSample,
    RunFigures,
    RunMetrics,
    RunRecord,
)

FORMAT = 1
_TIMES = ("window_start", "window_end")


@dataclass(frozen=True)
class Recording:
    about: str
    cores: int | None
    figures: RunFigures | None
    metrics: RunMetrics


def record(run: RunRecord, path: Path, *, about: str, cores: int | None) -> Path:
    """Write `run`'s figures and series to `path`."""
    if run.metrics is None:
        raise ValueError(f"run {run.experiment!r} repetition {run.repetition} has no metrics to record")
    figures = None
    if run.figures is not None:
        figures = dataclasses.asdict(run.figures)
        for name in _TIMES:
            figures[name] = figures[name].isoformat() if figures[name] else None
    metrics = run.metrics
    data = {
        "format": FORMAT, "about": about, "cores": cores, "figures": figures,
        "metrics": {"interval_s": metrics.interval_s, "missing": list(metrics.missing),
                    **{kind: [_sample(s) for s in getattr(metrics, kind)] for kind in ("broker", "host", "client")}},
    }
    path.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def read(path: Path) -> Recording:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: format {data.get('format')!r}, expected {FORMAT}")
    raw = data["metrics"]
    metrics = RunMetrics(interval_s=float(raw["interval_s"]), missing=list(raw.get("missing", [])),
                         **{kind: [_parse(s) for s in raw.get(kind, [])] for kind in ("broker", "host", "client")})
    return Recording(about=data.get("about", ""), cores=data.get("cores"), figures=_figures(data.get("figures")),
                     metrics=metrics)


def _sample(sample: MetricSample) -> dict[str, Any]:
    return {"source": sample.source, "metric": sample.metric, "at": sample.at.isoformat(), "value": sample.value}


def _parse(raw: dict[str, Any]) -> MetricSample:
    value = raw["value"]
    return MetricSample(raw["source"], raw["metric"], datetime.fromisoformat(raw["at"]),
                        None if value is None else float(value))


def _figures(raw: dict[str, Any] | None) -> RunFigures | None:
    if raw is None:
        return None
    times = {name: datetime.fromisoformat(raw[name]) if raw.get(name) else None for name in _TIMES}
    latency = [LatencySummary(**summary) for summary in raw.get("latency", [])]
    return RunFigures(**{**raw, **times, "latency": latency})
