"""Capacity under a latency objective: the search, the latency–throughput curve, the knee.

The search, step by step (`next_step` says what to run, from what has been measured):

1. **probe**: one short unthrottled run; its achieved rate P scales the steps (skipped when
   the study gives its own `rates`);
2. **steps**: target rates 10%, 20%, ... 110% of P (or the given rates, increasing), each
   run `repetitions` times on the same cluster;
3. **stop** at the first step that breaks the objective or saturates (the generator could
   not keep the rate: its latency then measures a queue in front of Kafka);
4. **bisect** between the last step that passed and the first that failed until they are
   `resolution` records/s apart (default a quarter of that gap: two bisections);
5. **result**: the highest passing step's achieved throughput is the maximum sustainable
   throughput meeting the objective, with the 95% confidence interval of its mean over the
   repetitions; the bracket [last pass, first fail] is the search's resolution.

`next_step` is a pure function of the steps measured so far, so a study interrupted and
resumed plans exactly the steps it would have, and skips the ones stored.

A step's percentiles come from one histogram merged over all its repetitions' windows
(never an average of percentiles). Their confidence intervals are Student t intervals over
the repetitions' own percentiles (each from that run's merged histogram), as
v_cell_summary does for the corrected p99; NULL for a single repetition.

The knee is found with Kneedle (Satopää et al., 2011, "Finding a 'Kneedle' in a
Haystack"): the curve's points (achieved throughput, latency at the objective's percentile)
scaled to [0, 1] on both axes; the knee is the point farthest below the chord from the
first point to the last one (largest x - y). A curve with fewer than three points, or none
at least 0.1 below that chord (KNEE_MIN_BEND), has no knee.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kafkalab.analysis.slo import Objective, check_kind, check_rates, parse_objective
from kafkalab.core.errors import SpecError
from kafkalab.kafka import histograms
from kafkalab.plan import Cell
from kafkalab.spec import ExperimentSpec, SweepSpec
from kafkalab.spec.models import CapacitySpec

DEFAULT_FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 12))  # 10% .. 110% of the probe
CURVE_PERCENTILES = {"p50": 50.0, "p99": 99.0, "p999": 99.9}
# Kneedle's point must lie this far below the chord (both axes scaled to [0, 1]): a straight
# line with the histograms' rounding is no knee.
KNEE_MIN_BEND = 0.1
Phase = Literal["probe", "step", "bisect"]
StepVerdict = Literal["probe", "pass", "breaks", "saturated"]


@dataclass(frozen=True)
class StudyPlan:
    """A validated capacity study: the objective, the kind it holds and how to search."""

    objective: Objective
    kind: str
    repetitions: int
    step_s: float
    rates: tuple[float, ...] | None = None  # None: fractions of the probe
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    resolution: float | None = None  # records/s; None: a quarter of the bracket the steps found
    max_bisections: int = 6


def plan_study(study: CapacitySpec, spec: ExperimentSpec, *, where: str = "") -> StudyPlan:
    """Check a study against the experiment it runs; one SpecError naming the field otherwise.

    `where` prefixes the field names ("capacity." in a sweep; "--" on the command line)."""
    prefix = where or "--"
    objective = parse_objective(study.slo, where=f"{prefix}slo")
    kind = check_kind(study.kind, spec, where=f"{prefix}kind")
    rates = check_rates(study.rates, where=f"{prefix}rates")
    warmup = spec.load.warmup_s
    if warmup is not None and warmup >= study.step_s:
        step_field = "--step-s" if prefix == "--" else f"{prefix}step_s"
        raise SpecError(f"load.warmup_s: {warmup:g} s is as long as a capacity step ({step_field} {study.step_s:g} s)")
    return StudyPlan(objective=objective, kind=kind, repetitions=study.repetitions, step_s=study.step_s, rates=rates,
                     resolution=study.resolution, max_bisections=study.max_bisections)


def sweep_study_plans(sweep: SweepSpec, cells: Sequence[Cell]) -> dict[int, StudyPlan]:
    """A sweep with `capacity:`: the study of each cell, checked against the cell's spec
    before anything runs ({} for a sweep of fixed-rate runs)."""
    if sweep.capacity is None:
        return {}
    plans = {}
    for cell in cells:
        try:
            plans[cell.index] = plan_study(sweep.capacity, cell.spec, where="capacity.")
        except SpecError as exc:
            raise SpecError(f"{sweep.name}: cell {cell.index} ({cell.label}): {exc}") from None
    return plans


@dataclass(frozen=True)
class Step:
    """What to run next: its place in the study, its phase and its target (None: unthrottled)."""

    seq: int
    phase: Phase
    target: float | None


@dataclass(frozen=True)
class RunMeasure:
    """One repetition of a step as stored: its window throughput, saturation, and the
    encoded histograms of the study's kind over its window (every instance)."""

    run_id: int | None
    achieved: float | None
    saturated: bool | None
    saturation_reason: str | None
    histograms: Sequence[str] = ()


