"""The arithmetic of the user's guide over repetitions, as kafkalab reports it. No I/O.

Several repetitions of one experiment: how much do the results vary? (`spread`, the guide's
"Average: ..." lines over 5 runs are `spread(...).mean`).

What one run's parallel producer instances achieved together (the guide's "Total
Throughput: ..." lines) is defined once, by the SQL view v_run_totals
(schema/views/v_run_totals*.sql); Python reads it with `Store.run_totals`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """How one quantity varies over repetitions of an experiment."""

    n: int
    """Number of values (repetitions)."""
    mean: float
    """Arithmetic mean: the guide's "Average" over its 5 runs."""
    stddev: float
    """Sample standard deviation (divides by n - 1); 0 for a single value."""
    min: float
    """Smallest value."""
    max: float
    """Largest value."""


def spread(values: Iterable[float]) -> Spread:
    """n, mean, sample stddev, min and max of the values (one per repetition)."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("spread needs at least one value")
    return Spread(
        n=len(data),
        mean=statistics.fmean(data),
        stddev=statistics.stdev(data) if len(data) > 1 else 0.0,
        min=min(data),
        max=max(data),
    )
