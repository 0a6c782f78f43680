"""`kafkalab compare A B`: is B faster than A, slower, or can this many runs not tell?

Each side is a set of stored runs (kafkalab.analysis.selectors: runs, a sweep's cell, an
experiment, a time window of one). Two figures are compared:

- window throughput: the mean over each side's runs of their window records/s;
- p99 latency: the p99 of each side's histograms merged over all its runs' windows (the
  percentile of the merged histogram, never an average of percentiles).

Each difference (B - A) comes with a 95% bootstrap interval over repetitions and, beside
it, Welch's t interval of the ratio B / A on the logarithms (for p99, of the runs' own
merged p99s), and with the smallest difference this many runs could have detected given
their spread (kafkalab.analysis.confidence). A difference is called only when both
intervals exclude no change and it exceeds the noise floor of
this machine (kafkalab.analysis.noise), when one was measured. The settings that differ
between the sides' runs are listed (kafkalab.analysis.settings_diff).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kafkalab.analysis import confidence, noise, samples, selectors, settings_diff
from kafkalab.analysis.confidence import Interval, Welch
from kafkalab.analysis.noise import NoiseFloor
from kafkalab.analysis.selectors import Side
from kafkalab.core.errors import SpecError
from kafkalab.results.store import Store

P99 = 99.0
KINDS = ("corrected", "send", "end_to_end")
FASTER, SLOWER, NONE = "faster", "slower", "no detectable difference"


@dataclass(frozen=True)
class MetricComparison:
    metric: str  # window_records_per_sec | p99_ms
    title: str
    unit: str
    higher_is_better: bool
    a: float
    b: float
    n_a: int
    n_b: int
    bootstrap: Interval | None
    welch: Welch | None
    smallest_detectable: float | None  # a share of A
    noise_cv: float | None
    verdict: str  # faster | slower | no detectable difference
    why: str  # what decided the verdict

    @property
    def difference(self) -> float:
        return self.b - self.a

    @property
    def relative(self) -> float | None:
        return self.difference / self.a if self.a else None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "unit": self.unit, "a": self.a, "b": self.b, "n_a": self.n_a, "n_b": self.n_b,
            "difference": self.difference, "relative_difference": self.relative,
            "bootstrap_ci95": _interval_json(self.bootstrap),
            "welch_ratio_ci95": _interval_json(self.welch.ratio if self.welch else None),
            "welch_pvalue": self.welch.pvalue if self.welch else None,
            "welch_df": self.welch.df if self.welch else None,
            "smallest_detectable_difference": (self.smallest_detectable * self.a
                                               if self.smallest_detectable is not None else None),
            "smallest_detectable_relative": self.smallest_detectable,
            "noise_floor_cv": self.noise_cv, "verdict": self.verdict, "why": self.why,
        }


@dataclass
class Comparison:
    a: Side
    b: Side
    metrics: list[MetricComparison]
    latency_kind: str | None
    settings: list[str]
    noise: NoiseFloor | None
    throughputs: dict[str, dict[int, float]] = field(default_factory=dict)  # side -> run id -> records/s
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # side -> merged percentile curve
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """B against A over both figures: faster, slower, mixed, or no detectable difference at this n."""
        called = {m.title: m.verdict for m in self.metrics if m.verdict != NONE}
        if not called:
            return f"{NONE} at n = {len(self.a.run_ids)} + {len(self.b.run_ids)}"
        if len(set(called.values())) == 1:
            return next(iter(called.values()))
        return "mixed: " + ", ".join(f"{verdict} in {title}" for title, verdict in called.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "a": _side_json(self.a), "b": _side_json(self.b), "verdict": self.verdict,
            "alpha": confidence.ALPHA, "power": confidence.POWER, "latency_kind": self.latency_kind,
            "metrics": [m.to_json() for m in self.metrics], "settings_differences": self.settings,
            "noise_floor": None if self.noise is None else {
                "spec_name": self.noise.spec_name, "host": self.noise.host, "runs": self.noise.runs,
                "cv_records_per_sec": self.noise.cv_records_per_sec, "cv_p99_ms": self.noise.cv_p99_ms,
                "measured_at": self.noise.measured_at.isoformat() if self.noise.measured_at else None},
            "notes": self.notes,
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str)

    def text(self) -> str:
        lines = [self.a.describe(), self.b.describe(), ""]
        for m in self.metrics:
            lines += _metric_lines(m)
        lines.append(f"verdict: B is {self.verdict} (B against A)" if self.verdict in (FASTER, SLOWER)
                     else f"verdict: {self.verdict}")
        lines.append(self.noise.message() if self.noise else
                     "noise floor: none measured on this host (kafkalab noise SPEC --runs N)")
        lines.append("settings that differ:" if self.settings else "settings that differ: none")
        lines += [f"  {line}" for line in self.settings]
        lines += self.notes
        return "\n".join(lines)


def compare(store: Store, text_a: str, text_b: str, *, kind: str | None = None) -> Comparison:
    """Compare the runs `text_a` and `text_b` select (SpecError naming what is wrong, before any figure)."""
    if kind is not None and kind not in KINDS:
        raise SpecError(f"compare: --kind {kind!r}: choose one of {', '.join(KINDS)}")
    selector_a, selector_b = selectors.parse(text_a, "A"), selectors.parse(text_b, "B")
    a, b = selectors.resolve(store, selector_a, "A"), selectors.resolve(store, selector_b, "B")
    if set(a.run_ids) == set(b.run_ids):
        raise SpecError(f"compare: A ({text_a}) and B ({text_b}) are the same {len(a.run_ids)} run(s) "
                        f"({a.selector.describe()}): nothing to compare")
    if shared := sorted(set(a.run_ids) & set(b.run_ids)):
        raise SpecError(f"compare: A and B share run(s) {', '.join(map(str, shared))}: a run belongs to one side only")
    floor = noise.latest(store, _spec_name(store, a))
    comparison = Comparison(a, b, [], None, settings_diff.differences(store, a.run_ids, b.run_ids), floor)
    comparison.metrics.append(_throughput(store, comparison))
    if (latency := _latency(store, comparison, kind)) is not None:
        comparison.metrics.append(latency)
    return comparison


def _throughput(store: Store, comparison: Comparison) -> MetricComparison:
    values = {}
    for side in (comparison.a, comparison.b):
        found = samples.throughputs(store, side.run_ids)
        if not found:
            raise SpecError(f"compare: {side.label} ({side.selector.text}): its runs have no throughput figures")
        values[side.label] = found
    comparison.throughputs = values
    a, b = np.array(list(values["A"].values())), np.array(list(values["B"].values()))
    return _judge(
        "window_records_per_sec", "window throughput", "records/s", True, float(a.mean()), float(b.mean()),
        len(a), len(b), confidence.bootstrap(confidence.mean_difference(a, b), len(a), len(b)),
        confidence.welch(a, b), confidence.smallest_detectable(a, b), comparison.noise,
    )


def _latency(store: Store, comparison: Comparison, kind: str | None) -> MetricComparison | None:
    """The merged p99 of `kind` (default corrected, else send); None when a side has no histograms."""
    for candidate in ([kind] if kind else KINDS[:2]):
        counts_a = samples.latency_counts(store, comparison.a.run_ids, candidate)
        counts_b = samples.latency_counts(store, comparison.b.run_ids, candidate)
        if counts_a is not None and counts_b is not None:
            break
    else:
        comparison.notes.append(
            f"p99 not compared: not every run has {kind or 'corrected or send'} latency histograms over its window "
            "(Kafka's perf tool keeps none; producer.tool kafkalab does)")
        return None
    comparison.latency_kind = candidate
    comparison.curves = {"A": counts_a.curve(), "B": counts_b.curve()}
    # One bucket layout for both sides, so that a resample of each is merged the same way.
    low = min(counts_a.offset, counts_b.offset)
    width = max(counts_a.offset + counts_a.counts.shape[1], counts_b.offset + counts_b.counts.shape[1]) - low
    padded_a, padded_b = _pad(counts_a, low, width), _pad(counts_b, low, width)

    def merged_p99_difference(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
        return (samples.percentile_of(padded_b[rows_b].sum(axis=0), low, P99)
                - samples.percentile_of(padded_a[rows_a].sum(axis=0), low, P99))

    per_run_a, per_run_b = counts_a.per_run_ms(P99), counts_b.per_run_ms(P99)
    n_a, n_b = len(per_run_a), len(per_run_b)
    return _judge(
        "p99_ms", f"{candidate} p99", "ms", False, counts_a.percentile_ms(P99), counts_b.percentile_ms(P99), n_a, n_b,
        confidence.bootstrap(merged_p99_difference, n_a, n_b), confidence.welch(per_run_a, per_run_b),
        confidence.smallest_detectable(per_run_a, per_run_b), comparison.noise,
    )


def _judge(metric: str, title: str, unit: str, higher_is_better: bool, a: float, b: float, n_a: int, n_b: int,
           boot: Interval | None, welch: Welch | None, detectable: float | None,
           floor: NoiseFloor | None) -> MetricComparison:
    noise_cv = floor.cv(metric) if floor else None
    relative = (b - a) / a if a else None
    if boot is None or welch is None:
        verdict, why = NONE, ("one run a side: no spread to judge by" if min(n_a, n_b) < 2
                              else "the runs show no spread at all")
    elif not boot.excludes_zero() or not welch.excludes_no_change():
        verdict, why = NONE, "a 95% interval includes no change"
    elif noise_cv is not None and relative is not None and abs(relative) <= noise_cv:
        verdict, why = NONE, f"{abs(relative):.1%} is within this machine's noise floor of {noise_cv:.1%}"
    else:
        better = (b > a) == higher_is_better
        verdict, why = (FASTER if better else SLOWER), "both 95% intervals exclude no change"
    return MetricComparison(metric, title, unit, higher_is_better, a, b, n_a, n_b, boot, welch, detectable,
                            noise_cv, verdict, why)


def _pad(counts: samples.LatencyCounts, low: int, width: int) -> np.ndarray:
    out = np.zeros((counts.counts.shape[0], width), dtype=np.int64)
    start = counts.offset - low
    out[:, start:start + counts.counts.shape[1]] = counts.counts
    return out


def _spec_name(store: Store, side: Side) -> str | None:
    """The experiment of side A's first run: whose noise floor applies."""
    _, rows = store.query("SELECT e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = :id",
                          {"id": side.run_ids[0]})
    return rows[0][0] if rows else None


