"""Pipeline overhead of `kafkalab run`: its wall time minus the time inside the perf tools.

    .venv/bin/python bench/pipeline_overhead.py [SPEC]   (default experiments/quickstart.yaml)

Overhead is everything that is not the load itself: Python and Prefect start-up (a
temporary Prefect API server when no server is configured), the cluster bring-up,
topic and smoke test, storing results, teardown. Target <= 10% for the quickstart case.
"""

from __future__ import annotations

import sys

from _timing import newest_id, perf_tool_seconds, timed_command


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else "experiments/quickstart.yaml"
    before = newest_id("runs")
    wall = timed_command(["run", spec])
    perf = perf_tool_seconds("r.id > :before", {"before": before})
    overhead = wall - perf
    print(f"{spec}: wall {wall:.1f} s, perf tools {perf:.1f} s, overhead {overhead:.1f} s = {overhead / wall:.0%}")


if __name__ == "__main__":
    main()
