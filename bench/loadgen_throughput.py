"""kafkalab's load generator against ProducerPerformance, side by side on one 1-broker cluster.

    .venv/bin/python bench/loadgen_throughput.py [--rounds 5] [--records 300000] [--before a6a081f]
                                                 [--prop batch.size=65536 ...]

Per round, in a rotating order, each tool produces --records records of --record-size bytes
unthrottled to the same topic with the same client properties (the quickstart's producer
settings), started the way a run starts it: ProducerPerformance behind StartBarrier as
kafkalab.load.runner.run_producers does, the generator as kafkalab.load.generator does
(its built-in barrier). Measured for each:

- throughput: records/s from the tool's own summary (the generator's as a run computes it,
  kafkalab.load.generator.producer_output);
- CPU seconds per million records: user + system time of the JVM (children included) from
  "go" to its exit: psutil's cpu_times at "go" subtracted from the rusage that wait4 gives
  at exit (psutil cannot read a process that has exited), so JVM start-up is left out.

Variants: `kafka-perf`; `kafkalab` (this tree's generator); `kafkalab --no-histograms`
(latency recording off: what recording costs); with --before COMMIT also `kafkalab @COMMIT`,
the generator built from that commit's sources (e.g. a6a081f, whose send-time header was
`kafkalab.sent.us`, 6 bytes longer per record than `kl.sent.us`). Prints every run, then
medians, spread (min-max) and the ratios against ProducerPerformance.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from kafkalab.kafka import admin, distribution, loadgen, perftools
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.properties import write_properties
from kafkalab.load import barrier, runner
from kafkalab.platforms.local import LocalCluster

REPO = Path(__file__).resolve().parents[1]
# The quickstart's (the guide's) producer settings.
PRODUCER_PROPS = {"acks": "1", "buffer.memory": "67108864", "compression.type": "none", "batch.size": "8196"}
HEAP_MB = 512
RUN_TIMEOUT_S = 300  # safety net for one tool run


Result = tuple[float, int] | None  # (records/s, records acknowledged) from a tool's summary, None without one


@dataclass
class Variant:
    name: str
    command: Callable[[str, Path], list[str]]  # (topic, config file) -> command line
    parse: Callable[[str], Result]  # stdout -> its result
    throughput: list[float] = field(default_factory=list)
    cpu_per_million: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Measured:
    records_per_sec: float
    acked: int
    cpu_s: float


def run_once(command: list[str], parse: Callable[[str], Result]) -> Measured:
    """One tool run behind its barrier: CPU from "go" to exit, the tool's own throughput."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line == barrier.READY_LINE:
                ready.set()
            else:
                lines.append(line)
        ready.set()  # exited before the barrier: the result below says so

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    status = None
    try:
        if not ready.wait(RUN_TIMEOUT_S):
            raise SystemExit(f"no barrier line within {RUN_TIMEOUT_S}s: {command[:3]}")
        at_go = psutil.Process(proc.pid).cpu_times()
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (reaped := os.wait4(proc.pid, os.WNOHANG))[0] == 0:  # its rusage, which Popen.wait would drop
            if time.monotonic() > deadline:
                raise SystemExit(f"still running after {RUN_TIMEOUT_S}s: {command[:3]}")
            time.sleep(0.02)
        status = reaped
    finally:
        if status is None:  # not reaped by wait4: stopped here
            proc.kill()
            proc.wait()
    _, wait_status, usage = status
    proc.returncode = os.waitstatus_to_exitcode(wait_status)  # Popen never saw it exit
    reader.join(timeout=30)
    cpu_s = (usage.ru_utime + usage.ru_stime) - (at_go.user + at_go.system + at_go.children_user + at_go.children_system)
    result = parse("\n".join(lines))
    if proc.returncode != 0 or result is None:
        raise SystemExit(f"{command[:3]} exited {proc.returncode} without a summary:\n" + "\n".join(lines[-20:]))
    return Measured(result[0], result[1], cpu_s)


def perf_result(text: str) -> Result:
    summary = perftools.parse_producer_output(text).summary
    return (summary.records_per_sec, summary.records) if summary else None


def generator_result(text: str) -> Result:
    parsed = loadgen.parse_output(text)
    if parsed.summary is None or parsed.summary.start_ms is None or parsed.summary.end_ms is None:
        return None
    # As a run computes it (kafkalab.load.generator.producer_output, which also needs histograms).
    seconds = max(parsed.summary.end_ms - parsed.summary.start_ms, 1) / 1000
    return parsed.summary.acked / seconds, parsed.summary.acked


def perf_variant(dist: distribution.KafkaDistribution, records: int, record_size: int) -> Variant:
    barrier_dir = dist.start_barrier()
    if barrier_dir is None:
        raise SystemExit("StartBarrier needs a JDK's javac")

    def command(topic: str, config: Path) -> list[str]:
        args = perftools.producer_args(topic=topic, num_records=records, record_size=record_size, throughput=-1,
                                       config_file=config, reporting_interval_ms=5000)
        return dist.java_command(runner.BARRIER_MAIN, [perftools.PRODUCER_MAIN, *args], heap_mb=HEAP_MB,
                                 extra_classpath=[barrier_dir], class_archive="tools")

    return Variant("kafka-perf", command, perf_result)


