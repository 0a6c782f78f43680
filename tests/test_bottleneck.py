"""The bottleneck rules (kafkalab.metrics.bottleneck) on recorded series (tests/data/metrics/*.json).

The files named after a verdict are constructed from the shapes real runs show (stated in
each file's `about`); the `recorded_*` files were recorded from real runs on this project's
2-core test machine with `kafkalab.metrics.recorded.record`.
"""

from __future__ import annotations

import dataclasses
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kafkalab.metrics import bottleneck, recorded
from kafkalab.metrics.names import VERDICTS
from kafkalab.model import MetricSample, RunMetrics, RunRecord

SERIES = Path(__file__).parent / "data" / "metrics"


def judged(name: str):
    recording = recorded.read(SERIES / f"{name}.json")
    return bottleneck.judge(recording.figures, recording.metrics, cores=recording.cores), recording


@pytest.mark.parametrize("name, expected", [
    ("machine_bound", "machine-bound"),
    ("broker_cpu_bound", "broker-cpu-bound"),
    ("network_threads_bound", "network-threads-bound"),
    ("disk_bound", "disk-bound"),
    ("replication_bound", "replication-bound"),
    ("generator_bound", "generator-bound"),
    ("none", "none"),
    ("none_little_headroom", "none"),
    ("spike_only", "unknown"),
    ("unknown_no_jmx", "unknown"),
    ("unknown_nothing", "unknown"),
    ("recorded_none", "none"),
    ("recorded_machine_bound", "machine-bound"),
])
def test_each_rule_gives_its_verdict_on_recorded_series(name, expected):
    verdict, _ = judged(name)
    assert verdict.bottleneck == expected, verdict.summary
    assert verdict.bottleneck in VERDICTS
    assert verdict.summary.startswith(f"{expected}: ")


def test_every_verdict_is_covered_by_a_series_file():
    files = {p.stem for p in SERIES.glob("*.json")}
    covered = {judged(name)[0].bottleneck for name in files}
    assert covered == set(VERDICTS)


def test_evidence_names_the_figure_the_threshold_and_the_first_sample_that_crossed_it():
    verdict, recording = judged("broker_cpu_bound")
    handler = next(e for e in verdict.evidence if e.figure == "broker-1 request_handler_idle_pct")
    assert handler.threshold == bottleneck.HANDLER_IDLE_PCT and handler.comparison == "<"
    assert handler.value < bottleneck.HANDLER_IDLE_PCT
    # the series is at 60% idle for its first 5 samples; the window starts at sample 2
    first_low = min(s.at for s in recording.metrics.broker
                    if s.metric == "request_handler_idle_pct" and s.value < bottleneck.HANDLER_IDLE_PCT
                    and s.at >= recording.figures.window_start)
    assert handler.at == first_low
    assert f"from {first_low:%H:%M:%S}" in verdict.summary
    rate = next(e for e in verdict.evidence if e.figure == "achieved / target records/s")
    assert rate.value == pytest.approx(0.6) and rate.comparison == "<"


def test_machine_bound_says_who_shared_the_cores():
    verdict, _ = judged("machine_bound")
    busy = next(e for e in verdict.evidence if e.figure == "host cpu_busy_pct")
    assert busy.value >= bottleneck.HOST_CPU_BUSY_PCT
    assert "of 2 cores" in verdict.summary and "1 broker(s) (85% of a core)" in verdict.summary
    assert "1 load generator process(es) (105%)" in verdict.summary
    # what the host's busy share leaves after kafkalab's processes (brokers, controllers, generators, samplers)
    real, recording = judged("recorded_machine_bound")
    window = [s for s in recording.metrics.host
              if recording.figures.window_start <= s.at <= recording.figures.window_end and s.value is not None]
    busy = statistics.median(s.value for s in window if s.source == "host" and s.metric == "cpu_busy_pct")
    ours = sum(statistics.median(s.value for s in window if s.source == source)
               for source in {s.source for s in window if s.source.startswith("process:")})
    others = float(real.summary.split("other work on the machine ~")[1].split("%")[0])
    assert others == pytest.approx(max(0.0, busy * recording.cores - ours), abs=0.5)


def test_replication_names_the_isr_shrink_and_the_remote_share():
    verdict, recording = judged("replication_bound")
    figures = {e.figure for e in verdict.evidence}
    assert "broker-2 isr_shrinks_per_sec" in figures
    assert "broker-2 produce remote / total p99" in figures
    shrink = next(e for e in verdict.evidence if e.figure == "broker-2 isr_shrinks_per_sec")
    assert shrink.at == next(s.at for s in recording.metrics.broker
                             if s.source == "broker-2" and s.metric == "isr_shrinks_per_sec" and s.value)