@dataclass(frozen=True)
class Estimate:
    """A figure of a step with its 95% confidence interval over the repetitions (None for one)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0


@dataclass(frozen=True)
class StepOutcome:
    seq: int
    phase: Phase
    target: float | None
    achieved: Estimate
    latency: dict[str, Estimate]  # p50, p99, p999 and the objective's percentile ("objective")
    verdict: StepVerdict
    reason: str
    run_ids: tuple[int | None, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def failed(self) -> bool:
        return self.verdict in ("breaks", "saturated")


def summarize_step(step: Step, runs: Sequence[RunMeasure], objective: Objective) -> StepOutcome:
    """A step's figures and verdict from its repetitions."""
    if not runs:
        raise ValueError(f"step {step.seq}: no run to summarize")
    achieved = _estimate([r.achieved for r in runs if r.achieved is not None], point=None)
    wanted = {**CURVE_PERCENTILES, "objective": objective.percentile}
    merged = histograms.merge(encoded for r in runs for encoded in r.histograms)
    per_run = [histograms.merge(r.histograms) for r in runs]
    latency: dict[str, Estimate] = {}
    for name, percentile in wanted.items():
        own = [h.get_value_at_percentile(percentile) / 1000 for h in per_run if h.get_total_count()]
        point = merged.get_value_at_percentile(percentile) / 1000 if merged.get_total_count() else None
        latency[name] = _estimate(own, point=point)
    ids = tuple(r.run_id for r in runs)
    if step.phase == "probe":
        return StepOutcome(step.seq, step.phase, step.target, achieved, latency, "probe", "unthrottled probe", ids)
    saturated = [r for r in runs if r.saturated]
    value = latency["objective"].value
    if saturated:
        verdict, reason = "saturated", saturated[0].saturation_reason or "did not keep its target rate"
    elif value is None:
        verdict, reason = "breaks", f"no {objective.name} latency recorded"
    elif objective.met_by(value):
        verdict, reason = "pass", f"{objective.name} {value:,.2f} ms meets {objective.text}"
    else:
        verdict, reason = "breaks", f"{objective.name} {value:,.2f} ms breaks {objective.text}"
    return StepOutcome(step.seq, step.phase, step.target, achieved, latency, verdict, reason, ids)


def _estimate(values: Sequence[float], *, point: float | None) -> Estimate:
    """Mean (or the given merged `point`) with a Student t 95% interval of the mean of `values`."""
    data = [float(v) for v in values]
    if not data:
        return Estimate(point, None, None, 0)
    mean = statistics.fmean(data)
    value = mean if point is None else point
    if len(data) < 2:
        return Estimate(value, None, None, 1)
    from scipy import stats

    half = float(stats.t.ppf(0.975, len(data) - 1)) * statistics.stdev(data) / math.sqrt(len(data))
    # The interval is the mean's; a merged point lies in it when the runs agree, and the
    # interval is widened to hold it otherwise (never a CI that excludes its own figure).
    return Estimate(value, min(mean - half, value), max(mean + half, value), len(data))


def step_spec(spec: ExperimentSpec, step: Step, plan: StudyPlan) -> ExperimentSpec:
    """The experiment one run of `step` is: the spec at the step's target (split over the
    producer instances) for `plan.step_s` seconds; the probe is the spec unthrottled."""
    if step.target is None:
        producer = spec.producer.model_copy(update={"throughput": -1})
    else:
        per_instance = step.target / spec.producer.instances
        records = max(1, math.ceil(per_instance * plan.step_s))
        producer = spec.producer.model_copy(update={"throughput": per_instance, "num_records": records})
    return spec.model_copy(update={"producer": producer, "repetitions": 1})


# --------------------------------------------------------------------------- the search


def grid(plan: StudyPlan, probe_rate: float | None) -> list[float]:
    """The step targets before any bisection (records/s, whole numbers)."""
    if plan.rates is not None:
        return list(plan.rates)
    if probe_rate is None or probe_rate <= 0:
        return []
    return [float(round(f * probe_rate)) for f in plan.fractions]


def next_step(plan: StudyPlan, outcomes: Sequence[StepOutcome]) -> Step | None:
    """What to run after `outcomes` (in their order), or None when the study is done."""
    done = sorted(outcomes, key=lambda o: o.seq)
    seq = len(done)
    probe = next((o for o in done if o.phase == "probe"), None)
    if plan.rates is None and probe is None:
        return Step(0, "probe", None)
    targets = grid(plan, probe.achieved.value if probe else None)
    steps = [o for o in done if o.phase == "step"]
    if not steps or not steps[-1].failed:
        return Step(seq, "step", targets[len(steps)]) if len(steps) < len(targets) else None
    bracket = _bracket(plan, done)
    if bracket is None:
        return None
    low, high, resolution = bracket
    bisections = sum(1 for o in done if o.phase == "bisect")
    if high - low <= resolution * (1 + 1e-9) or bisections >= plan.max_bisections:
        return None
    return Step(seq, "bisect", float(round((low + high) / 2)))


