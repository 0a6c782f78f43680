"""Change points in an experiment's history, found with Apache Otava (E-divisive means).

An experiment's series are its ok measured runs, oldest first: window throughput (records/s;
kafka-perf runs the sum of their instances' averages) and merged p99 (corrected where the
runs measured it, else from the send). Otava splits each series where its mean shifts
(Matteson and James' E-divisive over sliding windows, the weak points merged back unless a
t-test gives p < max_pvalue: "Hunter", Fleming et al. 2023). A change smaller than this
machine's noise floor (kafkalab.analysis.noise) is not called one.

`kafkalab check` stores what it finds (change_points, v_change_points) and exits 3 when the
newest change point is a regression (throughput fell, or p99 rose), or the newest run failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from otava.analysis import compute_change_points

from kafkalab.analysis import noise
from kafkalab.analysis.noise import NoiseFloor
from kafkalab.core.errors import SpecError
from kafkalab.results.store import Store

MAX_PVALUE = 0.0001  # 0.001 calls a spurious change in ~1 of 10 flat series of 80 runs; 0.0001 in ~1 of 50
WINDOW = 30  # Otava's sliding window, in points
MIN_RUNS = 5
METRICS = {"window_records_per_sec": ("window throughput", "records/s", True),
           "p99_ms": ("p99", "ms", False)}  # name: (title, unit, higher is better)  # fmt: skip


@dataclass(frozen=True)
class Detected:
    """A change point of one series: the first index after the shift, and both sides' statistics."""

    index: int
    mean_before: float
    mean_after: float
    stddev_before: float
    stddev_after: float
    pvalue: float

    @property
    def change_share(self) -> float:
        return self.mean_after / self.mean_before - 1 if self.mean_before else 0.0


def detect(values: Sequence[float], *, max_pvalue: float = MAX_PVALUE, window: int = WINDOW,
           min_share: float = 0.0) -> list[Detected]:
    """The change points of `values` (a series, oldest first) whose shift has p < max_pvalue
    and exceeds `min_share` of the mean before or after it."""
    if len(values) < 3:
        return []
    series = [float(v) for v in values]
    points, _ = compute_change_points(series, window_len=max(window, 2), max_pvalue=max_pvalue,
                                      min_magnitude=min_share)
    # Each side's statistics over the whole stable stretch between its neighbours (Otava's own
    # may cover only the sliding window the point was found in).
    points = sorted(points, key=lambda p: p.index)
    bounds = [0, *(int(p.index) for p in points), len(series)]
    return [_stretches(series, bounds[i], bounds[i + 1], bounds[i + 2], float(p.stats.pvalue))
            for i, p in enumerate(points)]


def _stretches(series: list[float], start: int, index: int, end: int, pvalue: float) -> Detected:
    before, after = np.array(series[start:index]), np.array(series[index:end])
    return Detected(index, float(before.mean()), float(after.mean()), float(before.std()), float(after.std()), pvalue)


@dataclass(frozen=True)
class ChangePoint:
    metric: str
    position: int  # index of run_id in the metric's series
    run_id: int  # the first run after the change
    started_at: datetime
    detected: Detected

    @property
    def regression(self) -> bool:
        higher_is_better = METRICS[self.metric][2]
        return (self.detected.mean_after < self.detected.mean_before) == higher_is_better

    def message(self) -> str:
        title, unit, _ = METRICS[self.metric]
        d = self.detected
        return (f"{title} changed at run {self.run_id} ({self.started_at:%Y-%m-%d %H:%M}): {d.mean_before:,.1f} -> "
                f"{d.mean_after:,.1f} {unit} ({d.change_share:+.1%}, p = {d.pvalue:.2g})"
                f"{': REGRESSION' if self.regression else ''}")


@dataclass
class Series:
    """One metric's points: the ok runs that have it, oldest first."""

    metric: str
    run_ids: list[int] = field(default_factory=list)
    started_at: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    latency_kind: str | None = None


@dataclass
class Analysis:
    experiment: str
    series: dict[str, Series]
    change_points: list[ChangePoint]
    noise: NoiseFloor | None
    newest_run: tuple[int, str, datetime] | None  # id, status, started_at of the newest measured run
    min_runs: int

    @property
    def runs(self) -> int:
        return max((len(s.values) for s in self.series.values()), default=0)

    @property
    def newest(self) -> ChangePoint | None:
        """The change point nearest the end of its series (a regression first on a tie)."""
        if not self.change_points:
            return None
        return max(self.change_points, key=lambda c: (c.started_at, c.run_id, c.regression))

    @property
    def newest_failed(self) -> bool:
        return self.newest_run is not None and self.newest_run[1] != "ok"

    @property
    def regression(self) -> bool:
        return self.newest_failed or (self.newest is not None and self.newest.regression)

    def message(self) -> str:
        head = f"{self.experiment}: {self.runs} ok runs"
        lines = []
        if self.newest_failed:
            run_id, status, started = self.newest_run  # type: ignore[misc]
            lines.append(f"{self.experiment}: run {run_id} ({started:%Y-%m-%d %H:%M}) {status}: REGRESSION "
                         "(no throughput)")
        if self.runs < self.min_runs:
            return "\n".join([*lines, f"{head}; no verdict: change points need at least {self.min_runs} runs"])
        floor = f"; noise floor {self.noise.cv_records_per_sec:.1%} / {self.noise.cv_p99_ms or 0:.1%}" \
            if self.noise and self.noise.cv_records_per_sec is not None else ""
        method = f"E-divisive means (Apache Otava, p < {MAX_PVALUE:g}{floor})"
        if not self.change_points:
            return "\n".join([*lines, f"{head}, {method}: no change point in window throughput or p99: ok"])
        lines.append(f"{head}, {method}: {len(self.change_points)} change point(s)")
        lines += [f"  {point.message()}" for point in sorted(self.change_points, key=lambda c: (c.started_at, c.metric))]
        newest = self.newest
        assert newest is not None
        lines.append(f"newest change point: {METRICS[newest.metric][0]} at run {newest.run_id}: "
                     + ("REGRESSION" if newest.regression else "an improvement, ok"))
        return "\n".join(lines)


