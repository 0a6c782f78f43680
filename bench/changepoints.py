"""Change-point detection over 10,000 points: kafkalab.analysis.changepoints.detect (Apache Otava).

    .venv/bin/python bench/changepoints.py [--points 10000] [--repeat 3]

The series is what ten thousand nightly runs of one experiment would give: window throughput
about 50,000 records/s with 2% run-to-run noise, and three steps of known place and size
(-10% at 30%, +6% at 60%, -8% at 85% of the series). Times the whole detection (E-divisive
means over sliding windows, then the merge of the weak points) with kafkalab's defaults
(p < 0.0001, window 30; target: under 2 s of wall time; the CPU time beside it says how
much of a slow round was a busy machine), and checks that each step is found within one
point and how many other change points the noise gave.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from kafkalab.analysis.changepoints import MAX_PVALUE, WINDOW, detect

TARGET_S = 2.0
STEPS = ((0.30, 0.90), (0.60, 1.06), (0.85, 0.92))  # (place as a share of the series, factor from there on)


def series(points: int, seed: int = 14) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    values = rng.normal(50_000, 1_000, points)
    places = []
    for share, factor in STEPS:
        place = int(share * points)
        values[place:] *= factor
        places.append(place)
    return values, places


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    values, places = series(args.points)
    times, cpu, found = [], [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        found = detect(values)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    indexes = [p.index for p in found]
    hits = [place for place in places if any(abs(i - place) <= 1 for i in indexes)]
    others = [i for i in indexes if all(abs(i - place) > 1 for place in places)]
    median = statistics.median(times)
    print(f"{args.points:,} points, p < {MAX_PVALUE:g}, window {WINDOW}: median {median:.2f} s over {args.repeat} "
          f"(min {min(times):.2f}, max {max(times):.2f}), CPU {statistics.median(cpu):.2f} s; "
          f"target under {TARGET_S:g} s: {'met' if median < TARGET_S else 'MISSED'}")
    print(f"steps found within one point: {len(hits)} of {len(places)} (at {', '.join(map(str, places))}); "
          f"other change points: {len(others)}")


if __name__ == "__main__":
    main()
