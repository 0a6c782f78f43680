"""kafkalab's load generator on a real broker: the figures a run stores are what its records say.

One broker, the session's (shared with test_run_metrics). Each test runs the generator the way a run does
(kafkalab.load.runner.run_load), computes the run's figures, stores the run on a real
PostgreSQL, and reads back what a user would: v_run_totals, v_run_latency, the intervals.
In test mode the generator also writes every record's latencies, so the merged
percentiles can be checked against the raw values.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from kafkalab.experiment.steps import new_run_record
from kafkalab.kafka import admin
from kafkalab.load.runner import ConsumerLoad, ProducerLoad, run_load
from kafkalab.platforms.local import LocalCluster
from kafkalab.results.figures import run_figures
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec
from tests.databases import fresh_database
from tests.test_figures import _within_precision, exact_percentile

pytestmark = pytest.mark.kafka

PERCENTILES = {"p50_ms": 50, "p90_ms": 90, "p99_ms": 99, "p999_ms": 99.9, "max_ms": 100}


@pytest.fixture
def broker(one_broker_cluster: LocalCluster) -> LocalCluster:
    """The session's one broker (tests/conftest.py), shared with test_run_metrics."""
    return one_broker_cluster


@pytest.fixture(scope="module")
def store(results_db_url: str):
    with fresh_database(results_db_url, "test_generator_runs") as url, Store(url) as store:
        yield store


def _topic(cluster: LocalCluster, name: str) -> str:
    admin.create_topic(cluster.bootstrap_servers, name, partitions=2, replication_factor=1)
    return name


def _load(topic: str, *, records: int, rate: float, interval_ms: int = 250, **props) -> ProducerLoad:
    return ProducerLoad(topic=topic, num_records=records, record_size=100, throughput=rate,
                        props={"acks": "1", **props}, heap_mb=128, reporting_interval_ms=interval_ms, timeout_s=300,
                        tool="kafkalab", dump_latencies=True)


def _store_run(store: Store, cluster: LocalCluster, name: str, producers, consumers, *, rate: float | None,
               warmup_s: float | None) -> tuple[int, object]:
    spec = parse_spec({"name": name, "cluster": {"brokers": 1}, "topic": {"partitions": 2, "replication_factor": 1},
                       "producer": {"num_records": producers[0].records_requested, "instances": len(producers),
                                    "throughput": rate if rate is not None else -1}})
    record = new_run_record(spec, cluster, 1, name)
    record.producers, record.consumers = producers, consumers
    record.figures = run_figures(producers, consumers, target_per_instance=rate, warmup_s=warmup_s)
    return store.save_run(record), record.figures


def _raw(path: Path) -> dict[str, list[int]]:
    send, corrected = [], []
    for line in path.read_text().split("\n"):
        if line.strip():
            s, c = line.split()
            send.append(int(s))
            corrected.append(int(c))
    return {"send": send, "corrected": corrected}


def test_two_instances_at_a_kept_rate_store_merged_exact_figures(broker, store, tmp_path):
    topic = _topic(broker, "gen-kept-rate")
    work = tmp_path / "load"
    load = _load(topic, records=1500, rate=250)  # 6 s per instance: a rate a busy 2-core machine keeps
    consumers = ConsumerLoad(topic=topic, num_records=3000, timeout_ms=5000, props={}, heap_mb=128, timeout_s=300,
                             tool="kafkalab", group="gen-kept-rate", reporting_interval_ms=250)
    producers, readers = run_load(broker.dist, broker.bootstrap_servers, load, 2, work, alongside=consumers,
                                  client_prefix="kafkalab-gen-kept-rate")
    assert [p.status for p in producers] == ["ok", "ok"] and [c.status for c in readers] == ["ok"]
    assert readers[0].summary.messages == 3000
    run_id, figures = _store_run(store, broker, "gen-kept-rate", producers, readers, rate=250, warmup_s=1.0)

    # The merged p99 of the whole load equals the p99 of every record's latency.
    from kafkalab.results.latency import remerge

    raw = [_raw(work / f"producer-{i}.latencies") for i in range(2)]
    every = {kind: raw[0][kind] + raw[1][kind] for kind in ("send", "corrected")}
    assert len(every["send"]) == 3000
    merged = {s.kind: s for s in remerge(store, run_id).latency}
    for kind in ("send", "corrected"):
        assert merged[kind].count == 3000
        for name, q in PERCENTILES.items():
            assert _within_precision(getattr(merged[kind], name), exact_percentile(every[kind], q)), (kind, name)
    # Corrected (from the intended send time) is never below send, at any percentile.
    stored = dict(store.query(f"SELECT kind, p99_ms FROM v_run_latency WHERE run_id = {run_id}")[1])
    _, rows = store.query(f"SELECT kind, p50_ms, p90_ms, p99_ms, p999_ms, p9999_ms, max_ms FROM v_run_latency "
                          f"WHERE run_id = {run_id} AND kind IN ('send', 'corrected') ORDER BY kind")
    corrected, send = rows
    assert all(c >= s for c, s in zip(corrected[1:], send[1:]))
    assert stored["end_to_end"] > 0  # end to end, from the consumer alongside

    # Throughput over one window: acknowledged records in it / its length, warm-up left out.
    totals = store.run_totals([run_id])[run_id]
    _, ((first_start,),) = store.query(f"SELECT min(start_at) FROM load_intervals WHERE run_id = {run_id}")
    _, ((in_window, window_s),) = store.query(
        "SELECT sum(i.acked), extract(epoch FROM r.window_end - r.window_start) "
        f"FROM load_intervals i JOIN runs r ON r.id = i.run_id WHERE i.run_id = {run_id} AND i.role = 'producer' "
        "AND i.start_at + (i.end_at - i.start_at) / 2 BETWEEN r.window_start AND r.window_end "
        "GROUP BY r.window_end, r.window_start")
    assert totals["window_records_per_sec"] == pytest.approx(float(in_window) / float(window_s), rel=0.01)
    assert totals["window_records"] < 3000  # the warm-up's records are not in it
    assert (figures.window_start - first_start).total_seconds() >= 1.0
    assert totals["saturated"] is False, totals["saturation_reason"]
    assert totals["window_records_per_sec"] == pytest.approx(500, rel=0.1)


