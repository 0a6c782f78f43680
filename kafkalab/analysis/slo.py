"""Latency objectives ("p99<20ms") and the latency kinds a capacity study can hold them to.

An objective is a percentile, a bound and whether the bound itself still meets it:
`p99<20ms` holds when the 99th percentile is below 20 ms, `p99.9<=50ms` when it is at most
50 ms. Units: us, ms, s. The percentile is read from a histogram merged over a step's
repetitions, never from an average of percentiles.

A kind is which latency the objective is about: `corrected` (from the intended send time
to the acknowledgement: what a client on the schedule experiences) or `end_to_end` (from
the send to a consumer's receipt). Each needs the spec to measure it; a spec that cannot is
refused in one line before anything runs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kafkalab.core.errors import SpecError
from kafkalab.spec import ExperimentSpec

KINDS = ("corrected", "end_to_end")
_UNIT_MS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}
_OBJECTIVE = re.compile(r"^p(\d{1,2}(?:\.\d{1,4})?)(<=|<)(\d+(?:\.\d+)?)(us|µs|ms|s)$")
_EXAMPLE = "write pNN<BOUND or pNN<=BOUND with a unit (us, ms, s), e.g. p99<20ms or p99.9<=50ms"


@dataclass(frozen=True)
class Objective:
    """A latency objective: `percentile` (0 < p < 100) below (or at most) `bound_ms`."""

    percentile: float
    bound_ms: float
    inclusive: bool  # True: `<=`, the bound itself meets the objective

    def met_by(self, latency_ms: float) -> bool:
        return latency_ms <= self.bound_ms if self.inclusive else latency_ms < self.bound_ms

    @property
    def text(self) -> str:
        """The canonical spelling, as stored: p99<20ms, p99.9<=50ms."""
        return f"{self.name}{'<=' if self.inclusive else '<'}{self.bound_ms:g}ms"

    @property
    def name(self) -> str:
        return f"p{self.percentile:g}"

    def __str__(self) -> str:
        return self.text


def parse_objective(text: str, *, where: str = "--slo") -> Objective:
    """`p99<20ms` -> Objective(99, 20, False); anything else a SpecError naming `where` and the text."""
    compact = re.sub(r"\s+", "", str(text or ""))
    match = _OBJECTIVE.match(compact)
    if not match:
        raise SpecError(f"{where} {text!r}: not a latency objective; {_EXAMPLE}")
    percentile, operator, bound, unit = match.groups()
    value = float(percentile)
    if not 0 < value < 100:
        raise SpecError(f"{where} {text!r}: the percentile must lie between 0 and 100 (exclusive)")
    bound_ms = float(bound) * _UNIT_MS[unit]
    if bound_ms <= 0:
        raise SpecError(f"{where} {text!r}: the bound must be above 0")
    return Objective(value, bound_ms, operator == "<=")


def check_kind(kind: str, spec: ExperimentSpec, *, where: str = "--kind") -> str:
    """`kind` when `spec` measures it; else a SpecError saying what the spec lacks."""
    if kind not in KINDS:
        raise SpecError(f"{where} {kind}: not a latency kind a capacity study holds to; one of {', '.join(KINDS)}")
    if spec.producer.tool != "kafkalab":
        raise SpecError(f"{where} {kind}: producer.tool {spec.producer.tool} records no latency histograms; "
                        "a capacity study needs producer.tool kafkalab")
    if kind == "end_to_end":
        consumer = spec.consumer
        if not consumer.enabled:
            raise SpecError(f"{where} end_to_end: consumer.enabled is false, so no consumer measures end-to-end "
                            "latency; enable the consumers or use --kind corrected")
        if consumer.tool != "kafkalab":
            raise SpecError(f"{where} end_to_end: consumer.tool {consumer.tool} records no end-to-end histograms; "
                            "use consumer.tool kafkalab")
        if not consumer.runs_alongside:
            raise SpecError(f"{where} end_to_end: consumer.timing after reads a backlog once the producers are "
                            "done, so its latency is the drain, not the latency at a rate; use timing alongside")
    return kind


def check_rates(rates: Sequence[float] | None, *, where: str = "--rates") -> tuple[float, ...] | None:
    """Target rates (records/s, all producer instances together): above 0 and increasing."""
    if rates is None:
        return None
    values = tuple(float(r) for r in rates)
    if not values:
        raise SpecError(f"{where}: give at least one rate, or leave it out to step from 10% to 110% of a probe")
    for rate in values:
        if not rate > 0:
            raise SpecError(f"{where} {_list(values)}: every rate must be above 0 (records/s), got {rate:g}")
    for before, after in itertools.pairwise(values):
        if after <= before:
            raise SpecError(f"{where} {_list(values)}: not increasing ({after:g} after {before:g}); "
                            "list the rates from the lowest up")
    return values


def _list(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)
