"""Capacity study against a fixed grid of the same resolution: wall time ratio (target <= 0.5).

    .venv/bin/python bench/capacity_vs_grid.py [--slo "p99<50ms"] [--step-s 8] [--keep]

1. `kafkalab capacity` with the default search (probe, 10% .. 110% of it, stop at the first
   failing step, bisect to a quarter of the step: 2.5% of the probe), one repetition a step;
2. the grid a study would need without the search to know the capacity as closely: every
   rate from 10% to 110% of the same probe in steps of 2.5% (41 rates), each run for the same
   seconds, as one sweep (`cells:` of producer.throughput and the records it takes) on one
   live cluster, one repetition a cell.

Both run the same 1-broker spec (experiments/capacity-local.yaml, consumers off) on a
database of their own (bench/_db.py). The ratio is the study's wall time over the grid's.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _db import bench_database
from _timing import REPO, newest_id, timed_command

from kafkalab.results.store import Store

SPEC = REPO / "experiments" / "capacity-local.yaml"
GRID_SHARES = [round(0.10 + 0.025 * i, 3) for i in range(41)]  # 10% .. 110% of the probe


def _spec(step_s: float) -> dict:
    data = yaml.safe_load(SPEC.read_text())
    data["name"] = "bench-capacity"
    data["consumer"] = {"enabled": False}
    data["smoke_test"] = False
    # a fresh generator JVM on a busy machine is still compiling in its first seconds
    data["load"] = {"warmup_s": min(3.0, step_s * 3 / 8)}
    data["producer"]["reporting_interval_ms"] = 500
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slo", default="p99<50ms")
    parser.add_argument("--step-s", type=float, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's database")
    args = parser.parse_args()
    with bench_database("kafkalab_bench_capacity", keep=args.keep) as url, \
            tempfile.TemporaryDirectory(prefix="kafkalab-bench-capacity-") as tmp:
        os.environ["DATABASE_URL"] = url
        spec = _spec(args.step_s)
        spec_file = Path(tmp) / "capacity.yaml"
        spec_file.write_text(yaml.safe_dump(spec))
        study_wall = timed_command(["capacity", str(spec_file), "--slo", args.slo, "--repetitions", "1",
                                    "--step-s", f"{args.step_s:g}"])
        with Store(url) as store:
            _, rows = store.query(
                "SELECT study_id, probe_records_per_sec, passed_target_records_per_sec, failed_target_records_per_sec,"
                " max_sustainable_records_per_sec, steps, runs, finding FROM v_capacity ORDER BY study_id DESC LIMIT 1")
        study_id, probe, passed, failed, best, steps, runs, finding = rows[0]
        grid = [round(share * float(probe)) for share in GRID_SHARES]
        sweep = {"name": "bench-capacity-grid", "base": {**spec, "name": "bench-capacity-grid"},
                 "cells": [{"producer.throughput": rate, "producer.num_records": max(1, math.ceil(rate * args.step_s))}
                           for rate in grid],
                 "repetitions": 1}
        sweep_file = Path(tmp) / "grid.yaml"
        sweep_file.write_text(yaml.safe_dump(sweep))
        before = newest_id("sweeps")
        grid_wall = timed_command(["sweep", str(sweep_file)])
        assert newest_id("sweeps") > before
    bracket = "-" if passed is None or failed is None else f"{float(passed):,.0f} / {float(failed):,.0f}"
    print(f"capacity study {study_id} ({args.slo}, {finding}): probe {float(probe):,.0f} records/s, {steps} steps, "
          f"{runs} runs, pass / fail {bracket}, max sustainable "
          f"{'-' if best is None else f'{float(best):,.0f}'} records/s: wall {study_wall:.1f} s")
    print(f"fixed grid, {len(grid)} rates at 2.5% of the probe ({grid[0]:,} .. {grid[-1]:,} records/s): "
          f"wall {grid_wall:.1f} s")
    print(f"ratio study / grid: {study_wall / grid_wall:.2f} (target <= 0.5); load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
