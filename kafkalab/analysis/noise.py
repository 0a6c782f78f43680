"""The noise floor: how much identical runs differ on this machine.

`kafkalab noise SPEC --runs N` runs the spec N times on one cluster and stores the spread
of the runs here: the coefficient of variation (sample stddev / mean) of their window
throughput and of their merged p99. A difference smaller than that is what this machine
produces by itself, so `compare` and `check` do not call it a change. A floor belongs to a
spec and a host. Where a spec has none, `compare` takes the newest floor of the host (and
says whose it is); `check`, which alerts unattended, uses the experiment's own floor only.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from kafkalab.analysis import samples
from kafkalab.core.errors import SpecError
from kafkalab.results.store import Store

P99 = 99.0
LATENCY_KINDS = ("corrected", "send")  # the p99 of the first kind every run measured
NOISE_PREFIX = "noise-"  # noise runs are stored as experiment noise-SPEC, apart from the spec's history


@dataclass(frozen=True)
class NoiseFloor:
    spec_name: str
    experiment: str
    host: str
    runs: int
    run_ids: tuple[int, ...]
    mean_records_per_sec: float | None
    stddev_records_per_sec: float | None
    cv_records_per_sec: float | None
    latency_kind: str | None
    mean_p99_ms: float | None
    stddev_p99_ms: float | None
    cv_p99_ms: float | None
    measured_at: datetime | None = None
    saturated: int | None = None  # of the runs; not stored (v_run_totals has it per run)

    def cv(self, metric: str) -> float | None:
        return self.cv_records_per_sec if metric == "window_records_per_sec" else self.cv_p99_ms

    def message(self) -> str:
        when = f" on {self.measured_at:%Y-%m-%d}" if self.measured_at else ""
        return (f"noise floor of {self.spec_name} on {self.host}{when} ({self.runs} identical runs): "
                f"window throughput {_share(self.cv_records_per_sec)} "
                f"(mean {_number(self.mean_records_per_sec)} records/s), "
                f"merged {self.latency_kind or ''} p99 {_share(self.cv_p99_ms)} (mean {_number(self.mean_p99_ms)} ms)"
                + (f"; {self.saturated} of the runs saturated: their latency measures queueing, not Kafka (a lower "
                   "rate, or a quieter machine)" if self.saturated else ""))


def host() -> str:
    return platform.node() or "unknown"


def experiment_name(spec_name: str) -> str:
    return NOISE_PREFIX + spec_name


def measure(store: Store, spec_name: str, run_ids: Sequence[int]) -> NoiseFloor:
    """The spread of the ok runs among `run_ids`; SpecError with fewer than two."""
    _, rows = store.query("SELECT r.id, e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id "
                          "WHERE r.id = ANY(:ids) AND r.status = 'ok' ORDER BY r.id", {"ids": list(run_ids)})
    ok = [row[0] for row in rows]
    if len(ok) < 2:
        raise SpecError(f"noise: {len(ok)} ok run(s) of {spec_name}: a spread needs at least 2 (--runs 2 or more)")
    throughput = samples.throughputs(store, ok)
    values = np.array([throughput[r] for r in ok if r in throughput])
    kind, p99s = None, None
    for candidate in LATENCY_KINDS:
        if (counts := samples.latency_counts(store, ok, candidate)) is not None:
            kind, p99s = candidate, counts.per_run_ms(P99)
            break
    mean_t, sd_t, cv_t = _spread(values)
    mean_p, sd_p, cv_p = _spread(p99s)
    _, saturated = store.query("SELECT count(*) FROM v_run_totals WHERE run_id = ANY(:ids) AND saturated",
                               {"ids": ok})
    return NoiseFloor(spec_name, rows[0][1], host(), len(ok), tuple(ok), mean_t, sd_t, cv_t, kind, mean_p, sd_p, cv_p,
                      saturated=int(saturated[0][0]))


def save(store: Store, floor: NoiseFloor) -> int:
    """Store `floor` (noise_floors); returns its id."""
    _, rows = store.query(
        "INSERT INTO noise_floors (spec_name, experiment, host, runs, run_ids, latency_kind, mean_records_per_sec,"
        " stddev_records_per_sec, cv_records_per_sec, mean_p99_ms, stddev_p99_ms, cv_p99_ms)"
        " VALUES (:spec_name, :experiment, :host, :runs, :run_ids, :latency_kind, :mean_t, :sd_t, :cv_t,"
        " :mean_p, :sd_p, :cv_p) RETURNING id",
        {"spec_name": floor.spec_name, "experiment": floor.experiment, "host": floor.host, "runs": floor.runs,
         "run_ids": list(floor.run_ids), "latency_kind": floor.latency_kind, "mean_t": floor.mean_records_per_sec,
         "sd_t": floor.stddev_records_per_sec, "cv_t": floor.cv_records_per_sec, "mean_p": floor.mean_p99_ms,
         "sd_p": floor.stddev_p99_ms, "cv_p": floor.cv_p99_ms},
        read_only=False,
    )
    return int(rows[0][0])


def latest(store: Store, spec_name: str | None = None, *, any_spec: bool = True) -> NoiseFloor | None:
    """The newest floor of `spec_name` on this host, else (`any_spec`) the newest of any spec on this host."""
    _, rows = store.query(
        "SELECT spec_name, experiment, host, runs, run_ids, mean_records_per_sec, stddev_records_per_sec,"
        " cv_records_per_sec, latency_kind, mean_p99_ms, stddev_p99_ms, cv_p99_ms, measured_at"
        " FROM noise_floors WHERE host = :host AND (:any_spec OR spec_name = CAST(:spec AS text))"
        " ORDER BY (spec_name = CAST(:spec AS text)) IS TRUE DESC, measured_at DESC, id DESC LIMIT 1",
        {"host": host(), "spec": spec_name, "any_spec": any_spec},
    )
    if not rows:
        return None
    row = list(rows[0])
    row[4] = tuple(row[4])
    return NoiseFloor(*row[:12], measured_at=row[12])


def _spread(values: np.ndarray | None) -> tuple[float | None, float | None, float | None]:
    if values is None or len(values) < 2:
        return None, None, None
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    return mean, sd, (sd / mean if mean else None)


def _share(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"
