"""What collecting a run's metrics costs: throughput with collection on / off, and storing the series.

    .venv/bin/python bench/metrics_overhead.py [--pairs 4] [--records 600000] [--interval-ms 1000]

1. Throughput. One 1-broker cluster; --pairs pairs of runs, each pair one run with metrics
   collection on (broker JMX sampler JVM, host sampler thread, client metrics) and one with
   it off (spec `metrics: {enabled: false}`), in alternating order (on/off, off/on, ...).
   Each run is what the engine runs around the producers (steps.run_metrics around
   steps.producer_fanout): one generator instance, unthrottled, --records records of
   --record-size bytes; its throughput is the run's window figure. Prints every run, the
   ratio of each pair (its two runs are next to each other in time, so they share the
   machine's state) and their median: target >= 0.97; and what the sampler JVM itself used
   (its own series, process:metrics-jmx), a figure the machine's noise does not swamp.
   Before the pairs, what sampling costs on the idle cluster (--cost-seconds windows, on / off
   alternated): the broker's CPU (serving the JMX reads), the sampler JVM's and this
   process's (the host sampler's thread): figures the machine's noise does not swamp.
2. Storing. The series of a 25-producer run (3 brokers, --store-minutes at 5 s intervals:
   every broker metric, the host of 2 cores with its disks, interfaces and 29 processes, the
   client metrics of 25 producers) saved with Store.save_run, against the same run without
   them, median of 5: target < 1 s. On DATABASE_URL's server, else an embedded one of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import bench_database
from kafkalab.experiment import steps
from kafkalab.kafka import admin, distribution
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.metrics import names as n
from kafkalab.metrics.broker_jmx import BROKER_METRICS
from kafkalab.metrics.client import PRODUCER_METRICS
from kafkalab.metrics.sampling import sampling
from kafkalab.model import MetricSample, RunMetrics
from kafkalab.platforms.local import LocalCluster
from kafkalab.results.figures import run_figures
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec


def spec(name: str, args: argparse.Namespace, *, enabled: bool):
    return parse_spec({
        "name": name, "cluster": {"brokers": 1}, "topic": {"partitions": 6, "replication_factor": 1},
        "producer": {"tool": "kafkalab", "instances": 1, "num_records": args.records, "record_size": args.record_size,
                     "throughput": -1, "reporting_interval_ms": args.interval_ms, "heap_mb": 512,
                     "props": {"acks": "1", "batch.size": "65536", "linger.ms": "5"}},
        "consumer": {"enabled": False}, "metrics": {"enabled": enabled},
    })


def one_run(cluster: LocalCluster, args: argparse.Namespace, name: str, *,
            enabled: bool) -> tuple[float, int, float | None]:
    """(records/s over the run's window, samples collected, the sampler JVM's mean CPU % of one core)."""
    run_spec = spec(name, args, enabled=enabled)
    admin.create_topic(cluster.bootstrap_servers, name, partitions=6, replication_factor=1)
    record = steps.new_run_record(run_spec, cluster, 1, name)
    with steps.run_metrics(run_spec, cluster, record, on_progress=lambda line: None):
        record.producers, record.consumers = steps.producer_fanout(run_spec, cluster, name)
    admin.delete_topics(cluster.bootstrap_servers, [name])  # keeps the broker's disk and page cache small
    if any(p.status != "ok" for p in record.producers):
        raise SystemExit(f"{name}: {record.producers[0].error}")
    figures = run_figures(record.producers, record.consumers, target_per_instance=None, warmup_s=None)
    samples = len(record.metrics.broker) + len(record.metrics.host) + len(record.metrics.client)
    sampler = [s.value for s in record.metrics.host if s.source == "process:metrics-jmx" and s.value is not None]
    return figures.achieved_records_per_sec, samples, statistics.mean(sampler) if sampler else None


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def idle_cost(cluster: LocalCluster, args: argparse.Namespace, root: Path) -> None:
    """CPU of the idle broker with and without sampling (alternated), of the sampler JVM and of this
    process (the host sampler's thread, parsing the sampler's lines): % of one core."""
    broker, me = psutil.Process(cluster.brokers[0].process.pid), psutil.Process()
    seconds = args.cost_seconds
    print(f"cost on the idle cluster, {seconds:g} s windows, interval {args.interval_ms} ms:")
    for on in (True, False, False, True):
        with contextlib.ExitStack() as stack:
            jvm = None
            if on:
                stack.enter_context(sampling(cluster, interval_s=args.interval_ms / 1000, work_dir=root / "cost",
                                             on_progress=lambda line: None))
                time.sleep(3)  # its start-up left out
                jvm = next(p for p in me.children(recursive=True) if "jmx" in p.cmdline())
            before = (_cpu_s(broker), _cpu_s(jvm) if jvm else 0.0, _cpu_s(me), time.monotonic())
            time.sleep(seconds)
            after = (_cpu_s(broker), _cpu_s(jvm) if jvm else 0.0, _cpu_s(me), time.monotonic())
        elapsed = after[3] - before[3]
        shares = [(a - b) / elapsed * 100 for a, b in zip(after[:3], before[:3], strict=True)]
        print(f"  sampling {'on ' if on else 'off'}: broker {shares[0]:.2f}%, sampler JVM {shares[1]:.2f}%, "
              f"this process {shares[2]:.2f}% of a core")


def throughput(args: argparse.Namespace) -> None:
    dist = distribution.resolve()
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-metrics-") as root:
        cluster = LocalCluster(dist, Path(root) / "cluster", BrokerSettings(), heap_mb=512, controller_heap_mb=192)
        try:
            cluster.deploy(1)
            cluster.wait_ready(timeout_s=180)
            if args.cost_seconds > 0:
                idle_cost(cluster, args, Path(root))
            print(f"{args.pairs} pairs of runs, {args.records:,} records x {args.record_size} B unthrottled, 1 broker, "
                  f"interval {args.interval_ms} ms; load average {os.getloadavg()[0]:.1f} at the start")
            ratios, on_rates, off_rates, sampler_cpu = [], [], [], []
            for pair in range(args.pairs):
                order = (True, False) if pair % 2 == 0 else (False, True)
                rates = {}
                for enabled in order:
                    rate, samples, cpu = one_run(cluster, args, f"bench-metrics-{pair}-{'on' if enabled else 'off'}",
                                                 enabled=enabled)
                    rates[enabled] = rate
                    if cpu is not None:
                        sampler_cpu.append(cpu)
                    cost = f", sampler JVM {cpu:.1f}% of a core" if cpu is not None else ""
                    print(f"pair {pair + 1} collection {'on ' if enabled else 'off'} {rate:>10,.0f} records/s "
                          f"({samples} samples{cost})")
                on_rates.append(rates[True])
                off_rates.append(rates[False])
                ratios.append(rates[True] / rates[False])
                print(f"pair {pair + 1} on / off {ratios[-1]:.3f}")
        finally:
            cluster.stop(grace_s=0)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if not ratios:  # --pairs 0: the idle cost only
        return
    print(f"\nmedian records/s: on {statistics.median(on_rates):,.0f}, off {statistics.median(off_rates):,.0f}")
    print(f"on / off, median of the pairs: {statistics.median(ratios):.3f} "
          f"(pairs {min(ratios):.3f}-{max(ratios):.3f}; target >= 0.97)")
    if sampler_cpu:
        print(f"the JMX sampler JVM used {statistics.median(sampler_cpu):.1f}% of one core (median of the runs' "
              f"means; {os.cpu_count()} cores)")


def twenty_five_producer_metrics(minutes: float, interval_s: float = 5.0) -> RunMetrics:
    """The series a 25-producer run on 3 brokers would store, `minutes` long."""
    start = datetime.now(UTC)
    ticks = int(minutes * 60 / interval_s)
    metrics = RunMetrics(interval_s=interval_s, started_at=start)
    host_sources = {
        **{source: (n.CPU_USER, n.CPU_SYSTEM, n.CPU_IOWAIT, n.CPU_STEAL, n.CPU_BUSY) for source in ("host", "cpu0", "cpu1")},
        **{f"disk:{d}": (n.DISK_READ, n.DISK_WRITE, n.DISK_BUSY) for d in ("sda", "sda1", "sdb")},
        **{f"net:{i}": (n.NET_RX, n.NET_TX) for i in ("lo", "eth0")},
        **{f"process:{p}": (n.PROCESS_CPU,) for p in (
            *(f"broker-{b}" for b in range(3)), "controller-1000", "metrics-jmx",
            *(f"loadgen-producer-{i}" for i in range(25)))},
    }
    for tick in range(1, ticks + 1):
        at = start + timedelta(seconds=tick * interval_s)
        metrics.broker += [MetricSample(f"broker-{b}", m, at, 1.0 * tick) for b in range(3) for m in BROKER_METRICS]
        metrics.host += [MetricSample(s, m, at, 0.5 * tick) for s, names in host_sources.items() for m in names]
        metrics.host += [MetricSample("host", m, at, 1e9) for m in (n.LOAD_1M, n.MEMORY_USED, n.MEMORY_AVAILABLE)]
        metrics.client += [MetricSample(f"producer-{i}", m, at, None if tick == 1 else 2.0)
                           for i in range(25) for m in PRODUCER_METRICS]
    return metrics


def storing(args: argparse.Namespace) -> None:
    base = spec("bench-metrics-store", argparse.Namespace(records=1000, record_size=250, interval_ms=5000),
                enabled=True)
    metrics = twenty_five_producer_metrics(args.store_minutes)
    rows = len(metrics.broker) + len(metrics.host) + len(metrics.client)
    with bench_database("kafkalab_bench_metrics") as url, Store(url) as store:
        store.migrate()
        timings: dict[bool, list[float]] = {True: [], False: []}
        for attempt in range(5):
            for with_series in (True, False):
                record = _record(base, attempt, metrics if with_series else None)
                started = time.perf_counter()
                store.save_run(record)
                timings[with_series].append(time.perf_counter() - started)
    with_s, without_s = statistics.median(timings[True]), statistics.median(timings[False])
    print(f"\nstoring a 25-producer run's series ({rows:,} samples, {args.store_minutes:g} min at 5 s): "
          f"save_run {with_s:.3f} s with them, {without_s:.3f} s without, so {with_s - without_s:.3f} s for the "
          f"series (median of 5; target < 1 s)")


def _record(base_spec, attempt: int, metrics: RunMetrics | None):
    from kafkalab.model import RunRecord
    from kafkalab.spec import spec_to_dict

    return RunRecord(
        experiment=base_spec.name, spec=spec_to_dict(base_spec), repetition=attempt + 1, platform="local",
        kafka_version="4.4.0", brokers=3, topic="t", partitions=6, replication_factor=3, record_size=250,
        num_records=1000, throughput=-1, producer_instances=25, producer_props={}, consumer_props={},
        broker_config={}, topic_config={}, started_at=datetime.now(UTC), metrics=metrics,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--record-size", type=int, default=250)
    parser.add_argument("--interval-ms", type=int, default=1000, help="sampling and reporting interval (runs: 5000)")
    parser.add_argument("--store-minutes", type=float, default=2.0, help="bench/fanout_25.py's run takes 74 s")
    parser.add_argument("--cost-seconds", type=float, default=30.0, help="each window of the idle-cost part; 0: none")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args)
    storing(args)


if __name__ == "__main__":
    main()