def _bracket(plan: StudyPlan, done: Sequence[StepOutcome]) -> tuple[float, float, float] | None:
    """(highest passing target, lowest failing target above it, resolution); None when no
    step passed before the first failure (the objective breaks below the range)."""
    steps = [o for o in done if o.phase == "step"]
    passed = [o.target for o in steps if o.passed]
    if not passed:
        return None
    first_fail = steps[-1].target
    assert first_fail is not None
    resolution = plan.resolution if plan.resolution is not None else (first_fail - passed[-1]) / 4
    low, high = passed[-1], first_fail
    for o in done:
        if o.phase == "bisect":
            if o.passed:
                low = max(low, o.target)
            else:
                high = min(high, o.target)
    return low, high, resolution


# --------------------------------------------------------------------------- the result


Finding = Literal["found", "below_range", "beyond_range", "incomplete"]


@dataclass(frozen=True)
class Knee:
    records_per_sec: float
    latency_ms: float
    seq: int


@dataclass(frozen=True)
class CapacityResult:
    finding: Finding
    """found: a pass and a fail bracket the capacity; below_range: the lowest step already
    failed; beyond_range: every step passed (the capacity is above the highest); incomplete:
    the search has steps left."""
    max_sustainable: Estimate | None  # achieved throughput of the highest passing step
    passed_target: float | None  # that step's target
    failed_target: float | None  # the lowest failing target above it
    probe_records_per_sec: float | None
    knee: Knee | None
    curve: list[StepOutcome] = field(default_factory=list)  # every non-probe step, by achieved throughput

    def describe(self, objective: Objective) -> str:
        """One line for the CLI and the flow log."""
        if self.finding == "below_range":
            return f"no rate tried meets {objective.text}: the lowest step ({_rate(self.failed_target)}) already fails"
        if self.max_sustainable is None or self.max_sustainable.value is None:
            return f"{objective.text}: no result ({self.finding})"
        m = self.max_sustainable
        ci = f" (95% CI {_rate(m.ci_low)} to {_rate(m.ci_high)})" if m.ci_low is not None else ""
        line = f"max sustainable throughput at {objective.text}: {_rate(m.value)} records/s{ci}"
        if self.finding == "beyond_range":
            line += f"; every step passed, the capacity lies above {_rate(self.passed_target)}"
        elif self.failed_target is not None:
            line += f"; between targets {_rate(self.passed_target)} (pass) and {_rate(self.failed_target)} (fail)"
        if self.knee is not None:
            line += f"; knee at {_rate(self.knee.records_per_sec)} records/s ({self.knee.latency_ms:,.2f} ms)"
        return line


def result(plan: StudyPlan, outcomes: Sequence[StepOutcome]) -> CapacityResult:
    done = sorted(outcomes, key=lambda o: o.seq)
    probe = next((o for o in done if o.phase == "probe"), None)
    measured = [o for o in done if o.phase != "probe"]
    curve = sorted((o for o in measured if o.achieved.value is not None), key=lambda o: o.achieved.value or 0.0)
    passed = [o for o in measured if o.passed]
    best = max(passed, key=lambda o: o.target or 0.0) if passed else None
    above = [o.target for o in measured if o.failed and best is not None and (o.target or 0) > (best.target or 0)]
    if next_step(plan, done) is not None:
        finding: Finding = "incomplete"
    elif best is None:
        finding = "below_range"
    elif not above:
        finding = "beyond_range"
    else:
        finding = "found"
    first_fail = min(above) if above else (measured[0].target if best is None and measured else None)
    return CapacityResult(
        finding=finding, max_sustainable=best.achieved if best else None, passed_target=best.target if best else None,
        failed_target=first_fail, probe_records_per_sec=probe.achieved.value if probe else None,
        knee=knee(curve), curve=curve,
    )


def knee(curve: Sequence[StepOutcome]) -> Knee | None:
    """Kneedle on (achieved throughput, latency at the objective's percentile); see the module doc."""
    points = [(o.achieved.value, o.latency["objective"].value, o.seq) for o in curve
              if o.achieved.value is not None and o.latency.get("objective", Estimate(None)).value is not None]
    points.sort()
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_span, y_span = xs[-1] - xs[0], max(ys) - min(ys)
    if x_span <= 0 or y_span <= 0:
        return None
    differences = [(x - xs[0]) / x_span - (y - min(ys)) / y_span for x, y in zip(xs, ys)]
    best = max(range(1, len(points) - 1), key=lambda i: differences[i])
    if differences[best] < KNEE_MIN_BEND:
        return None
    return Knee(records_per_sec=xs[best], latency_ms=ys[best], seq=points[best][2])


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