def generator_variant(name: str, dist: distribution.KafkaDistribution, jar: Path, records: int, record_size: int, *,
                      histograms: bool = True) -> Variant:
    def command(topic: str, config: Path) -> list[str]:
        args = loadgen.producer_args(topic=topic, config_file=config, num_records=records, record_size=record_size,
                                     rate=None, reporting_interval_ms=5000, barrier=True, histograms=histograms)
        return dist.java_command(loadgen.MAIN, args, heap_mb=HEAP_MB, extra_classpath=[jar])

    return Variant(name, command, generator_result)


def jar_at(commit: str, dist: distribution.KafkaDistribution, work: Path) -> Path:
    """The generator built from `commit`'s sources (git archive: the work tree is not touched)."""
    sources = work / f"loadgen-{commit}"
    sources.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "kafkalab/java/loadgen"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(sources)], input=archive, check=True)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SystemExit("--before needs Maven")
    pom = sources / "kafkalab" / "java" / "loadgen" / "pom.xml"
    loadgen._maven_package(mvn, pom, dist.version)
    return pom.parent / "target" / loadgen.JAR_NAME


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--record-size", type=int, default=250)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--before", metavar="COMMIT", help="also the generator of this commit (header before/after)")
    parser.add_argument("--prop", action="append", default=[], metavar="KEY=VALUE",
                        help="a producer property instead of the quickstart's (e.g. batch.size=65536)")
    args = parser.parse_args()
    args.props = {**PRODUCER_PROPS, **dict(item.split("=", 1) for item in args.prop)}
    dist = distribution.resolve()
    with tempfile.TemporaryDirectory(prefix="kafkalab-bench-loadgen-") as root_name:
        root = Path(root_name)
        variants = [perf_variant(dist, args.records, args.record_size),
                    generator_variant("kafkalab", dist, loadgen.jar(dist), args.records, args.record_size),
                    generator_variant("kafkalab --no-histograms", dist, loadgen.jar(dist), args.records,
                                      args.record_size, histograms=False)]
        if args.before:
            variants.append(generator_variant(f"kafkalab @{args.before}", dist, jar_at(args.before, dist, root),
                                              args.records, args.record_size))
        cluster = LocalCluster(dist, root / "cluster", BrokerSettings(), heap_mb=512, controller_heap_mb=192)
        try:
            cluster.deploy(1)
            cluster.wait_ready(timeout_s=180)
            measure(cluster, variants, args, root)
        finally:
            cluster.stop(grace_s=0)
    report(variants, args)


def measure(cluster: LocalCluster, variants: list[Variant], args: argparse.Namespace, root: Path) -> None:
    config = write_properties(root / "producer.properties",
                              {**args.props, "bootstrap.servers": cluster.bootstrap_servers,
                               "client.id": "bench-loadgen"})
    load = os.getloadavg()[0]
    print(f"{args.rounds} rounds of {args.records:,} records x {args.record_size} B, unthrottled, 1 broker, "
          f"{args.partitions} partitions, {args.props}; load average {load:.1f} at the start")
    for round_ in range(args.rounds):
        order = variants[round_ % len(variants):] + variants[:round_ % len(variants)]
        for variant in order:
            topic = f"bench-{round_}-{len(variant.throughput)}-{variants.index(variant)}"
            admin.create_topic(cluster.bootstrap_servers, topic, partitions=args.partitions, replication_factor=1)
            measured = run_once(variant.command(topic, config), variant.parse)
            admin.delete_topics(cluster.bootstrap_servers, [topic])  # keeps the broker's disk and cache small
            if measured.acked != args.records:
                raise SystemExit(f"{variant.name}: {measured.acked} of {args.records} records acknowledged")
            variant.throughput.append(measured.records_per_sec)
            variant.cpu_per_million.append(measured.cpu_s / measured.acked * 1e6)
            print(f"round {round_ + 1} {variant.name:<28} {measured.records_per_sec:>10,.0f} records/s "
                  f"{measured.cpu_s:>6.2f} CPU s ({variant.cpu_per_million[-1]:.2f} per million records)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def report(variants: list[Variant], args: argparse.Namespace) -> None:
    perf = variants[0]
    perf_rate, perf_cpu = statistics.median(perf.throughput), statistics.median(perf.cpu_per_million)
    print(f"\n{'tool':<28} {'records/s median':>16} {'spread':>17} {'/ kafka-perf':>12} "
          f"{'CPU s per M':>12} {'spread':>11} {'/ kafka-perf':>12}")
    for v in variants:
        rate, cpu = statistics.median(v.throughput), statistics.median(v.cpu_per_million)
        print(f"{v.name:<28} {rate:>16,.0f} {spread(v.throughput):>17} {rate / perf_rate:>12.3f} "
              f"{cpu:>12.2f} {min(v.cpu_per_million):>5.2f}-{max(v.cpu_per_million):<5.2f} {cpu / perf_cpu:>12.3f}")
    with_h = statistics.median(variants[1].throughput)
    without = statistics.median(variants[2].throughput)
    print(f"\nthroughput generator / ProducerPerformance: {with_h / perf_rate:.3f} (target >= 1.0)")
    print(f"CPU per record generator / ProducerPerformance: "
          f"{statistics.median(variants[1].cpu_per_million) / perf_cpu:.3f} (target <= 1.0)")
    print(f"histograms on / off: {with_h / without:.3f} (target >= 0.97)")
    if args.before:
        print(f"this tree / @{args.before}: {with_h / statistics.median(variants[3].throughput):.3f}")


if __name__ == "__main__":
    main()
