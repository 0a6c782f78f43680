"""`kafkalab compare A B`: differences with confidence, on stored runs and on real runs.

The stored runs here are built the way the load generator reports (1-second intervals,
one HdrHistogram per kind and interval) with a known rate and latency, and stored through
the real store on a real PostgreSQL. The real runs run kafkalab's generator against one
broker: identical settings come out as no detectable difference, small batches without
linger against large ones with linger as a throughput difference whose interval excludes 0.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from kafkalab.analysis import noise
from kafkalab.analysis.compare import FASTER, NONE, SLOWER, compare
from kafkalab.app import cli
from kafkalab.core.errors import SpecError
from kafkalab.kafka import histograms
from kafkalab.model import LoadInterval, ProducerOutcome, ProducerOutput, RunRecord
from kafkalab.results.figures import run_figures
from kafkalab.results.store import Store
from tests.databases import fresh_database

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _encoded(values_us: list[int]) -> str:
    histogram = histograms.empty()
    for value in values_us:
        histogram.record_value(value)
    return histogram.encode().decode()


def generated_run(experiment: str, started_at: datetime, *, rate: float, latency_ms: float, seed: int,
                  props: dict[str, str] | None = None, status: str = "ok") -> RunRecord:
    """One producer instance of ten 1-second intervals at about `rate` records/s (1% noise),
    latencies about `latency_ms` (exponential around it), figures computed as a run does."""
    rng = random.Random(seed)
    start_ms = int(started_at.timestamp() * 1000)
    intervals = []
    run_rate = rate * rng.gauss(1, 0.01)
    for seq in range(10):
        acked = int(run_rate)
        send = [max(1, int(rng.expovariate(1 / (latency_ms * 1000)))) for _ in range(300)]
        intervals.append(LoadInterval(seq=seq, start_ms=start_ms + seq * 1000, end_ms=start_ms + (seq + 1) * 1000,
                                      sent=acked, acked=acked, bytes=acked * 100,
                                      histograms={"send": _encoded(send), "corrected": _encoded(send)}))
    producer = ProducerOutcome(instance=0, client_id="p-0", status=status, records_requested=10 * int(rate),  # type: ignore[arg-type]
                               exit_code=0, output=ProducerOutput(windows=[], summary=None), raw_output="",
                               started_at=started_at, finished_at=started_at + timedelta(seconds=10), tool="kafkalab",
                               intervals=intervals)
    record = RunRecord(
        experiment=experiment, spec={"name": experiment, "producer": {"props": props or {}}}, repetition=1,
        platform="local", kafka_version="4.1.0", brokers=1, topic="t", partitions=2, replication_factor=1,
        record_size=100, num_records=10 * int(rate), throughput=-1, producer_instances=1,
        producer_props=dict(props or {"acks": "1"}), consumer_props={}, broker_config={}, topic_config={},
        started_at=started_at, finished_at=started_at + timedelta(seconds=10), status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "synthetic failure", producers=[producer],
    )
    record.figures = run_figures([producer], [], target_per_instance=None, warmup_s=1.0)
    return record


@pytest.fixture(scope="module")
def store(results_db_url: str):
    with fresh_database(results_db_url, "test_compare") as url, Store(url) as store:
        yield store


@pytest.fixture(scope="module")
def stored(store: Store) -> dict[str, list[int]]:
    """Experiments of four runs each: base and same (alike), slow (20% fewer records/s, 3x the latency),
    and four of base a week later."""
    ids: dict[str, list[int]] = {}
    seed = 0
    for name, rate, latency, days, props in (
        ("base", 50_000, 2.0, 0, {"acks": "1", "linger.ms": "5"}),
        ("same", 50_000, 2.0, 0, {"acks": "1", "linger.ms": "5"}),
        ("slow", 40_000, 6.0, 0, {"acks": "all", "linger.ms": "5"}),
        ("base", 50_000, 2.0, 7, {"acks": "1", "linger.ms": "5"}),
    ):
        for i in range(4):
            seed += 1
            moment = T0 + timedelta(days=days, minutes=i + 10 * len(ids))
            run = generated_run(name, moment, rate=rate, latency_ms=latency, seed=seed, props=props)
            ids.setdefault(f"{name}+{days}", []).append(store.save_run(run))
    failed = generated_run("broken", T0, rate=1000, latency_ms=1, seed=1, status="failed")
    ids["broken"] = [store.save_run(failed)]
    return ids


def test_alike_sides_show_no_detectable_difference(store, stored):
    result = compare(store, "experiment:base@2026-11-01..2026-11-01", "same")
    assert result.verdict.startswith(f"{NONE} at n = 4 + 4")
    throughput, p99 = result.metrics
    assert throughput.bootstrap.low < 0 < throughput.bootstrap.high or throughput.verdict == NONE
    assert p99.metric == "p99_ms" and result.latency_kind == "corrected"
    assert result.settings == []  # the same settings: nothing differs
    assert throughput.smallest_detectable is not None and 0 < throughput.smallest_detectable < 0.05  # of A


def test_slower_side_is_called_slower_with_intervals_that_exclude_zero(store, stored):
    result = compare(store, "base@..2026-11-02", "experiment:slow")
    throughput, p99 = result.metrics
    assert throughput.verdict == SLOWER and p99.verdict == SLOWER and result.verdict == SLOWER
    assert throughput.bootstrap.high < 0 and throughput.welch.ratio.high < 1
    assert throughput.relative == pytest.approx(-0.2, abs=0.03)
    # p99 of the merged histograms: exponential latencies of mean 6 ms against 2 ms, p99 = mean x ln(100)
    assert p99.a == pytest.approx(2.0 * 4.605, rel=0.15) and p99.b == pytest.approx(6.0 * 4.605, rel=0.15)
    assert p99.bootstrap.low > 0
    assert "producer_props.acks: 1 (A) -> all (B)" in result.settings
    reverse = compare(store, "slow", "base@last:4")
    assert reverse.verdict == FASTER


def test_merged_p99_is_the_p99_of_all_runs_records_not_a_mean_of_p99s(store, stored):
    result = compare(store, ",".join(map(str, stored["base+0"])), "slow")
    _, rows = store.query("SELECT h.encoded FROM latency_histograms h JOIN load_intervals i USING (run_id, role, "
                          "instance, seq) JOIN runs r ON r.id = h.run_id WHERE h.run_id = ANY(:ids) AND h.kind = "
                          "'corrected' AND i.start_at + (i.end_at - i.start_at) / 2 BETWEEN r.window_start AND "
                          "r.window_end", {"ids": stored["base+0"]})
    merged = histograms.merge(encoded for (encoded,) in rows)
    assert result.metrics[1].a == merged.get_value_at_percentile(99.0) / 1000


def test_a_noise_floor_above_the_difference_stops_the_verdict(store, stored):
    floor = noise.measure(store, "base", stored["base+0"])
    assert floor.runs == 4 and 0 < floor.cv_records_per_sec < 0.05
    wide = noise.NoiseFloor(**{**floor.__dict__, "cv_records_per_sec": 0.5, "cv_p99_ms": 5.0, "measured_at": None})
    noise.save(store, wide)
    try:
        result = compare(store, "base@..2026-11-02", "slow")
        assert result.verdict.startswith(NONE)
        assert "noise floor of 50.0%" in result.metrics[0].why
    finally:
        store.query("DELETE FROM noise_floors", {}, read_only=False)


def test_a_window_against_a_later_window_of_one_experiment(store, stored):
    result = compare(store, "base@2026-11-01..2026-11-02", "base@2026-11-08..")
    assert result.a.run_ids == tuple(stored["base+0"]) and result.b.run_ids == tuple(stored["base+7"])
    assert result.verdict.startswith(NONE)


@pytest.mark.parametrize(("a", "b", "message"), [
    ("base@2026-11-01..2026-11-30", "experiment:base@2026-11-01..2026-11-30", "are the same 8 run(s)"),
    ("base", "base", "are the same 8 run(s)"),
    ("run:999999", "base", "A: no run 999999 stored"),
    ("base", "nosuch", "B: no experiment 'nosuch' stored"),
    ("base@2025-01-01..2025-02-01", "slow", "A (base@2025-01-01..2025-02-01): experiment base, "),
    ("base", "base@last:2", "share run(s)"),
    ("sweep:x", "base", "'sweep:x' is not a sweep selector"),
    ("base@2026-11-09..2026-11-01", "slow", "the window ends (2026-11-01) before it starts"),
    ("base@yesterday..", "slow", "'yesterday' is not a date"),
    ("broken", "base", "A (broken): experiment broken has no ok run"),
])  # fmt: skip
def test_bad_input_is_one_line_naming_what_is_wrong(store, stored, a, b, message):
    with pytest.raises(SpecError) as raised:
        compare(store, a, b)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_cli_text_json_and_html(store, stored, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", store.url)
    assert cli.main(["compare", "base@..2026-11-02", "slow", "--html", str(tmp_path / "page")]) == 0
    out = capsys.readouterr().out
    assert "window throughput (records/s, mean over runs)" in out and "verdict: B is slower" in out
    assert "smallest difference detectable at n = 4 + 4 (alpha 0.05, power 80%)" in out
    page = (tmp_path / "page" / "compare.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and 'id="percentiles"' in page

    assert cli.main(["compare", "base@..2026-11-02", "slow", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == SLOWER and data["metrics"][0]["bootstrap_ci95"][1] < 0
    assert data["a"]["run_ids"] == stored["base+0"]

    assert cli.main(["compare", "base", "base"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("kafkalab: compare: A (base) and B (base) are the same") and "\n" not in err


# --------------------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def broker(one_broker_cluster):
    return one_broker_cluster


def _real_run(store: Store, cluster, work, name: str, repetition: int, *, rate: float | None, records: int,
              props: dict[str, str]) -> int:
    """One run of kafkalab's generator on `cluster`, stored the way a flow stores it."""
    from kafkalab.experiment.steps import new_run_record
    from kafkalab.kafka import admin
    from kafkalab.load.runner import ProducerLoad, run_load
    from kafkalab.spec import parse_spec

    topic = f"{name}-{repetition}"
    admin.create_topic(cluster.bootstrap_servers, topic, partitions=2, replication_factor=1)
    spec = parse_spec({"name": name, "cluster": {"brokers": 1}, "topic": {"partitions": 2, "replication_factor": 1},
                       "producer": {"num_records": records, "throughput": rate if rate else -1, "record_size": 100,
                                    "props": props, "reporting_interval_ms": 250}})
    load = ProducerLoad(topic=topic, num_records=records, record_size=100, throughput=rate or -1, props=props,
                        heap_mb=128, reporting_interval_ms=250, timeout_s=180, tool="kafkalab")
    producers, _ = run_load(cluster.dist, cluster.bootstrap_servers, load, 1, work / topic,
                            client_prefix=f"kafkalab-{topic}")
    assert [p.status for p in producers] == ["ok"], producers[0].error
    record = new_run_record(spec, cluster, repetition, topic)
    record.producers = producers
    record.figures = run_figures(producers, [], target_per_instance=rate, warmup_s=0.5)
    return store.save_run(record)


