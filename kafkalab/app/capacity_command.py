"""`kafkalab capacity SPEC --slo "p99<20ms"`: its arguments, the checks before anything runs, its tables.

Everything is checked before any JVM starts (the spec, the objective, the kind against the
spec, the rates); a mistake is one line naming it, exit 2. The study runs as the Prefect
flow `capacity` (flows/capacity.py), started by `cli.cmd_capacity`; `--resume ID` goes on
with an interrupted one.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafkalab.core.errors import SpecError

STEP_COLUMNS = ("seq", "phase", "target_records_per_sec", "achieved_records_per_sec", "p50_ms", "p99_ms", "p999_ms",
                "objective_ms", "verdict")


def add_parser(sub: argparse._SubParsersAction, func: Callable[[argparse.Namespace], int]) -> None:
    parser = sub.add_parser("capacity", help="max sustainable throughput under a latency objective "
                                             "(probe, step the rate, bisect; resumable)")
    parser.add_argument("spec", type=Path, help="experiment YAML, e.g. experiments/capacity-local.yaml")
    parser.add_argument("--slo", required=True, metavar="OBJECTIVE",
                        help='latency objective, e.g. "p99<20ms" or "p99.9<=50ms"')
    parser.add_argument("--kind", default="corrected", metavar="KIND",
                        help="latency the objective holds: corrected (from the intended send time; default) or "
                             "end_to_end (to a consumer's receipt)")
    parser.add_argument("--rates", type=_rates, metavar="R1,R2,...",
                        help="target rates in records/s (all producers together), increasing; default 10%%..110%% "
                             "of a short unthrottled probe")
    parser.add_argument("--repetitions", type=int, default=3, metavar="N", help="runs per step (default 3)")
    parser.add_argument("--step-s", type=float, default=10, metavar="S", help="seconds per step run (default 10)")
    parser.add_argument("--resolution", type=float, metavar="RATE",
                        help="bisect until pass and fail are this many records/s apart (default a quarter of "
                             "the step that broke)")
    parser.add_argument("--resume", type=int, metavar="ID", help="go on with capacity study ID (same spec and options)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a spec setting, e.g. producer.record_size=100")
    parser.add_argument("--database-url", metavar="URL", help="results database (default: DATABASE_URL, else embedded)")
    parser.set_defaults(func=func)


def _rates(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        # argparse prints this as one line with exit 2, before anything runs
        raise argparse.ArgumentTypeError(f"{text!r}: give numbers separated by commas, e.g. 1000,2000,4000") from None


def check_request(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(experiment spec, study, plan) of the command line; SpecError naming the option otherwise."""
    from pydantic import ValidationError

    from kafkalab.analysis.capacity import plan_study
    from kafkalab.platforms import check_spec
    from kafkalab.spec import load_spec
    from kafkalab.spec.models import CapacitySpec, _format_error

    spec = load_spec(args.spec, args.set)
    check_spec(spec, source=str(args.spec))
    try:
        study = CapacitySpec(slo=args.slo, kind=args.kind, rates=args.rates, repetitions=args.repetitions,
                             step_s=args.step_s, resolution=args.resolution)
    except ValidationError as exc:
        field, _, message = _format_error(exc).partition(": ")
        raise SpecError(f"--{field.replace('_', '-')}: {message}") from None
    return spec, study, plan_study(study, spec)  # objective, kind and rates: one line each


def announce(spec: Any, plan: Any) -> str:
    rates = "10%..110% of a probe" if plan.rates is None else ", ".join(f"{r:g}" for r in plan.rates)
    return (f"kafkalab: capacity of {spec.name} at {plan.objective.text} ({plan.kind}): rates {rates}, "
            f"{plan.repetitions} repetition(s) of {plan.step_s:g} s a step")


def study_table(study_id: int) -> tuple[list[str], list[list[Any]], str]:
    """The study's steps (columns, rows) and its one-line result."""
    from kafkalab.analysis import capacity_store
    from kafkalab.results.store import Store

    with Store() as store:
        study, steps = capacity_store.study_summary(store, study_id)
    rows = [[s[c] for c in STEP_COLUMNS] for s in steps]
    if study is None:
        return list(STEP_COLUMNS), rows, f"capacity study {study_id}: not found"
    value = study["max_sustainable_records_per_sec"]
    low, high = study["ci95_low_max_sustainable_records_per_sec"], study["ci95_high_max_sustainable_records_per_sec"]
    ci = f" (95% CI {low:,.0f} to {high:,.0f})" if low is not None and high is not None else ""
    best = f"{value:,.0f} records/s{ci}" if value is not None else "none in the range tried"
    knee = study["knee_records_per_sec"]
    line = (f"capacity study {study_id} {study['finding'] or study['status']}: max sustainable throughput at "
            f"{study['slo']} ({study['kind']}): {best}" + (f"; knee at {knee:,.0f} records/s" if knee is not None else ""))
    return list(STEP_COLUMNS), rows, line


def sweep_capacity_table(sweep_id: int) -> tuple[list[str], list[tuple]]:
    """A capacity sweep's cells: what each broker count buys at the objective (v_capacity_scaling)."""
    from kafkalab.results.store import Store

    with Store() as store:
        return store.query(
            "SELECT cell_index, brokers, partitions, producer_instances, record_size, slo, finding,"
            " max_sustainable_records_per_sec, ci95_low_max_sustainable_records_per_sec,"
            " ci95_high_max_sustainable_records_per_sec, baseline_brokers, capacity_gain"
            " FROM v_capacity_scaling WHERE sweep_id = :id ORDER BY cell_index", {"id": sweep_id})