def test_a_stalled_broker_shows_in_corrected_latency_far_more_than_in_send_latency(broker, store, tmp_path):
    """The coordinated-omission demonstration: the broker is paused (SIGSTOP) for 2 s while one
    instance sends 500 records/s with a tiny buffer. send() blocks, the records due meanwhile
    wait in the generator, and only the latency from their intended send time says so."""
    topic = _topic(broker, "gen-stall")
    load = _load(topic, records=4000, rate=500, interval_ms=500, **{"buffer.memory": "4096", "batch.size": "512",
                                                                      "linger.ms": "0", "max.block.ms": "60000"})
    broker_pid = broker.brokers[0].process.pid
    stalled = threading.Event()

    def stall() -> None:
        time.sleep(3)
        os.kill(broker_pid, signal.SIGSTOP)
        try:
            time.sleep(2)
        finally:
            os.kill(broker_pid, signal.SIGCONT)
            stalled.set()

    staller = threading.Thread(target=stall, daemon=True)
    try:
        producers, _ = run_load(broker.dist, broker.bootstrap_servers, load, 1, tmp_path / "load",
                                client_prefix="kafkalab-gen-stall", on_go=staller.start)
    finally:
        staller.join(timeout=30)
        os.kill(broker_pid, signal.SIGCONT)  # whatever happened, the broker runs on
    assert stalled.is_set() and producers[0].status == "ok", producers[0].error
    run_id, _ = _store_run(store, broker, "gen-stall", producers, [], rate=500, warmup_s=0)
    latency = {row[0]: row[1:] for row in store.query(
        f"SELECT kind, p99_ms, max_ms FROM v_run_latency WHERE run_id = {run_id}")[1]}
    send_p99, corrected_p99 = latency["send"][0], latency["corrected"][0]
    assert corrected_p99 > 1000  # records due during the stall waited most of its 2 s
    assert corrected_p99 > 5 * send_p99, (send_p99, corrected_p99)
    assert latency["schedule_delay"][1] > 1000  # and the generator knows it fell behind


def test_saturated_unthrottled_and_at_a_rate_out_of_reach_not_at_a_kept_one(broker, store, tmp_path):
    topic = _topic(broker, "gen-saturation")
    unthrottled, _ = run_load(broker.dist, broker.bootstrap_servers, _load(topic, records=30000, rate=-1), 1,
                              tmp_path / "unthrottled", client_prefix="kafkalab-gen-unthrottled")
    _, figures = _store_run(store, broker, "gen-unthrottled", unthrottled, [], rate=None, warmup_s=None)
    assert figures.saturated is True and figures.saturation_reason.startswith("unthrottled")

    out_of_reach, _ = run_load(broker.dist, broker.bootstrap_servers, _load(topic, records=30000, rate=5_000_000), 1,
                               tmp_path / "out-of-reach", client_prefix="kafkalab-gen-out-of-reach")
    run_id, figures = _store_run(store, broker, "gen-out-of-reach", out_of_reach, [], rate=5_000_000, warmup_s=None)
    assert figures.saturated is True
    totals = store.run_totals([run_id])[run_id]
    assert totals["saturated"] is True and "of the target 5,000,000 records/s" in totals["saturation_reason"]