def history(store: Store, experiment: str) -> dict[str, Series]:
    """The experiment's series of ok measured runs, oldest first; SpecError if it has no runs."""
    _, rows = store.query(
        "SELECT run_id, started_at, coalesce(window_records_per_sec, achieved_records_per_sec,"
        " total_records_per_sec), corrected_p99_ms, send_p99_ms"
        " FROM v_run_totals WHERE experiment = :experiment AND source = 'measured' AND status = 'ok'"
        " ORDER BY started_at, run_id", {"experiment": experiment})
    throughput, p99 = Series("window_records_per_sec"), Series("p99_ms")
    kind = "corrected" if any(row[3] is not None for row in rows) else "send"
    p99.latency_kind = kind
    for run_id, started_at, records_per_sec, corrected, send in rows:
        for series, value in ((throughput, records_per_sec), (p99, corrected if kind == "corrected" else send)):
            if value is not None:
                series.run_ids.append(run_id)
                series.started_at.append(started_at)
                series.values.append(float(value))
    return {throughput.metric: throughput, p99.metric: p99}


def analyse(store: Store, experiment: str, *, max_pvalue: float = MAX_PVALUE, min_runs: int = MIN_RUNS,
            window: int = WINDOW) -> Analysis:
    """The change points of both series of `experiment`; SpecError when it has no measured run."""
    if min_runs < 3:
        raise SpecError(f"check: --min-runs {min_runs}: change points need at least 3 runs")
    if not 0 < max_pvalue < 1:
        raise SpecError(f"check: --max-pvalue {max_pvalue}: give a probability between 0 and 1 (e.g. 0.0001)")
    _, newest = store.query(
        "SELECT run_id, status, started_at FROM v_run_totals WHERE experiment = :experiment AND source = 'measured'"
        " ORDER BY started_at DESC, run_id DESC LIMIT 1", {"experiment": experiment})
    if not newest:
        raise SpecError(f"check: no measured runs of experiment {experiment!r}")
    series = history(store, experiment)
    floor = noise.latest(store, experiment, any_spec=False)  # another spec's noise says nothing of this one's
    points: list[ChangePoint] = []
    for metric, one in series.items():
        if len(one.values) < min_runs:
            continue
        share = (floor.cv(metric) or 0.0) if floor else 0.0
        for found in detect(one.values, max_pvalue=max_pvalue, window=window, min_share=share):
            points.append(ChangePoint(metric, found.index, one.run_ids[found.index], one.started_at[found.index],
                                      found))
    return Analysis(experiment, series, points, floor, tuple(newest[0]), min_runs)  # type: ignore[arg-type]


def save(store: Store, analysis: Analysis) -> int:
    """Replace the experiment's stored change points with `analysis`'s, in one statement."""
    rows = [{"metric": c.metric, "run_id": c.run_id, "position": c.position, "started_at": c.started_at.isoformat(),
             "mean_before": c.detected.mean_before, "mean_after": c.detected.mean_after,
             "stddev_before": c.detected.stddev_before, "stddev_after": c.detected.stddev_after,
             "change_share": c.detected.change_share, "pvalue": c.detected.pvalue, "regression": c.regression}
            for c in analysis.change_points]
    # Kept points are updated, gone ones deleted, new ones inserted: the sets never overlap,
    # so one statement does it without a unique-key clash.
    store.query("""
        WITH found AS (
            SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(
                metric text, run_id bigint, position integer, started_at timestamptz, mean_before double precision,
                mean_after double precision, stddev_before double precision, stddev_after double precision,
                change_share double precision, pvalue double precision, regression boolean)
        ), experiment AS (
            SELECT id FROM experiments WHERE name = :experiment
        ), gone AS (
            DELETE FROM change_points c USING experiment e
            WHERE c.experiment_id = e.id
              AND NOT EXISTS (SELECT 1 FROM found f WHERE f.metric = c.metric AND f.run_id = c.run_id)
        )
        INSERT INTO change_points (experiment_id, metric, run_id, position, started_at, mean_before, mean_after,
                                   stddev_before, stddev_after, change_share, pvalue, regression)
        SELECT e.id, f.metric, f.run_id, f.position, f.started_at, f.mean_before, f.mean_after, f.stddev_before,
               f.stddev_after, f.change_share, f.pvalue, f.regression
        FROM found f CROSS JOIN experiment e
        ON CONFLICT (experiment_id, metric, run_id) DO UPDATE SET
            position = excluded.position, started_at = excluded.started_at, mean_before = excluded.mean_before,
            mean_after = excluded.mean_after, stddev_before = excluded.stddev_before,
            stddev_after = excluded.stddev_after, change_share = excluded.change_share, pvalue = excluded.pvalue,
            regression = excluded.regression, detected_at = now()
    """, {"rows": json.dumps(rows), "experiment": analysis.experiment}, read_only=False)
    return len(rows)