def test_generator_bound_needs_idle_brokers():
    """The same generator figures with busy handlers are the brokers' limit, not the generator's."""
    recording = recorded.read(SERIES / "generator_bound.json")
    busy_handlers = [dataclasses.replace(s, value=10.0) if s.metric == "request_handler_idle_pct" else s
                     for s in recording.metrics.broker]
    metrics = dataclasses.replace(recording.metrics, broker=busy_handlers)
    assert bottleneck.judge(recording.figures, metrics, cores=2).bottleneck == "broker-cpu-bound"


def test_machine_bound_needs_the_load_on_the_same_machine():
    """A saturated host without a generator process on it is no machine-bound run."""
    recording = recorded.read(SERIES / "machine_bound.json")
    host = [s for s in recording.metrics.host if not s.source.startswith("process:loadgen-")]
    verdict = bottleneck.judge(recording.figures, dataclasses.replace(recording.metrics, host=host), cores=2)
    assert verdict.bottleneck != "machine-bound"


def test_samples_outside_the_window_do_not_count():
    """Saturation in the warm-up only (before window_start) is no finding."""
    recording = recorded.read(SERIES / "spike_only.json")
    start = recording.figures.window_start
    before = [MetricSample("broker-1", "request_handler_idle_pct", datetime(2026, 12, 1, 11, 59, s, tzinfo=UTC),
                           1.0) for s in range(50)]
    assert all(s.at < start for s in before)
    metrics = dataclasses.replace(recording.metrics, broker=[*before, *recording.metrics.broker])
    assert bottleneck.judge(recording.figures, metrics, cores=2).bottleneck == "unknown"


def test_missing_metrics_are_said_as_such():
    verdict, _ = judged("unknown_no_jmx")
    assert "broker request handlers (no samples in the window)" in verdict.summary
    assert "broker-1: JMX did not answer (connection refused)" in verdict.summary
    nothing, _ = judged("unknown_nothing")
    assert "metrics are missing" in nothing.summary and "psutil sampler failed" in nothing.summary
    none_sampled = bottleneck.judge(judged("broker_cpu_bound")[1].figures, None)
    assert none_sampled.bottleneck == "unknown" and "no samplers ran" in none_sampled.summary


def test_missing_values_are_not_zero():
    """Samples whose source did not answer (value None) never count as 0% idle."""
    recording = recorded.read(SERIES / "spike_only.json")
    blanks = [dataclasses.replace(s, value=None) if s.metric == "request_handler_idle_pct" and i % 2 else s
              for i, s in enumerate(recording.metrics.broker)]
    verdict = bottleneck.judge(recording.figures, dataclasses.replace(recording.metrics, broker=blanks), cores=2)
    assert verdict.bottleneck == "unknown"


def test_a_run_that_kept_its_rate_is_none_and_names_little_headroom():
    verdict, _ = judged("none")
    assert verdict.summary == "none: the target rate was met"
    tight, _ = judged("none_little_headroom")
    assert "little headroom left: host cpu_busy_pct" in tight.summary


def test_no_figures_is_unknown():
    recording = recorded.read(SERIES / "none.json")
    no_window = dataclasses.replace(recording.figures, saturated=None, saturation_reason="no reporting interval")
    assert bottleneck.judge(no_window, recording.metrics).bottleneck == "unknown"
    assert bottleneck.judge(None, recording.metrics).summary.startswith("unknown: the run has no figures")


def test_recording_a_run_reads_back_the_same(tmp_path):
    recording = recorded.read(SERIES / "replication_bound.json")
    run = RunRecord(
        experiment="e", spec={}, repetition=0, platform="local", kafka_version="4.1.0", brokers=3, topic="t",
        partitions=1, replication_factor=3, record_size=100, num_records=1, throughput=-1, producer_instances=1,
        producer_props={}, consumer_props={}, broker_config={}, topic_config={},
        started_at=datetime.now(UTC), figures=recording.figures, metrics=recording.metrics,
    )
    again = recorded.read(recorded.record(run, tmp_path / "r.json", about="copy", cores=2))
    assert again.metrics == recording.metrics and again.figures == recording.figures and again.cores == 2
    assert isinstance(again.metrics, RunMetrics)


def test_a_spooled_run_keeps_its_verdict_and_fingerprint(tmp_path):
    """A run spooled while the database is down (kafkalab.results.spool) reads back whole."""
    from kafkalab.results import spool

    verdict, recording = judged("broker_cpu_bound")
    run = RunRecord(
        experiment="e", spec={}, repetition=0, platform="local", kafka_version="4.1.0", brokers=1, topic="t",
        partitions=1, replication_factor=1, record_size=100, num_records=1, throughput=-1, producer_instances=1,
        producer_props={}, consumer_props={}, broker_config={}, topic_config={}, started_at=datetime.now(UTC),
        figures=recording.figures, verdict=verdict, fingerprint={"id": "0123456789ab", "machine": {"cores": 2}},
    )
    again = spool.read(spool.write(run, tmp_path))
    assert again.verdict == verdict and again.fingerprint == run.fingerprint
