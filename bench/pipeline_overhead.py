"""Pipeline overhead of `kafkalab run`: its wall time minus the time inside the perf tools.

    .venv/bin/python bench/pipeline_overhead.py [SPEC] [--before REV [--rounds N]]
    (default experiments/quickstart.yaml)

With `--before REV`, the same spec also runs with the code of commit REV (a temporary git
worktree), alternating with this tree's, N rounds: before and after side by side in one run
on the same machine and load.

Overhead is everything that is not the load itself: Python and Prefect start-up, the
Prefect API, the cluster bring-up, topic and smoke test, storing results, teardown. The
spec runs twice: cold (the lasting local Prefect API of CLI runs stopped first, so the run
starts it) and warm (the second run reuses it, as every later command does). With
`kafkalab server up` running, both runs use that server instead. Target <= 25% warm for
the quickstart case on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from _timing import REPO, newest_id, perf_tool_seconds, timed_command

from kafkalab.app import prefect_api, server


def overhead(spec: str, label: str, checkout: Path = REPO) -> float:
    before = newest_id("runs")
    wall = timed_command(["run", spec], checkout=checkout)
    perf = perf_tool_seconds("r.id > :before", {"before": before})
    spent = wall - perf
    print(f"{spec} {label}: wall {wall:.1f} s, perf tools {perf:.1f} s, overhead {spent:.1f} s = {spent / wall:.0%}",
          flush=True)
    return spent / wall


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A checkout of `rev` beside this one, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kafkalab-before-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(path), rev], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="experiments/quickstart.yaml")
    parser.add_argument("--before", metavar="REV", help="also run the spec with the code of this commit")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if server.running_state() is not None:
        print("(`kafkalab server up` runs: both runs use its API)")
    with contextlib.ExitStack() as stack:
        old = stack.enter_context(worktree(args.before)) if args.before else None
        for _ in range(args.rounds):
            if old is not None:
                overhead(args.spec, f"before ({args.before})", old)
            prefect_api.stop(say=lambda _line: None)
            overhead(args.spec, "cold (starts the local Prefect API)")
            overhead(args.spec, "warm (reuses it)")


if __name__ == "__main__":
    main()
