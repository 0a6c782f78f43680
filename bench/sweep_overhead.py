"""Sweep overhead: wall time of `kafkalab sweep` minus the perf tools' time, on a 12-cell sweep.

    .venv/bin/python bench/sweep_overhead.py

The sweep (bench/sweep-12.yaml) scales one live cluster 2 -> 3 brokers over 12 cells, so
bring-up is paid once; target overhead <= 10%.
"""

from __future__ import annotations

from pathlib import Path

from _timing import newest_id, perf_tool_seconds, timed_command

SPEC = Path(__file__).with_name("sweep-12.yaml")


def main() -> None:
    before = newest_id("sweeps")
    wall = timed_command(["sweep", str(SPEC)])
    sweep_id = newest_id("sweeps")
    assert sweep_id > before
    perf = perf_tool_seconds("r.sweep_id = :id", {"id": sweep_id})
    overhead = wall - perf
    print(f"12-cell sweep {sweep_id}: wall {wall:.1f} s, perf tools {perf:.1f} s, "
          f"overhead {overhead:.1f} s = {overhead / wall:.0%}")


if __name__ == "__main__":
    main()
