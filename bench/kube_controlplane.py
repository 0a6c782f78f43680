"""Kubernetes test bed come-up: time from start to a usable control plane with 3 Ready fake nodes.

    .venv/bin/python bench/kube_controlplane.py [--rounds 3] [--nodes 3]

Uses the binaries `make kube-testbed` built into the cache (no build is timed). "Usable"
is what ControlPlane.start() waits for: etcd healthy, apiserver /readyz, controller-manager
and scheduler /healthz, kwok up, the default service account made, every node Ready.
Prints one line per round and the median; writes bench/results/kube_controlplane.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # kubetestbed is a repo folder, not an installed package

from kubetestbed import layout  # noqa: E402
from kubetestbed.controlplane import ControlPlane  # noqa: E402


def come_up(nodes: int, root: Path) -> tuple[float, float, dict[str, float]]:
    plane = ControlPlane(nodes=nodes, workdir=Path(tempfile.mkdtemp(dir=root)))
    started = time.perf_counter()
    try:
        plane.start()
        ready = time.perf_counter() - started
    finally:
        stop_started = time.perf_counter()
        plane.stop()
    return ready, time.perf_counter() - stop_started, plane.timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    times = []
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-kube-") as root:
        for round_ in range(1, args.rounds + 1):
            ready, stop, steps = come_up(args.nodes, Path(root))
            times.append(ready)
            print(f"round {round_}: control plane + {args.nodes} nodes ready in {ready:.1f} s (stopped in {stop:.1f} s)")
            print("  " + ", ".join(f"{step} at {at:.1f} s" for step, at in steps.items()))
    median = statistics.median(times)
    print(f"median come-up time (Kubernetes {layout.K8S_VERSION}, {args.nodes} fake nodes): {median:.1f} s")
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "kube_controlplane.json").write_text(json.dumps(
        {"version": layout.K8S_VERSION, "nodes": args.nodes, "rounds_s": times, "median_s": median}, indent=2))


if __name__ == "__main__":
    main()
