"""Capacity studies in the results database: the study, its steps, the runs of each step.

The runs themselves are stored as every run is (Store.save_run); this module links them to
their step, reads a step's window histograms back, and keeps each step's figures and the
study's result (tables of migration 0009, views v_capacity, v_latency_curve,
v_capacity_scaling). Reading back what is stored is also how a resumed study learns which
steps are done: the search is replayed from them (kafkalab.analysis.capacity.next_step).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafkalab.analysis.capacity import (
    CapacityResult,
    Estimate,
    RunMeasure,
    Step,
    StepOutcome,
    StudyPlan,
)
from kafkalab.core.errors import SpecError
from kafkalab.results.store import Store

# Which instances record a kind: producers the corrected latency, consumers end to end.
_ROLE = {"corrected": "producer", "end_to_end": "consumer"}


def fingerprint(spec: dict[str, Any], study: dict[str, Any]) -> str:
    """Identifies what a study measures: a resume must run the same spec and study."""
    body = json.dumps([spec, study], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _write(store: Store, sql: str, params: dict[str, Any]) -> list[tuple]:
    return store.query(sql, params, read_only=False)[1]


def _read(store: Store, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    columns, rows = store.query(sql, params)
    return [dict(zip(columns, row)) for row in rows]


def create_study(store: Store, *, name: str, spec: dict[str, Any], study: dict[str, Any], plan: StudyPlan,
                 flow_run_id: str | None, sweep_id: int | None = None, cell_index: int | None = None,
                 cell: dict[str, Any] | None = None) -> int:
    (row,) = _write(store, (
        "INSERT INTO capacity_studies (name, spec, study, fingerprint, slo, percentile, bound_ms, kind, repetitions,"
        " status, sweep_id, cell_index, cell, flow_run_id)"
        " VALUES (:name, CAST(:spec AS jsonb), CAST(:study AS jsonb), :fingerprint, :slo, :percentile, :bound_ms,"
        " :kind, :repetitions, 'running', :sweep_id, :cell_index, CAST(:cell AS jsonb), :flow_run_id) RETURNING id"
    ), {"name": name, "spec": json.dumps(spec), "study": json.dumps(study), "fingerprint": fingerprint(spec, study),
        "slo": plan.objective.text, "percentile": plan.objective.percentile, "bound_ms": plan.objective.bound_ms,
        "kind": plan.kind, "repetitions": plan.repetitions, "sweep_id": sweep_id, "cell_index": cell_index,
        "cell": json.dumps(cell) if cell is not None else None, "flow_run_id": flow_run_id})
    return int(row[0])


def resume_study(store: Store, study_id: int, *, spec: dict[str, Any], study: dict[str, Any],
                 flow_run_id: str | None) -> None:
    """Mark study `study_id` running again; refused when it was planned from other settings."""
    found = _read(store, "SELECT name, fingerprint FROM capacity_studies WHERE id = :id", {"id": study_id})
    if not found:
        raise SpecError(f"--resume {study_id}: no such capacity study")
    if found[0]["fingerprint"] != fingerprint(spec, study):
        raise SpecError(f"--resume {study_id}: study {study_id} ({found[0]['name']}) was started with another spec or "
                        "objective; resume it with the same spec file and options")
    _write(store, "UPDATE capacity_studies SET status = 'running', finished_at = NULL, flow_run_id = :flow_run_id"
                  " WHERE id = :id", {"id": study_id, "flow_run_id": flow_run_id})


def cell_study(store: Store, sweep_id: int, cell_index: int) -> dict[str, Any] | None:
    """The capacity study of a sweep cell, if one was started (the newest)."""
    rows = _read(store, "SELECT id, status FROM capacity_studies WHERE sweep_id = :sweep_id AND cell_index = :cell"
                        " ORDER BY id DESC LIMIT 1", {"sweep_id": sweep_id, "cell": cell_index})
    return rows[0] if rows else None


def completed_capacity_cells(store: Store, sweep_id: int) -> set[int]:
    rows = _read(store, "SELECT DISTINCT cell_index FROM capacity_studies WHERE sweep_id = :id AND status = 'completed'",
                 {"id": sweep_id})
    return {int(r["cell_index"]) for r in rows}


def record_step(store: Store, study_id: int, step: Step) -> None:
    """The step's row, before its runs (kept as it is when a resume comes to it again)."""
    _write(store, "INSERT INTO capacity_steps (study_id, seq, phase, target_records_per_sec)"
                  " VALUES (:study_id, :seq, :phase, :target) ON CONFLICT (study_id, seq) DO NOTHING",
           {"study_id": study_id, "seq": step.seq, "phase": step.phase, "target": step.target})


def link_run(store: Store, study_id: int, seq: int, repetition: int, run_id: int) -> None:
    _write(store, "INSERT INTO capacity_step_runs (run_id, study_id, seq, repetition)"
                  " VALUES (:run_id, :study_id, :seq, :repetition) ON CONFLICT DO NOTHING",
           {"run_id": run_id, "study_id": study_id, "seq": seq, "repetition": repetition})


