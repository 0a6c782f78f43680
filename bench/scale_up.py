"""Scale-up on a live cluster vs a fresh deploy: 3 -> 6 brokers against 6 from scratch.

    .venv/bin/python bench/scale_up.py [--rounds 2]

Scale-up starts only the new brokers (the controller and the first three keep running);
target ratio scale-up / fresh <= 0.6.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kafkalab.kafka import distribution
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.platforms.local import LocalCluster


def cluster(dist, root: Path) -> LocalCluster:
    return LocalCluster(dist, Path(tempfile.mkdtemp(dir=root)), BrokerSettings(), heap_mb=256, controller_heap_mb=192)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    dist = distribution.resolve()
    scale, fresh = [], []
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-") as tmp:
        root = Path(tmp)
        for round_ in range(1, args.rounds + 1):
            live = cluster(dist, root)
            try:
                live.deploy(3)
                live.wait_ready(timeout_s=300)
                started = time.perf_counter()
                added = live.add_brokers(3)
                live.wait_ready(added, timeout_s=300)
                scale.append(time.perf_counter() - started)
            finally:
                live.stop()
            new = cluster(dist, root)
            try:
                started = time.perf_counter()
                new.deploy(6)
                new.wait_ready(timeout_s=300)
                fresh.append(time.perf_counter() - started)
            finally:
                new.stop()
            print(f"round {round_}: scale-up 3 -> 6 in {scale[-1]:.1f} s, fresh 6 in {fresh[-1]:.1f} s")
    s, f = statistics.median(scale), statistics.median(fresh)
    print(f"median: scale-up {s:.1f} s, fresh deploy {f:.1f} s, ratio {s / f:.2f}")


if __name__ == "__main__":
    main()
