"""A run's figures over one window, from interval histograms: merged, never averaged.

The intervals here are built the way the load generator builds them (one HdrHistogram per
kind and interval, microseconds, compressed), from known per-record latencies, so every
figure can be checked against the raw values. Storage, v_run_latency, `kafkalab latency`
and the confidence intervals of v_cell_summary run on a real PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from kafkalab.app import cli
from kafkalab.kafka import histograms
from kafkalab.model import LoadInterval, ProducerOutcome, ProducerOutput, RunFigures
from kafkalab.results import figures, latency
from kafkalab.results.store import Store
from tests.databases import fresh_database
from tests.test_store import make_record

T0_MS = 1_780_000_000_000  # an epoch in milliseconds


def _encoded(values_us: list[int]) -> str:
    histogram = histograms.empty()
    for value in values_us:
        histogram.record_value(value)
    return histogram.encode().decode()


def _instance(index: int, *, intervals: int = 10, records: int = 200, offset_ms: int = 0, slow_from: int | None = None,
              seed: int = 0) -> tuple[ProducerOutcome, dict[str, list[int]]]:
    """A producer instance with `intervals` 1-second intervals of `records` records each; the
    raw latencies by kind (µs) come back too. From interval `slow_from` on, every record is
    10x slower, as when a broker stalls."""
    rng = random.Random(seed * 1000 + index)
    raw: dict[str, list[int]] = {"send": [], "corrected": [], "schedule_delay": []}
    rows = []
    for seq in range(1, intervals + 1):
        factor = 10 if slow_from is not None and seq >= slow_from else 1
        send = [factor * rng.randint(500, 3000) for _ in range(records)]
        delay = [rng.randint(0, 200) for _ in range(records)]
        corrected = [s + d for s, d in zip(send, delay)]
        for kind, values in (("send", send), ("corrected", corrected), ("schedule_delay", delay)):
            raw[kind] += values
        start = T0_MS + offset_ms + (seq - 1) * 1000
        rows.append(LoadInterval(seq=seq, start_ms=start, end_ms=start + 1000, sent=records, acked=records,
                                 bytes=records * 100, histograms={"send": _encoded(send), "corrected": _encoded(corrected),
                                                                  "schedule_delay": _encoded(delay)}))
    outcome = ProducerOutcome(
        instance=index, client_id=f"p-{index}", status="ok", records_requested=intervals * records, exit_code=0,
        output=ProducerOutput(windows=[], summary=None), raw_output="", started_at=datetime.now(UTC),
        finished_at=datetime.now(UTC), tool="kafkalab", intervals=rows,
    )
    return outcome, raw


def exact_percentile(values: list[int], percentile: float) -> float:
    """The value at HdrHistogram's rank for `percentile` (the count at or below it rounds
    percentile x n to the nearest record), from the raw values."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(percentile / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def _within_precision(merged_ms: float, exact_us: float) -> bool:
    """HdrHistogram with 3 significant digits: a value is exact to 1 part in 1000."""
    return abs(merged_ms * 1000 - exact_us) <= max(1.0, exact_us * 1e-3)


