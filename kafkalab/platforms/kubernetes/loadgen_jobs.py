"""kafkalab's load generator (kafkalab/java/loadgen) as perf-test Jobs, and their outcomes.

The same Jobs as Kafka's perf tools (manifests.perf_job: client settings in a Secret, the
start barrier, results in the termination message), running LOADGEN_TOOL in the image with
kafkalab.kafka.loadgen's arguments. The generator prints the barrier line itself once its
client is built and reads "go" on stdin (the pod's script feeds it from the start gate).

A pod's outcome is parsed from its log exactly as a local instance's output
(kafkalab.load.generator): intervals, histograms and summary, the same error rules; the
termination message (the summary and error lines) stands in when the log cannot be read.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from kubernetes import client as k8s

from kafkalab.core.paths import write_atomically
from kafkalab.kafka import loadgen
from kafkalab.load import generator
from kafkalab.load.loads import (
    ConsumerLoad,
    LineSink,
    ProducerLoad,
    consumer_error,
    producer_error,
)
from kafkalab.model import ConsumerOutcome, ProducerOutcome
from kafkalab.platforms.kubernetes import manifests as m
from kafkalab.platforms.kubernetes.jobs import ReadLog, pod_run

# In the image (docker/, kubetestbed/images.py): runs dev.kafkalab.loadgen.Main "$@" on the
# Kafka jars and the generator's jar, with $KAFKA_HEAP_OPTS.
LOADGEN_TOOL = "/opt/kafkalab/bin/kafkalab-loadgen"
RESULT_LINES = f"^({loadgen.SUMMARY_PREFIX}|{loadgen.ERROR_PREFIX})"
CONFIG_FILE = Path(m.CLIENT_CONFIG_FILE)


def producer_job(layout: m.Layout, *, name: str, secret: str, load: ProducerLoad, instances: int, spread: str,
                 pod: m.PerfPod, client_prefix: str, index_retries: int = 0,
                 deadline_s: float | None = None) -> k8s.V1Job:
    """The producer fan-out with the generator: one Indexed Job, one pod per instance."""
    args = loadgen.producer_args(
        topic=load.topic, config_file=CONFIG_FILE, num_records=load.num_records, record_size=load.record_size,
        rate=None if load.throughput == -1 else load.throughput, reporting_interval_ms=load.reporting_interval_ms,
        keys=load.keys, max_bytes=load.max_bytes, barrier=True,
    )
    return m.perf_job(layout, name=name, secret=secret, tool=LOADGEN_TOOL, args=args, result_lines=RESULT_LINES,
                      pod=pod, instances=instances, indexed=True, spread=spread, client_prefix=client_prefix,
                      index_retries=index_retries, deadline_s=deadline_s, tool_reads_go=True)


def knows_its_count(load: ConsumerLoad) -> bool:
    """One reader, or each in its own group, reads everything: it knows when it is done.
    Instances sharing a group split the records and stop when nothing more comes."""
    return load.instances == 1 or load.groups == "per-instance"


def consumer_job(layout: m.Layout, *, name: str, secret: str, load: ConsumerLoad, pod: m.PerfPod,
                 client_prefix: str, deadline_s: float | None = None, join_first: bool = False) -> k8s.V1Job:
    """The consumers: an Indexed Job of `load.instances` pods; `join_first` for consumers alongside
    the producers (they join their group before the barrier, as locally). With
    `groups: per-instance` each pod's group is <group>-<index>: the kubelet expands $(VAR) in a
    command from the container's environment, where the Job controller puts JOB_COMPLETION_INDEX."""
    group = load.group if load.groups == "shared" else f"{load.group}-$(JOB_COMPLETION_INDEX)"
    args = loadgen.consumer_args(
        topic=load.topic, config_file=CONFIG_FILE, group=group,
        num_records=load.num_records if knows_its_count(load) else None, idle_timeout_ms=load.timeout_ms,
        reporting_interval_ms=load.reporting_interval_ms, share=load.share_group,
        acknowledge_mode=load.acknowledge_mode if load.share_group else None, barrier=True, join_first=join_first,
    )
    return m.perf_job(layout, name=name, secret=secret, tool=LOADGEN_TOOL, args=args, result_lines=RESULT_LINES,
                      pod=pod, instances=load.instances, indexed=True, client_prefix=client_prefix,
                      deadline_s=deadline_s, tool_reads_go=True)


def readable(on_line: LineSink | None) -> LineSink | None:
    """The task log gets a readable line per interval, not the histograms' base64 (as locally)."""
    if on_line is None:
        return None

    def forward(source: str, line: str) -> None:
        shown = loadgen.log_line(line)
        if shown:
            on_line(source, shown)

    return forward


def _parsed(raw: str, message: str) -> loadgen.Output:
    """The log's intervals; the summary from the log, else from the termination message."""
    parsed = loadgen.parse_output(raw)
    if parsed.summary is None and message:
        return loadgen.Output(parsed.intervals, loadgen.parse_output(message).summary, parsed.histogram_log)
    return parsed


def keep_histogram_log(work_dir: Path, name: str, output: loadgen.Output) -> None:
    if output.histogram_log:
        with contextlib.suppress(OSError):  # a copy for HdrHistogram's tools; the database has the data
            work_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(work_dir / f"{name}.hlog", output.histogram_log)


def producer_outcome(index: int, pod: k8s.V1Pod | None, *, client_id: str, load: ProducerLoad, read_log: ReadLog,
                     work_dir: Path) -> ProducerOutcome:
    run = pod_run(pod, read_log, none_ran="no pod ran for this instance")
    parsed = _parsed(run.raw, run.message)
    keep_histogram_log(work_dir, f"producer-{index}", parsed)
    intervals = generator.load_intervals(parsed)
    output = generator.producer_output(intervals, parsed.summary)
    stopped_by = parsed.summary.stopped_by if parsed.summary else None
    error = run.unfinished or producer_error(run.exit_code, output, load, run.raw, stopped_by=stopped_by)
    return ProducerOutcome(
        instance=index, client_id=client_id, status="failed" if error else "ok", records_requested=load.num_records,
        exit_code=run.exit_code, output=output, raw_output=run.raw, started_at=run.started_at,
        finished_at=run.finished_at, error=error, tool="kafkalab", intervals=intervals, stopped_by=stopped_by,
    )


def consumer_outcome(index: int, pod: k8s.V1Pod | None, *, load: ConsumerLoad, read_log: ReadLog,
                     work_dir: Path, counted: bool | None = None) -> ConsumerOutcome:
    """`counted` False: the instance had no count of its own to reach (alongside the producers,
    or sharing a group); kafkalab.experiment.steps.check_consumers judges it."""
    run = pod_run(pod, read_log, none_ran="no pod ran for this consumer instance")
    parsed = _parsed(run.raw, run.message)
    keep_histogram_log(work_dir, f"consumer-{index}", parsed)
    summary = generator.consumer_summary(parsed.summary)
    counted = knows_its_count(load) if counted is None else counted
    error = run.unfinished or consumer_error(run.exit_code, summary, load, run.raw, counted=counted)
    group = load.group if load.groups == "shared" else f"{load.group}-{index}"
    return ConsumerOutcome(
        status="failed" if error else "ok", messages_requested=load.num_records, exit_code=run.exit_code,
        summary=summary, raw_output=run.raw, started_at=run.started_at,
        finished_at=run.finished_at, error=error, instance=index, tool="kafkalab", group=group,
        intervals=generator.load_intervals(parsed),
    )
