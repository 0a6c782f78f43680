"""Shared by the benchmarks: run a kafkalab command, and read back where its time went."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kafkalab.results.store import Store

REPO = Path(__file__).resolve().parents[1]
KAFKALAB = [sys.executable, "-m", "kafkalab"]
PERF_STEPS = ("producers", "consumer test")


def timed_command(args: list[str], *, checkout: Path = REPO) -> float:
    """Wall time of one kafkalab command (it must succeed), with the code of `checkout`
    (another commit's tree, e.g. for a before/after comparison; `python -m` imports from the cwd)."""
    # Commits before the package layout had their command in kafkalab.cli.
    command = KAFKALAB if (checkout / "kafkalab" / "__main__.py").exists() else [*KAFKALAB[:-1], "kafkalab.cli"]
    started = time.perf_counter()
    proc = subprocess.run([*command, *args], cwd=checkout, env=os.environ.copy(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def perf_tool_seconds(where: str, params: dict) -> float:
    """Seconds spent inside the perf tools (producer fan-out and consumer test steps)."""
    with Store() as store:
        _, rows = store.query(
            "SELECT coalesce(sum(s.seconds), 0) FROM step_timings s JOIN runs r ON r.id = s.run_id "
            f"WHERE s.step IN ('producers', 'consumer test') AND {where}", params,
        )
    return float(rows[0][0])


def newest_id(table: str) -> int:
    with Store() as store:
        _, rows = store.query(f"SELECT coalesce(max(id), 0) FROM {table}")
    return int(rows[0][0])
