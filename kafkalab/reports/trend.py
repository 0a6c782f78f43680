"""The nightly regression rule: is the newest run of an experiment a regression?

A run is a regression when its total records/s falls more than `drop` (a share: 0.1 = 10%)
below the median of the `window` ok measured runs of the same experiment before it; a
failed newest run counts as one too. With fewer than `min_previous` earlier ok runs there
is no verdict. The rule lives in one place, the cookbook query nightly_trend.sql; `check`
runs it for the newest run, `kafkalab check` exits 3 on a regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafkalab.core.errors import SpecError
from kafkalab.reports import queries
from kafkalab.results.store import Store


@dataclass(frozen=True)
class Verdict:
    experiment: str
    run_id: int
    started_at: datetime
    status: str
    records_per_sec: float | None
    median_records_per_sec: float | None
    previous_runs: int
    ratio: float | None
    verdict: str  # ok | regression | failed | no history
    window: int
    drop: float

    @property
    def regression(self) -> bool:
        return self.verdict in ("regression", "failed")

    def message(self) -> str:
        when = self.started_at.isoformat(timespec="seconds")
        head = f"{self.experiment}: run {self.run_id} ({when})"
        if self.verdict == "failed":
            return f"{head} failed: REGRESSION (no throughput)"
        if self.verdict == "no history":
            return (
                f"{head}: {self.records_per_sec:,.2f} records/s; no verdict: {self.previous_runs} earlier ok run(s), "
                "need more"
            )
        change = (self.ratio - 1) * 100 if self.ratio is not None else 0.0
        relation = f"{abs(change):.1f}% {'below' if change < 0 else 'above'}"
        tail = "REGRESSION" if self.verdict == "regression" else "ok"
        return (
            f"{head}: {self.records_per_sec:,.2f} records/s is {relation} the median {self.median_records_per_sec:,.2f} "
            f"of the previous {self.previous_runs} ok run(s) (tolerated: {self.drop:.0%} below): {tail}"
        )


def trend(
    store: Store, experiment: str, *, window: int = 30, drop: float = 0.1, min_previous: int = 3, limit: int = 60
) -> list[dict[str, Any]]:
    """The rows of nightly_trend.sql: the newest `limit` runs, oldest first, with verdicts."""
    if window < 1 or limit < 1 or min_previous < 0:
        raise SpecError("check: --window and the limit must be at least 1, --min-previous at least 0")
    if not 0 <= drop < 1:
        raise SpecError(f"check: --drop {drop} must be a share between 0 and 1 (0.1 = 10%)")
    query = queries.resolve("nightly_trend")
    params = query.bind({"experiment": experiment, "window": str(window), "drop": str(drop),
                         "min_previous": str(min_previous), "limit": str(limit)})  # fmt: skip
    columns, rows = store.query(query.sql, params)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def check(store: Store, experiment: str, *, window: int = 30, drop: float = 0.1, min_previous: int = 3) -> Verdict:
    """The verdict on the newest measured run of `experiment`."""
    rows = trend(store, experiment, window=window, drop=drop, min_previous=min_previous, limit=1)
    if not rows:
        raise SpecError(f"check: no measured runs of experiment {experiment!r}")
    row = rows[-1]
    return Verdict(
        experiment=experiment,
        run_id=row["run_id"],
        started_at=row["started_at"],
        status=row["status"],
        records_per_sec=row["total_records_per_sec"],
        median_records_per_sec=row["median_records_per_sec"],
        previous_runs=row["previous_runs"],
        ratio=row["ratio"],
        verdict=row["verdict"],
        window=window,
        drop=drop,
    )
