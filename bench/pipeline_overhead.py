"""Pipeline overhead of `kafkalab run`: its wall time minus the time inside the perf tools.

    .venv/bin/python bench/pipeline_overhead.py [SPEC]   (default experiments/quickstart.yaml)

Overhead is everything that is not the load itself: Python and Prefect start-up, the
Prefect API, the cluster bring-up, topic and smoke test, storing results, teardown. The
spec runs twice: cold (the lasting local Prefect API of CLI runs stopped first, so the run
starts it) and warm (the second run reuses it, as every later command does). With
`kafkalab server up` running, both runs use that server instead. Target <= 25% warm for
the quickstart case on a 2-core machine.
"""

from __future__ import annotations

import sys

from _timing import newest_id, perf_tool_seconds, timed_command

from kafkalab.app import prefect_api, server


def overhead(spec: str, label: str) -> float:
    before = newest_id("runs")
    wall = timed_command(["run", spec])
    perf = perf_tool_seconds("r.id > :before", {"before": before})
    spent = wall - perf
    print(f"{spec} {label}: wall {wall:.1f} s, perf tools {perf:.1f} s, overhead {spent:.1f} s = {spent / wall:.0%}",
          flush=True)
    return spent / wall


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else "experiments/quickstart.yaml"
    if server.running_state() is not None:
        print("(`kafkalab server up` runs: both runs use its API)")
    prefect_api.stop(say=lambda _line: None)
    overhead(spec, "cold (starts the local Prefect API)")
    overhead(spec, "warm (reuses it)")


if __name__ == "__main__":
    main()