@pytest.mark.kafka
def test_real_runs_of_identical_settings_show_no_detectable_difference(broker, store, tmp_path):
    props = {"acks": "1", "linger.ms": "5", "batch.size": "16384"}
    _real_run(store, broker, tmp_path, "warm-up", 1, rate=2000, records=4000, props=props)  # JIT the broker first
    for repetition in range(1, 4):  # interleaved: drift of the machine falls on both sides alike
        for name in ("same-a", "same-b"):
            _real_run(store, broker, tmp_path, name, repetition, rate=2000, records=6000, props=props)
    result = compare(store, "same-a", "same-b")
    assert result.verdict.startswith(NONE), result.text()
    assert [m.n_a for m in result.metrics] == [3, 3]
    assert not [line for line in result.settings if "producer_props" in line]


@pytest.mark.kafka
def test_real_runs_large_batches_with_linger_carry_more_than_tiny_batches(broker, store, tmp_path):
    tiny = {"acks": "1", "linger.ms": "0", "batch.size": "1024"}
    large = {"acks": "1", "linger.ms": "20", "batch.size": "131072"}
    # Record counts for a few seconds of each (tiny batches carry far less): a window of a
    # second or two would mostly measure the busy machine.
    for repetition in range(1, 5):
        _real_run(store, broker, tmp_path, "tiny-batches", repetition, rate=None, records=40_000, props=tiny)
        _real_run(store, broker, tmp_path, "large-batches", repetition, rate=None, records=400_000, props=large)
    result = compare(store, "tiny-batches", "large-batches")
    throughput = result.metrics[0]
    assert throughput.bootstrap.low > 0 and throughput.welch.ratio.low > 1, result.text()
    assert throughput.verdict == FASTER
    assert "producer_props.linger.ms: 0 (A) -> 20 (B)" in result.settings
    assert "producer_props.batch.size: 1024 (A) -> 131072 (B)" in result.settings


def test_noise_needs_two_runs_and_says_so_before_anything_starts(capsys):
    assert cli.main(["noise", "experiments/quickstart.yaml", "--runs", "1"]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.strip() == "kafkalab: noise: --runs 1: a spread needs at least 2 runs"