def _metric_lines(m: MetricComparison) -> list[str]:
    relative = "" if m.relative is None else f" ({m.relative:+.1%})"
    how = "mean over runs" if m.metric == "window_records_per_sec" else "merged over each side's runs"
    lines = [
        f"{m.title} ({m.unit}, {how}): A {_num(m.a)}  B {_num(m.b)}  B - A {_num(m.difference, sign=True)}{relative}",
        f"  95% CI of B - A, bootstrap over repetitions: {_interval_text(m.bootstrap)}",
        f"  95% CI of B / A, Welch's t on logs{' of the per-run p99s' if m.metric == 'p99_ms' else ''}: "
        + (f"{_ratio_text(m.welch.ratio)} (p = {m.welch.pvalue:.3g}, df {m.welch.df:.1f})" if m.welch else "n/a"),
    ]
    if m.smallest_detectable is not None:
        lines.append(f"  smallest difference detectable at n = {m.n_a} + {m.n_b} (alpha {confidence.ALPHA:g}, "
                     f"power {confidence.POWER:.0%}): {m.smallest_detectable:.1%} "
                     f"({_num(m.smallest_detectable * m.a)} {m.unit})")
    else:
        lines.append(f"  smallest detectable difference: n/a at n = {m.n_a} + {m.n_b} (2 runs a side at least)")
    lines.append(f"  {m.title}: {m.verdict} ({m.why})")
    return lines


def _num(value: float, *, sign: bool = False) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    digits = 0 if abs(value) >= 1000 else 2
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def _interval_text(interval: Interval | None) -> str:
    return "n/a" if interval is None else f"[{_num(interval.low, sign=True)}, {_num(interval.high, sign=True)}]"


def _ratio_text(ratio: Interval) -> str:
    return f"x{ratio.low:.3g} to x{ratio.high:.3g} ({ratio.low - 1:+.1%} to {ratio.high - 1:+.1%})"


def _interval_json(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval.low, interval.high]


def _side_json(side: Side) -> dict[str, Any]:
    return {"selector": side.selector.text, "describes": side.selector.describe(), "run_ids": list(side.run_ids)}
