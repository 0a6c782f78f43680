"""Broker, host and client metrics sampled during real runs, stored on a real PostgreSQL.

One broker, the session's (shared with test_generator_runs; JMX on 127.0.0.1,
kafkalab/java/LoopbackJmx.java). Each run goes
through the engine's own steps: steps.run_metrics around steps.producer_fanout, as
flows/common.run_once does, then Store.save_run; the tests read back what a user would, the
v_broker_metrics, v_host_metrics, v_client_metrics and v_metrics_missing views.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime, timedelta
from itertools import pairwise

import psutil
import pytest

from kafkalab.experiment import steps
from kafkalab.kafka import admin
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.metrics import names as n
from kafkalab.metrics.broker_jmx import BROKER_METRICS
from kafkalab.metrics.client import PRODUCER_METRICS
from kafkalab.platforms.local import LocalCluster
from kafkalab.results import spool
from kafkalab.results.figures import run_figures
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec
from tests.conftest import jvms_of
from tests.databases import fresh_database
from tests.metrics_checks import at, window_bytes

pytestmark = pytest.mark.kafka

INTERVAL_MS = 1000  # the default is 5 s; 1 s gives a short run several samples on a busy 2-core machine
RECORD_SIZE = 4000  # a few KB: a batch's and a record's framing are about 1% of what BytesIn counts
LOOPBACK_ADDRESSES = {"127.0.0.1", "::ffff:127.0.0.1"}


@pytest.fixture
def broker(one_broker_cluster: LocalCluster) -> LocalCluster:
    """The session's one broker (tests/conftest.py), shared with test_generator_runs."""
    return one_broker_cluster


@pytest.fixture(scope="module")
def store(results_db_url: str):
    with fresh_database(results_db_url, "test_run_metrics") as url, Store(url) as store:
        yield store


def _spec(name: str, *, records: int, rate: float, instances: int = 2, enabled: bool = True,
          consumer: bool = False):
    return parse_spec({
        "name": name, "cluster": {"brokers": 1}, "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"tool": "kafkalab", "instances": instances, "num_records": records, "record_size": RECORD_SIZE,
                     "throughput": rate, "reporting_interval_ms": INTERVAL_MS, "heap_mb": 128, "props": {"acks": "1"}},
        "consumer": {"enabled": consumer, "timing": "alongside", "heap_mb": 128, "timeout_ms": 5000},
        "load": {"warmup_s": 1.0}, "metrics": {"enabled": enabled},
    })


def _run(cluster: LocalCluster, spec, *, during=None) -> tuple[object, list[str]]:
    """One run as run_once makes it: metrics sampled around the producers; (record, progress lines)."""
    topic = spec.name
    admin.create_topic(cluster.bootstrap_servers, topic, partitions=2, replication_factor=1)
    record = steps.new_run_record(spec, cluster, 1, topic)
    progress: list[str] = []
    helper = threading.Thread(target=during, daemon=True) if during else None
    with steps.run_metrics(spec, cluster, record, on_progress=progress.append):
        if helper is not None:
            helper.start()
        record.producers, record.consumers = steps.producer_fanout(spec, cluster, topic)
    if helper is not None:
        helper.join(timeout=60)
    record.figures = run_figures(record.producers, record.consumers,
                                 target_per_instance=spec.producer.target_records_per_sec, warmup_s=spec.load.warmup_s)
    return record, progress


def _load_span(record) -> tuple[datetime, datetime]:
    starts = [p.intervals[0].start_ms for p in record.producers]
    ends = [p.intervals[-1].end_ms for p in record.producers]
    return at(min(starts)), at(max(ends))


def _series(store: Store, view: str, run_id: int, source: str, metric: str) -> list[tuple]:
    _, rows = store.query(f"SELECT at, value, seconds_from_start FROM {view} WHERE run_id = {run_id} "
                          f"AND source = '{source}' AND metric = '{metric}' ORDER BY at")
    return rows


