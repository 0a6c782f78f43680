"""Cluster bring-up: time from `deploy` to every broker registered, for 1 and 3 brokers.

    .venv/bin/python bench/cluster_bringup.py [--rounds 3]

All nodes are formatted and started in parallel, so 3 brokers should start about as fast
as 1 (target: ratio 3/1 <= 1.3). Prints one line per round and the medians.
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


def bring_up(dist: distribution.KafkaDistribution, brokers: int, root: Path) -> tuple[float, float]:
    cluster = LocalCluster(dist, Path(tempfile.mkdtemp(dir=root)), BrokerSettings(), heap_mb=256,
                           controller_heap_mb=192)
    started = time.perf_counter()
    try:
        cluster.deploy(brokers)
        cluster.wait_ready(timeout_s=300)
        ready = time.perf_counter() - started
    finally:
        stop_started = time.perf_counter()
        cluster.stop()
    return ready, time.perf_counter() - stop_started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dist = distribution.resolve()
    results: dict[int, list[float]] = {1: [], 3: []}
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-") as root:
        for round_ in range(1, args.rounds + 1):
            for brokers in (1, 3):
                ready, stop = bring_up(dist, brokers, Path(root))
                results[brokers].append(ready)
                print(f"round {round_}: {brokers} broker(s) ready in {ready:.1f} s (stopped in {stop:.1f} s)")
    one, three = statistics.median(results[1]), statistics.median(results[3])
    print(f"median time to ready: 1 broker {one:.1f} s, 3 brokers {three:.1f} s, ratio 3/1 = {three / one:.2f}")


if __name__ == "__main__":
    main()
