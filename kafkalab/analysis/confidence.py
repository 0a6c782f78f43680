"""Confidence intervals of a difference between two sets of repetitions. No I/O.

Two intervals stand side by side: a bootstrap over repetitions (scipy.stats.bootstrap, BCa:
no assumption about the shape of the runs' spread, but optimistic with few runs) of the
difference B - A, and Welch's t (unequal variances; honest for few runs) of the ratio B / A.
Welch's t runs on the logarithms of the figures: a machine's noise scales with the rate (a
busy moment costs a share of it, not a fixed number of records/s), so on the log scale the
two sides' spreads are alike and a tenfold difference is not lost in the faster side's
wider swings. A difference counts as detected only when both intervals exclude no change.
The smallest detectable difference is the ratio a two-sided Welch test at ALPHA would find
with probability POWER, given the spread the runs showed, as a share of A.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
CONFIDENCE = 1 - ALPHA
RESAMPLES = 4999
SEED = 14  # a fixed seed: the same runs give the same interval every time they are compared


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Welch:
    ratio: Interval  # of B / A (geometric means)
    pvalue: float
    df: float

    def excludes_no_change(self) -> bool:
        return self.ratio.low > 1 or self.ratio.high < 1


def bootstrap(statistic: Callable[[np.ndarray, np.ndarray], float], n_a: int, n_b: int) -> Interval | None:
    """The 95% bootstrap interval of statistic(rows of A, rows of B), resampling each side's
    repetitions independently; None with fewer than two a side or no spread at all."""
    if n_a < 2 or n_b < 2:
        return None

    def on_rows(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
        return statistic(rows_a.astype(int), rows_b.astype(int))

    data = (np.arange(n_a, dtype=float), np.arange(n_b, dtype=float))
    for method in ("BCa", "percentile"):  # BCa is undefined when every resample agrees
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap(data, on_rows, vectorized=False, paired=False, n_resamples=RESAMPLES,
                                     confidence_level=CONFIDENCE, method=method, rng=np.random.default_rng(SEED))
        low, high = result.confidence_interval
        if math.isfinite(low) and math.isfinite(high):
            return Interval(float(low), float(high))
    return None


def mean_difference(a: np.ndarray, b: np.ndarray) -> Callable[[np.ndarray, np.ndarray], float]:
    """The statistic mean(B) - mean(A) over rows of the two samples."""
    return lambda rows_a, rows_b: float(b[rows_b].mean() - a[rows_a].mean())


def welch(a: np.ndarray, b: np.ndarray) -> Welch | None:
    """Welch's t interval of B / A, on the logarithms; None with fewer than two a side, no
    spread, or a figure not above 0."""
    if len(a) < 2 or len(b) < 2 or min(a.min(), b.min()) <= 0:
        return None
    log_a, log_b = np.log(a), np.log(b)
    if np.std(log_a) == 0 and np.std(log_b) == 0:
        return None
    result = stats.ttest_ind(log_b, log_a, equal_var=False)
    low, high = result.confidence_interval(CONFIDENCE)
    return Welch(Interval(math.exp(low), math.exp(high)), float(result.pvalue), float(result.df))


def smallest_detectable(a: np.ndarray, b: np.ndarray) -> float | None:
    """The change, as a share of A, that a two-sided Welch test (on the logarithms) at ALPHA
    detects with probability POWER, given the samples' spreads and sizes; None with fewer
    than two a side or a figure not above 0."""
    if len(a) < 2 or len(b) < 2 or min(a.min(), b.min()) <= 0:
        return None
    log_a, log_b = np.log(a), np.log(b)
    var_a, var_b = np.var(log_a, ddof=1) / len(a), np.var(log_b, ddof=1) / len(b)
    se = math.sqrt(var_a + var_b)
    if se == 0:
        return 0.0
    df = (var_a + var_b) ** 2 / (var_a ** 2 / (len(a) - 1) + var_b ** 2 / (len(b) - 1))
    return float(math.exp((stats.t.ppf(1 - ALPHA / 2, df) + stats.t.ppf(POWER, df)) * se) - 1)