def _sampler_jvms() -> list[psutil.Process]:
    """This test process's JMX sampler JVMs (others on the machine are not ours to count)."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if "dev.kafkalab.loadgen.Main" in cmdline and "jmx" in cmdline and process.status() != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def test_a_run_stores_broker_series_for_every_interval_and_host_series_for_the_whole_run(broker, store):
    spec = _spec("metrics-series", records=1500, rate=250, consumer=True)  # 6 s per instance, a consumer alongside
    record, progress = _run(broker, spec)
    assert [p.status for p in record.producers] == ["ok", "ok"] and [c.status for c in record.consumers] == ["ok"]
    assert not [line for line in progress if line.startswith("WARNING")], progress
    assert record.metrics.missing == []
    run_id = store.save_run(record)
    load_start, load_end = _load_span(record)
    interval = timedelta(milliseconds=INTERVAL_MS)

    # Every broker metric, every interval of the load: no missing value, and no two samples two
    # intervals apart (a read still running at a tick is followed at once by the next one).
    _, sources = store.query(f"SELECT DISTINCT source, broker FROM v_broker_metrics WHERE run_id = {run_id}")
    assert sources == [("broker-0", 0)]
    for metric in BROKER_METRICS:
        rows = _series(store, "v_broker_metrics", run_id, "broker-0", metric)
        times = [at for at, _, _ in rows]
        assert times[0] <= load_start + 2 * interval and times[-1] >= load_end - 2 * interval, metric
        assert max(b - a for a, b in pairwise(times)) < 2 * interval, metric
        assert all(value is not None for _, value, _ in rows), metric
        assert all(seconds > 0 for _, _, seconds in rows), metric
    bytes_in = [v for _, v, _ in _series(store, "v_broker_metrics", run_id, "broker-0", n.BYTES_IN)]
    assert max(bytes_in) > 0.5 * 500 * RECORD_SIZE  # the load shows (2 x 250 records/s of 4 KB)
    idle = [v for _, v, _ in _series(store, "v_broker_metrics", run_id, "broker-0", n.REQUEST_HANDLER_IDLE)]
    assert all(0 <= v <= 100 for v in idle)

    # The host from before the load to its end, each core, the loopback's bytes, each process's CPU.
    host = _series(store, "v_host_metrics", run_id, "host", n.CPU_BUSY)
    assert host[0][0] <= load_start + 2 * interval and host[-1][0] >= load_end - interval
    assert max(b[0] - a[0] for a, b in pairwise(host)) < 2 * interval
    _, ((cores,),) = store.query(f"SELECT count(DISTINCT source) FROM v_host_metrics WHERE run_id = {run_id} "
                                  "AND source LIKE 'cpu%'")
    assert cores == psutil.cpu_count()
    loopback = [v for _, v, _ in _series(store, "v_host_metrics", run_id, "net:lo", n.NET_RX)]
    assert max(loopback) > 0.5 * 500 * RECORD_SIZE
    _, processes = store.query(f"SELECT source, max(value) FROM v_host_metrics WHERE run_id = {run_id} "
                               f"AND metric = '{n.PROCESS_CPU}' GROUP BY source ORDER BY source")
    cpu = dict(processes)
    assert {"process:broker-0", "process:controller-1000", "process:loadgen-producer-0",
            "process:loadgen-producer-1", "process:metrics-jmx"} <= set(cpu)
    assert cpu["process:broker-0"] > 0 and cpu["process:loadgen-producer-0"] > 0

    # The generator's client metrics, per instance and interval.
    for instance in (0, 1):
        for metric in PRODUCER_METRICS:
            rows = _series(store, "v_client_metrics", run_id, f"producer-{instance}", metric)
            assert len(rows) == len(record.producers[instance].intervals), metric
        batches = [v for _, v, _ in _series(store, "v_client_metrics", run_id, f"producer-{instance}", n.BATCH_SIZE)]
        assert max(v for v in batches if v is not None) >= RECORD_SIZE

    for metric in (n.FETCH_LATENCY, n.RECORDS_LAG_MAX):
        rows = _series(store, "v_client_metrics", run_id, "consumer-0", metric)
        assert len(rows) == len(record.consumers[0].intervals), metric
        assert any(value is not None for _, value, _ in rows), metric

    # Spooled (the database down) and read back, the series are the same.
    again = spool.read(spool.write(record, broker.run_dir / "spool-test"))
    assert again.metrics == record.metrics


def test_one_sampler_jvm_samples_every_broker_of_a_three_broker_cluster(tmp_path, kafka_dist, store):
    cluster = LocalCluster(kafka_dist, tmp_path / "cluster", BrokerSettings(), heap_mb=256, controller_heap_mb=192)
    try:
        cluster.deploy(3)
        cluster.wait_ready(timeout_s=180)
        spec = parse_spec({
            "name": "metrics-three-brokers", "cluster": {"brokers": 3},
            "topic": {"partitions": 3, "replication_factor": 3},
            "producer": {"tool": "kafkalab", "instances": 1, "num_records": 1200, "record_size": RECORD_SIZE,
                         "throughput": 200, "reporting_interval_ms": INTERVAL_MS, "heap_mb": 128,
                         "props": {"acks": "all"}},
            "consumer": {"enabled": False}, "load": {"warmup_s": 1.0},
        })
        admin.create_topic(cluster.bootstrap_servers, spec.name, partitions=3, replication_factor=3)
        record = steps.new_run_record(spec, cluster, 1, spec.name)
        with steps.run_metrics(spec, cluster, record, on_progress=lambda line: None):
            assert len(_sampler_jvms()) == 1  # one JVM for the three brokers
            record.producers, record.consumers = steps.producer_fanout(spec, cluster, spec.name)
        assert [p.status for p in record.producers] == ["ok"] and record.metrics.missing == []
        run_id = store.save_run(record)
    finally:
        cluster.stop(grace_s=0)
    assert jvms_of(tmp_path / "cluster") == []
    load_start, load_end = _load_span(record)
    for broker_id in range(3):
        for metric in BROKER_METRICS:
            rows = _series(store, "v_broker_metrics", run_id, f"broker-{broker_id}", metric)
            times = [at for at, _, _ in rows]
            assert times[0] <= load_start + timedelta(seconds=2) and times[-1] >= load_end - timedelta(seconds=2)
            assert all(value is not None for _, value, _ in rows), (broker_id, metric)
        # Each broker leads one partition and follows the other two: it takes produce and follower fetches.
        assert max(v for _, v, _ in _series(store, "v_broker_metrics", run_id, f"broker-{broker_id}", n.BYTES_IN)) > 0
        follower = _series(store, "v_broker_metrics", run_id, f"broker-{broker_id}", n.request_p99("fetch_follower"))
        assert max(v for _, v, _ in follower) > 0


def test_the_brokers_bytes_in_agree_with_the_bytes_the_generator_acknowledged(broker, store):
    spec = _spec("metrics-bytes-in", records=2000, rate=250)  # 2 MB/s for 8 s
    record, _ = _run(broker, spec)
    run_id = store.save_run(record)
    spans, broker_bytes, acknowledged = window_bytes(
        _series(store, "v_broker_metrics", run_id, "broker-0", n.BYTES_IN), record)
    assert spans >= 5
    # BytesIn counts record batches as they arrive: values plus a few dozen bytes of framing per
    # record and batch, about 1% at 4 KB records.
    print(f"BytesIn {broker_bytes:,.0f} B / acknowledged {acknowledged:,.0f} B = {broker_bytes / acknowledged:.3f}")
    assert broker_bytes == pytest.approx(acknowledged, rel=0.10)


def test_broker_jmx_listens_on_the_loopback_address_only(broker):
    (target,) = [t for t in broker.metrics_targets() if t.kind == "broker-jmx"]
    host, port = target.address.rsplit(":", 1)
    assert host == "127.0.0.1" and target.pid == broker.brokers[0].process.pid
    listening = [c.laddr for c in psutil.Process(target.pid).net_connections(kind="inet") if c.status == "LISTEN"]
    assert int(port) in {address.port for address in listening}  # JMX, next to the broker's own listener
    assert {address.ip for address in listening} <= LOOPBACK_ADDRESSES, listening


def test_a_broker_whose_jmx_does_not_answer_leaves_its_samples_missing_and_the_run_goes_on(broker, store):
    """The broker is paused (SIGSTOP) for 5 s mid-run: its JMX does not answer meanwhile (a read
    waited for longer than 3 s counts as no answer), then the broker and its JMX are back."""
    spec = _spec("metrics-jmx-stall", records=3000, rate=300, instances=1)  # 10 s
    pid = broker.brokers[0].process.pid
    paused: list[datetime] = []

    def pause() -> None:
        time.sleep(3)
        os.kill(pid, signal.SIGSTOP)
        paused.append(datetime.now().astimezone())
        try:
            time.sleep(5)
        finally:
            os.kill(pid, signal.SIGCONT)
            paused.append(datetime.now().astimezone())

    record, progress = _run(broker, spec, during=pause)
    assert [p.status for p in record.producers] == ["ok"]
    assert len(paused) == 2
    warnings = [line for line in progress if line.startswith("WARNING broker-0: JMX did not answer")]
    assert len(warnings) == 1 and "the run goes on" in warnings[0]
    assert "broker-0: JMX answers again" in progress
    run_id = store.save_run(record)
    rows = _series(store, "v_broker_metrics", run_id, "broker-0", n.BYTES_IN)
    during = [value for at, value, _ in rows if paused[0] + timedelta(seconds=3) < at < paused[1]]
    assert during and all(value is None for value in during)  # stored as missing, never as zero
    assert [value for at, value, _ in rows if at > paused[1] + timedelta(seconds=2)][-1] is not None  # back again
    _, reasons = store.query(f"SELECT reason FROM v_metrics_missing WHERE run_id = {run_id}")
    assert len(reasons) == 1 and reasons[0][0].startswith("broker-0: JMX did not answer for ")


def test_a_sampler_that_dies_fails_nothing_and_leaves_no_process(broker, store):
    spec = _spec("metrics-sampler-dies", records=1500, rate=300, instances=1)  # 5 s

    def kill_the_sampler() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _sampler_jvms():
            time.sleep(0.1)
        time.sleep(2)
        for process in _sampler_jvms():
            process.kill()

    record, _ = _run(broker, spec, during=kill_the_sampler)
    assert [p.status for p in record.producers] == ["ok"]
    assert _sampler_jvms() == []
    assert any(reason.startswith("broker JMX sampler exited with code") for reason in record.metrics.missing)
    assert record.metrics.broker and record.metrics.host  # what it sampled before it died is kept
    run_id = store.save_run(record)
    _, ((stored,),) = store.query(f"SELECT count(*) FROM v_broker_metrics WHERE run_id = {run_id}")
    assert stored == len(record.metrics.broker)


def test_an_interrupted_load_stops_the_samplers_and_keeps_what_they_saw(broker):
    spec = _spec("metrics-interrupted", records=1000, rate=100)
    record = steps.new_run_record(spec, broker, 1, spec.name)
    with pytest.raises(KeyboardInterrupt), steps.run_metrics(spec, broker, record, on_progress=lambda line: None):
        assert len(_sampler_jvms()) == 1
        time.sleep(3 * INTERVAL_MS / 1000 + 0.5)
        raise KeyboardInterrupt
    assert _sampler_jvms() == []
    assert record.metrics is not None and record.metrics.broker and record.metrics.host


def test_collection_switched_off_samples_nothing_and_says_so(broker, store):
    spec = _spec("metrics-off", records=600, rate=300, instances=1, enabled=False)
    record, _ = _run(broker, spec)
    assert record.metrics.broker == record.metrics.host == record.metrics.client == []
    run_id = store.save_run(record)
    _, reasons = store.query(f"SELECT reason FROM v_metrics_missing WHERE run_id = {run_id}")
    assert reasons == [("metrics collection is off (spec metrics.enabled: false)",)]


def test_an_interval_line_carries_the_client_metrics_and_garbled_ones_are_left_out():
    from kafkalab.kafka import loadgen

    line = ('kafkalab-interval {"seq":1,"start_ms":1000,"end_ms":2000,"sent":5,"acked":5,"failed":0,"bytes":500,'
            '"client":{"record_queue_time_avg_ms":1.5,"buffer_available_bytes":33554432.0,'
            '"produce_throttle_time_avg_ms":null,"Bad Name":1,"batch_size_avg_bytes":"big"}}')
    (interval,) = loadgen.parse_output(line).intervals
    assert interval.client_metrics == {"record_queue_time_avg_ms": 1.5, "buffer_available_bytes": 33554432.0,
                                       "produce_throttle_time_avg_ms": None}
    (old,) = loadgen.parse_output('kafkalab-interval {"seq":1,"start_ms":1000,"end_ms":2000}').intervals
    assert old.client_metrics == {}  # a generator from before client metrics