def test_the_merged_p99_is_the_p99_of_every_record_not_the_worst_instance():
    (a, raw_a), (b, raw_b) = _instance(0), _instance(1, slow_from=9)  # b stalls in its last two intervals
    result = figures.run_figures([a, b], [], target_per_instance=200, warmup_s=0)
    by_kind = {s.kind: s for s in result.latency}
    for kind in ("send", "corrected", "schedule_delay"):
        every_record = raw_a[kind] + raw_b[kind]
        assert by_kind[kind].count == len(every_record)
        for name, q in (("p50_ms", 50), ("p99_ms", 99), ("p999_ms", 99.9)):
            exact = exact_percentile(every_record, q)
            assert _within_precision(getattr(by_kind[kind], name), exact), (kind, name)
    worst_instance_p99 = max(float(np.percentile(raw_b["send"], 99)), float(np.percentile(raw_a["send"], 99)))
    assert by_kind["send"].p99_ms * 1000 < worst_instance_p99  # what worst_p99_ms would have said
    assert all(by_kind["corrected"].__dict__[p] >= by_kind["send"].__dict__[p]
               for p in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"))


def test_the_window_is_common_to_every_instance_and_leaves_the_warmup_out():
    # b starts 3 intervals late and ends 2 early: the window is where both measure.
    a, _ = _instance(0, intervals=12)
    b, _ = _instance(1, intervals=7, offset_ms=3000 + 4)  # a few ms off, as instances released together are
    result = figures.run_figures([a, b], [], target_per_instance=200, warmup_s=2)
    # Common: from b's first interval (3.004 s) to b's last end (10.004 s); warm-up 2 s: from 5.004 s.
    assert result.window_start == datetime.fromtimestamp((T0_MS + 5004) / 1000, UTC)
    assert result.window_end == datetime.fromtimestamp((T0_MS + 10004) / 1000, UTC)
    assert result.window_s == 5.0
    # a: 996 ms of its 6th interval, the 7th to the 10th, 4 ms of its 11th; b: its 3rd to 7th.
    assert result.window_records == round(0.996 * 200 + 4 * 200 + 0.004 * 200 + 5 * 200) == 2000
    assert result.window_bytes == result.window_records * 100
    assert result.achieved_records_per_sec == pytest.approx(result.window_records / result.window_s)
    assert result.warmup_s == 2 and result.saturated is False and result.saturation_reason is None

    default = figures.run_figures([a, b], [], target_per_instance=200, warmup_s=None)
    assert default.warmup_s == pytest.approx(0.7, abs=0.01)  # a tenth of the 7 s both measured


def test_saturation_is_said_with_its_reason():
    a, _ = _instance(0)
    kept = figures.run_figures([a], [], target_per_instance=205, warmup_s=0)  # 200/s of 205: 97.6%
    assert kept.saturated is False
    missed = figures.run_figures([a], [], target_per_instance=400, warmup_s=0)
    assert missed.saturated is True and missed.saturation_reason.startswith("achieved 200 of the target 400 records/s")
    unthrottled = figures.run_figures([a], [], target_per_instance=None, warmup_s=0)
    assert unthrottled.saturated is True and "unthrottled" in unthrottled.saturation_reason
    assert unthrottled.target_records_per_sec is None

    late = dataclasses.replace(a, intervals=[
        dataclasses.replace(i, histograms={**i.histograms, "schedule_delay": _encoded([80_000] * 200)})
        for i in a.intervals])
    behind = figures.run_figures([late], [], target_per_instance=200, warmup_s=0)
    assert behind.saturated is True and "fell behind its schedule: schedule-delay p99 80.1 ms > 50 ms" in \
        behind.saturation_reason


def test_a_window_too_short_for_the_warmup_says_so():
    a, _ = _instance(0, intervals=2)
    result = figures.run_figures([a], [], target_per_instance=200, warmup_s=5)
    assert result.window_records is None and result.saturated is None
    assert "no reporting interval" in result.saturation_reason


def test_kafka_perf_runs_have_no_window_but_still_a_saturation_verdict():
    from tests.test_store import _producer, _summary

    producers = [_producer(0, "ok", _summary(1000, 90.0, 1.0, 10.0, 50.0, 5.0), windows=2),
                 _producer(1, "ok", _summary(1000, 95.0, 1.0, 10.0, 50.0, 5.0), windows=2)]
    result = figures.run_figures(producers, [], target_per_instance=100, warmup_s=None)
    assert result.window_s is None and result.achieved_records_per_sec == 185.0
    assert result.saturated is True and "sum of the instances' own averages" in result.saturation_reason


# ---------------------------------------------------------------- stored


@pytest.fixture(scope="module")
def store(results_db_url: str):
    with fresh_database(results_db_url, "test_figures") as url, Store(url) as store:
        yield store


def _stored_run(store: Store, *, seed: int = 0, experiment: str = "figures", **changes) -> tuple[int, dict]:
    (a, raw_a), (b, raw_b) = _instance(0, seed=seed), _instance(1, seed=seed, slow_from=9)
    result = figures.run_figures([a, b], [], target_per_instance=200, warmup_s=1)
    record = make_record(experiment, producers=[a, b], consumers=[], figures=result, **changes)
    return store.save_run(record), {k: raw_a[k] + raw_b[k] for k in raw_a} | {"a": raw_a, "b": raw_b}


def test_stored_histograms_give_v_run_latency_and_any_window_again(store: Store, monkeypatch, capsys):
    run_id, raw = _stored_run(store)
    columns, rows = store.query("SELECT kind, count, p99_ms FROM v_run_latency WHERE run_id = %d ORDER BY kind" % run_id)
    by_kind = {kind: (count, p99) for kind, count, p99 in rows}
    assert set(by_kind) == {"send", "corrected", "schedule_delay"}
    assert by_kind["send"][0] == 2 * 9 * 200  # 9 intervals each after the 1 s warm-up
    totals = store.run_totals([run_id])[run_id]
    assert totals["window_records_per_sec"] == pytest.approx(3600 / 9)
    assert totals["corrected_p99_ms"] == by_kind["corrected"][1] and totals["saturated"] is False
    assert totals["sum_of_instance_records_per_sec"] == totals["total_records_per_sec"]

    # All of the load, every instance: the raw values' p99.
    whole = {s.kind: s for s in latency.remerge(store, run_id).latency}
    assert _within_precision(whole["send"].p99_ms, exact_percentile(raw["send"], 99))
    # Instance 0 alone, its first 5 s: exactly those records.
    first = latency.remerge(store, run_id, kinds=["send"], from_s=0, to_s=5, instances=[0])
    (send,) = first.latency
    assert send.count == 5 * 200 and first.intervals == 5
    assert _within_precision(send.p99_ms, exact_percentile(raw["a"]["send"][:1000], 99))

    monkeypatch.setenv("DATABASE_URL", store.url)
    assert cli.main(["latency", str(run_id), "--kind", "corrected", "--from", "8", "--instances", "1",
                     "--format", "json"]) == 0
    out = capsys.readouterr()
    assert '"kind": "corrected"' in out.out and '"count": 400' in out.out  # b's last two intervals
    assert "2 interval histograms merged, 8 s to the end of the load" in out.err
    assert cli.main(["latency", "999999"]) == 2
    assert capsys.readouterr().err.strip() == "kafkalab: latency: no run 999999 stored"
    assert cli.main(["latency", str(run_id), "--from", "5", "--to", "2"]) == 2
    assert "--to: 2 s is not after --from (5 s)" in capsys.readouterr().err


def test_a_run_of_kafkas_perf_tool_has_no_histograms_to_merge(store: Store, monkeypatch, capsys):
    run_id = store.save_run(make_record("perf-tool"))
    monkeypatch.setenv("DATABASE_URL", store.url)
    assert cli.main(["latency", str(run_id)]) == 2
    assert "has no histograms (its producers ran Kafka's perf tool" in capsys.readouterr().err


def test_cell_confidence_intervals_are_student_t_and_null_for_one_run(store: Store):
    sweep_id = store.create_sweep(name="ci", spec={}, fingerprint="f", cells=2, repetitions=4, flow_run_id=None)
    rates = []
    for repetition, seed in enumerate((1, 2, 3, 4), start=1):
        run_id, _ = _stored_run(store, seed=seed, experiment="ci", sweep_id=sweep_id, cell_index=0,
                                repetition=repetition)
        # Different window throughputs per run: move the window's end.
        store.query(f"UPDATE runs SET window_records = window_records - {seed * 97} WHERE id = {run_id}",
                    read_only=False)
        rates.append(store.run_totals([run_id])[run_id]["window_records_per_sec"])
    _stored_run(store, seed=9, experiment="ci", sweep_id=sweep_id, cell_index=1)
    _stored_run(store, seed=8, experiment="ci", sweep_id=sweep_id, cell_index=1, repetition=2,
                            status="failed")
    columns, rows = store.query(
        "SELECT cell_index, n, n_failed, mean_window_records_per_sec, ci95_low_window_records_per_sec, "
        f"ci95_high_window_records_per_sec, ci95_low_corrected_p99_ms FROM v_cell_summary WHERE sweep_id = {sweep_id} "
        "ORDER BY cell_index")
    (cell0, cell1) = [dict(zip(columns, row)) for row in rows]
    low, high = stats.t.interval(0.95, len(rates) - 1, loc=np.mean(rates), scale=stats.sem(rates))
    assert (cell0["n"], cell0["n_failed"]) == (4, 0)
    assert cell0["mean_window_records_per_sec"] == pytest.approx(np.mean(rates))
    assert cell0["ci95_low_window_records_per_sec"] == pytest.approx(low)
    assert cell0["ci95_high_window_records_per_sec"] == pytest.approx(high)
    assert (cell1["n"], cell1["n_failed"]) == (1, 1)
    assert cell1["ci95_low_window_records_per_sec"] is None and cell1["ci95_low_corrected_p99_ms"] is None



def test_figures_survive_the_spool(tmp_path):
    from kafkalab.results import spool

    a, _ = _instance(0)
    record = make_record("spooled", producers=[a], consumers=[],
                         figures=figures.run_figures([a], [], target_per_instance=200, warmup_s=0))
    back = spool.read(spool.write(record, tmp_path))
    assert isinstance(back.figures, RunFigures) and back.figures == record.figures
    assert back.producers[0].intervals == a.intervals


def test_histogram_of_nothing_summarizes_to_nothing():
    assert histograms.summarize("send", histograms.merge([])) is None
    assert histograms.summarize("send", histograms.merge(["", _encoded([])])) is None
    curve = histograms.percentile_curve(histograms.merge([_encoded(list(range(1, 10_001)))]))
    assert curve[0][0] == 0 and curve[-1][0] == 99.999
    assert all(p2 > p1 and v2 >= v1 for (p1, v1), (p2, v2) in zip(curve, curve[1:]))


def test_store_keeps_every_histogram_of_many_instances(store: Store):
    """25 instances x 120 intervals (the guide's fan-out, 10 minutes at 5 s), written with COPY."""
    instances = [_instance(i, intervals=120, records=5)[0] for i in range(25)]
    record = make_record("many", producers=instances, consumers=[],
                         figures=figures.run_figures(instances, [], target_per_instance=1, warmup_s=0),
                         started_at=datetime.now(UTC) - timedelta(minutes=1))
    run_id = store.save_run(record)
    _, rows = store.query(f"SELECT count(*) FROM latency_histograms WHERE run_id = {run_id}")
    assert rows == [(25 * 120 * 3,)]


def test_consumers_without_a_count_are_judged_against_what_the_topic_holds():
    from kafkalab.experiment.steps import check_consumers
    from kafkalab.model import ConsumerOutcome, ConsumerSummary
    from kafkalab.spec import parse_spec

    def reader(instance: int, messages: int) -> ConsumerOutcome:
        summary = ConsumerSummary("", "", 0.0, 0.0, messages, 0.0, 0.0, 0.0, 0.0, 0.0)
        return ConsumerOutcome(status="ok", messages_requested=1, exit_code=0, summary=summary, raw_output="",
                               started_at=datetime.now(UTC), finished_at=datetime.now(UTC), instance=instance,
                               tool="kafkalab")

    shared = parse_spec({"name": "c", "producer": {"num_records": 10}, "consumer": {"instances": 2}})
    split = [reader(0, 600), reader(1, 400)]
    check_consumers(shared, split, 1000)  # together they read everything the topic holds
    assert [c.status for c in split] == ["ok", "ok"]
    short = [reader(0, 600), reader(1, 300)]
    check_consumers(shared, short, 1000)
    assert [c.status for c in short] == ["failed", "failed"]
    assert short[0].error == "consumed 900 of the 1000 records the topic holds before its 10000 ms idle timeout"

    each = parse_spec({"name": "c", "producer": {"num_records": 10},
                       "consumer": {"instances": 2, "groups": "per-instance"}})
    readers = [reader(0, 1000), reader(1, 999)]
    check_consumers(each, readers, 1000)
    assert [c.status for c in readers] == ["ok", "failed"]


def test_scaling_efficiency_is_per_setting_against_the_smallest_broker_count(store: Store):
    sweep_id = store.create_sweep(name="scale", spec={}, fingerprint="s", cells=3, repetitions=1, flow_run_id=None)
    window_rates = {}
    for cell_index, (brokers, partitions, cut) in enumerate(((1, 2, 0), (2, 2, -1800), (2, 4, 900))):
        run_id, _ = _stored_run(store, experiment="scale", sweep_id=sweep_id, cell_index=cell_index, brokers=brokers,
                                partitions=partitions)
        store.query(f"UPDATE runs SET window_records = window_records - ({cut}) WHERE id = {run_id}", read_only=False)
        window_rates[(brokers, partitions)] = store.run_totals([run_id])[run_id]["window_records_per_sec"]
    columns, rows = store.query(
        f"SELECT brokers, partitions, baseline_brokers, scaling_efficiency FROM v_scaling WHERE sweep_id = {sweep_id} "
        "ORDER BY partitions, brokers")
    by_cell = {(b, p): (base, eff) for b, p, base, eff in rows}
    assert by_cell[(1, 2)] == (1, pytest.approx(1.0))
    assert by_cell[(2, 2)][0] == 1
    assert by_cell[(2, 2)][1] == pytest.approx(window_rates[(2, 2)] / (2 * window_rates[(1, 2)]))
    # Another partition count is another setting: its own baseline (itself), never pooled.
    assert by_cell[(2, 4)] == (2, pytest.approx(1.0))


@pytest.mark.parametrize(("changes", "line"), [
    ({"producer": {"num_records": 100, "throughput": 0}}, "spec: producer.throughput: must be -1 (no limit) or > 0"),
    ({"producer": {"num_records": 100, "throughput": -5}}, "spec: producer.throughput: must be -1 (no limit) or > 0"),
    ({"producer": {"num_records": 1000, "throughput": 100}, "load": {"warmup_s": 10}},
     "spec: load.warmup_s: 10 s is as long as the run itself (about 10 s: producer.num_records / producer.throughput)"),
    ({"producer": {"num_records": 10, "payload_file": "missing.txt"}}, "spec: producer.payload_file: no such file "),
    ({"producer": {"num_records": 10, "payload_file": "empty.txt"}}, "spec: producer.payload_file: "),
    ({"producer": {"num_records": 10}, "consumer": {"share_group": True}, "kafka_version": "4.1.0"},
     "spec: consumer.share_group: Kafka 4.1.0 has no share groups (KIP-932 needs Kafka 4.2 or later)"),
    ({"producer": {"num_records": 10, "record_keys": "random:0"}}, "spec: producer.record_keys: must be none, random:N"),
    ({"producer": {"num_records": 10, "tool": "kafka-perf", "record_keys": "fixed:k"}},
     "spec: producer.record_keys: ProducerPerformance sends no keys; use tool kafkalab"),
    ({"producer": {"num_records": 10}, "consumer": {"tool": "kafka-perf", "instances": 2}},
     "spec: consumer.instances: ConsumerPerformance runs once, after the producers; use tool kafkalab"),
])
def test_bad_load_settings_get_one_line_naming_the_field(tmp_path, changes, line):
    from kafkalab.core.errors import SpecError
    from kafkalab.spec import parse_spec

    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(SpecError) as caught:
        parse_spec({"name": "bad", **changes}, base_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(line), message


def test_a_payload_file_is_found_beside_the_spec(tmp_path):
    from kafkalab.spec import load_spec

    (tmp_path / "payloads.txt").write_text('{"order": 1}\n{"order": 2}\n')
    (tmp_path / "spec.yaml").write_text("name: p\nproducer: {num_records: 10, payload_file: payloads.txt}\n")
    assert load_spec(tmp_path / "spec.yaml").producer.payload_file == str(tmp_path / "payloads.txt")