@dataclass(frozen=True)
class StoredStep:
    step: Step
    ok_runs: dict[int, int]  # repetition -> run id of its successful run


def stored_steps(store: Store, study_id: int) -> list[StoredStep]:
    """The study's steps in order, each with the repetitions that have a successful run."""
    steps = _read(store, "SELECT seq, phase, target_records_per_sec FROM capacity_steps WHERE study_id = :id"
                         " ORDER BY seq", {"id": study_id})
    runs = _read(store, "SELECT l.seq, l.repetition, min(l.run_id) AS run_id FROM capacity_step_runs l"
                        " JOIN runs r ON r.id = l.run_id WHERE l.study_id = :id AND r.status = 'ok'"
                        " GROUP BY l.seq, l.repetition", {"id": study_id})
    ok: dict[int, dict[int, int]] = {}
    for row in runs:
        ok.setdefault(int(row["seq"]), {})[int(row["repetition"])] = int(row["run_id"])
    return [StoredStep(Step(int(s["seq"]), s["phase"], _float(s["target_records_per_sec"])), ok.get(int(s["seq"]), {}))
            for s in steps]


def run_measures(store: Store, run_ids: Sequence[int], kind: str) -> list[RunMeasure]:
    """Each run's window throughput, saturation, and its histograms of `kind` over its window
    (the intervals whose middle lies in it, as the run's own figures take them)."""
    if not run_ids:
        return []
    runs = {int(r["id"]): r for r in _read(store, (
        "SELECT id, achieved_records_per_sec, saturated, saturation_reason FROM runs WHERE id = ANY(:ids)"),
        {"ids": list(run_ids)})}
    encoded: dict[int, list[str]] = {run_id: [] for run_id in run_ids}
    for row in _read(store, (
        "SELECT h.run_id, h.encoded FROM latency_histograms h"
        " JOIN load_intervals i USING (run_id, role, instance, seq)"
        " JOIN runs r ON r.id = h.run_id"
        " WHERE h.run_id = ANY(:ids) AND h.kind = :kind AND h.role = :role"
        " AND i.start_at + (i.end_at - i.start_at) / 2 BETWEEN r.window_start AND r.window_end"
    ), {"ids": list(run_ids), "kind": kind, "role": _ROLE[kind]}):
        encoded[int(row["run_id"])].append(row["encoded"])
    return [RunMeasure(run_id, _float(runs[run_id]["achieved_records_per_sec"]), runs[run_id]["saturated"],
                       runs[run_id]["saturation_reason"], tuple(encoded[run_id])) for run_id in run_ids]


def save_outcome(store: Store, study_id: int, outcome: StepOutcome) -> None:
    values: dict[str, Any] = {"study_id": study_id, "seq": outcome.seq, "verdict": outcome.verdict,
                              "reason": outcome.reason, "n": outcome.achieved.n}
    estimates = {"achieved_records_per_sec": outcome.achieved, "p50_ms": outcome.latency["p50"],
                 "p99_ms": outcome.latency["p99"], "p999_ms": outcome.latency["p999"],
                 "objective_ms": outcome.latency["objective"]}
    for name, estimate in estimates.items():
        values |= {name: estimate.value, f"ci95_low_{name}": estimate.ci_low, f"ci95_high_{name}": estimate.ci_high}
    assignments = ", ".join(f"{name} = :{name}" for name in values if name not in ("study_id", "seq"))
    _write(store, f"UPDATE capacity_steps SET {assignments} WHERE study_id = :study_id AND seq = :seq", values)


def finish_study(store: Store, study_id: int, status: str, result: CapacityResult | None = None) -> None:
    values: dict[str, Any] = {"id": study_id, "status": status}
    if result is not None:
        best = result.max_sustainable or Estimate(None)
        values |= {
            "finding": None if result.finding == "incomplete" else result.finding,
            "probe_records_per_sec": result.probe_records_per_sec,
            "max_sustainable_records_per_sec": best.value,
            "ci95_low_max_sustainable_records_per_sec": best.ci_low,
            "ci95_high_max_sustainable_records_per_sec": best.ci_high,
            "passed_target_records_per_sec": result.passed_target,
            "failed_target_records_per_sec": result.failed_target,
            "knee_records_per_sec": result.knee.records_per_sec if result.knee else None,
            "knee_latency_ms": result.knee.latency_ms if result.knee else None,
        }
    assignments = ", ".join(f"{name} = :{name}" for name in values if name != "id")
    _write(store, f"UPDATE capacity_studies SET {assignments}, finished_at = now() WHERE id = :id", values)


def study_summary(store: Store, study_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The study's row of v_capacity and its steps (v_latency_curve, in order)."""
    study = _read(store, "SELECT * FROM v_capacity WHERE study_id = :id", {"id": study_id})
    steps = _read(store, "SELECT * FROM v_latency_curve WHERE study_id = :id ORDER BY seq", {"id": study_id})
    return (study[0] if study else None), steps


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
