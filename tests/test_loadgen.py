"""kafkalab's load generator: its output parser on captured output, and the generator itself
against a real 1-broker KRaft cluster (histograms that add up, barrier, byte bound, errors)."""

from __future__ import annotations

import select
import subprocess
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message
from confluent_kafka.admin import ConfigResource, ResourceType
from hdrh.histogram import HdrHistogram

from kafkalab.core.errors import EnvironmentProblem
from kafkalab.core.net import free_port
from kafkalab.kafka import admin, loadgen
from kafkalab.kafka.broker_config import BrokerSettings
from kafkalab.kafka.properties import write_properties
from kafkalab.platforms.local import LocalCluster
from tests.conftest import running_local_cluster

DATA = Path(__file__).parent / "data" / "loadgen"
# Real output of the generator: 2000 records at 1000/s, 500 ms intervals, and a consumer reading them.
PRODUCER_OUT = DATA / "producer-2000-at-1000.out"
CONSUMER_OUT = DATA / "consumer-2000.out"
RUN_TIMEOUT_S = 180  # safety net; the runs take seconds
# Share groups keep their state in __share_group_state, replicated 3 ways by default: on one
# broker it cannot be created and share consumers then receive nothing, silently.
ONE_BROKER_SHARE_GROUPS = {"share.coordinator.state.topic.replication.factor": "1",
                           "share.coordinator.state.topic.min.isr": "1"}


def merged(intervals: list[loadgen.Interval], kind: str) -> HdrHistogram:
    """All intervals' histograms of one kind added up, as a report would show the whole run."""
    total: HdrHistogram | None = None
    for interval in intervals:
        histogram = HdrHistogram.decode(interval.histograms[kind])
        if total is None:
            total = histogram
        else:
            total.add(histogram)
    assert total is not None
    return total


def count(encoded: str) -> int:
    return HdrHistogram.decode(encoded).get_total_count()


def raw_percentile(values: list[int], percentile: float) -> int:
    """The value at `percentile` as HdrHistogram picks it: the first covering that share of the count."""
    ordered = sorted(values)
    rank = max(1, int(percentile / 100 * len(ordered) + 0.5))
    return ordered[rank - 1]


def assert_within_histogram_precision(histogram_value: int, exact: int) -> None:
    # 3 significant digits: a value is reported as the top of its bucket, within 0.1% (+1 for rounding).
    assert exact <= histogram_value <= exact * 1.001 + 1


# --- output parsing (no broker) -----------------------------------------------------------------


def test_captured_producer_output_parses_into_intervals_with_their_histograms():
    out = loadgen.parse_output(PRODUCER_OUT.read_text())
    assert [i.seq for i in out.intervals] == list(range(1, len(out.intervals) + 1))
    assert len(out.intervals) >= 4
    for interval in out.intervals:
        assert set(interval.histograms) == set(loadgen.PRODUCER_KINDS)
        assert all(count(h) == interval.acked for h in interval.histograms.values())
        assert interval.start_ms <= interval.end_ms
    assert [a.end_ms for a in out.intervals[:-1]] == [b.start_ms for b in out.intervals[1:]]
    summary = out.summary
    assert summary is not None and summary.role == "producer"
    assert (summary.sent, summary.acked, summary.failed, summary.bytes) == (2000, 2000, 0, 200_000)
    assert sum(i.acked for i in out.intervals) == 2000
    assert summary.target_rate == 1000.0 and summary.stopped_by == "records" and summary.first_error is None


def test_histogram_log_is_the_header_and_every_tag_line_in_order():
    text = PRODUCER_OUT.read_text()
    out = loadgen.parse_output(text)
    expected = [ln for ln in text.splitlines() if ln.startswith(("#[", '"StartTimestamp"', "Tag="))]
    assert out.histogram_log.splitlines() == expected
    assert len(expected) == 3 + 3 * len(out.intervals)


def test_captured_consumer_output_parses():
    out = loadgen.parse_output(CONSUMER_OUT.read_text())
    summary = out.summary
    assert summary is not None and summary.role == "consumer"
    assert summary.received == 2000 and summary.bytes == 200_000 and summary.without_header == 0
    assert summary.rebalance_ms is not None and summary.rebalance_ms > 0
    assert sum(i.received for i in out.intervals) == 2000
    assert all(count(i.histograms["end_to_end"]) == i.received for i in out.intervals)


def test_truncated_output_keeps_only_whole_lines():
    text = PRODUCER_OUT.read_text()
    lines = text.splitlines()
    last_interval = max(n for n, ln in enumerate(lines) if ln.startswith(loadgen.INTERVAL_PREFIX))
    last_histogram = lines[last_interval - 1]
    full = loadgen.parse_output(text)
    # Cut inside the last interval's last histogram (also on a base64 group boundary, where the
    # text still looks like base64): that interval and the summary are lost, the rest is whole.
    for keep in (40, len(last_histogram) - len(last_histogram) % 4 - 8):
        out = loadgen.parse_output("\n".join(lines[: last_interval - 1]) + "\n" + last_histogram[:keep])
        assert out.summary is None
        assert out.intervals == full.intervals[:-1]
        assert out.histogram_log.splitlines() == full.histogram_log.splitlines()[:-1]


def test_garbled_lines_are_skipped_and_never_raise():
    whole = PRODUCER_OUT.read_text()
    garbage = [
        "", "\x00\xff", "kafkalab-interval ", "kafkalab-interval {", "kafkalab-interval []",
        'kafkalab-interval {"seq":"1","start_ms":1,"end_ms":2}', 'kafkalab-interval {"seq":1,"start_ms":5,"end_ms":2}',
        'kafkalab-interval {"seq":1,"start_ms":1,"end_ms":2,"acked":-4}', "kafkalab-summary {\"role\":\"x\"}",
        'kafkalab-summary {"role":"producer","stopped_by":"records","bytes":true}', "kafkalab-summary " + "[" * 5000,
        "Tag=send,1,2,3,HISTFAAA", "Tag=send,1,2,3,HISTFAAAAeh42!!", "Tag=,,,,", "#[", "Exception in thread main",
    ]
    for line in garbage:
        out = loadgen.parse_output(line)
        assert out.intervals == [] and out.summary is None
    mixed = "\n".join(garbage) + "\n" + whole + "\n".join(garbage)
    assert loadgen.parse_output(mixed) == loadgen.parse_output(whole)
    for line in garbage + whole.splitlines():
        loadgen.log_line(line)  # never raises
    for value in (None, 12, b"bytes"):
        assert loadgen.parse_output(value).intervals == []  # type: ignore[arg-type]


def test_log_line_shows_intervals_and_summaries_as_sentences_and_hides_histograms():
    producer = PRODUCER_OUT.read_text().splitlines()
    shown = [s for s in map(loadgen.log_line, producer) if s is not None]
    assert len(shown) == len(loadgen.parse_output(PRODUCER_OUT.read_text()).intervals) + 1
    interval = loadgen.log_line('kafkalab-interval {"seq":3,"start_ms":1000,"end_ms":2000,"sent":1000,'
                                '"acked":1000,"failed":0,"bytes":250000}')
    assert interval == "interval 3: 1000 acked (1,000 records/s, 0.24 MB/s), 0 failed"
    consumer = loadgen.log_line('kafkalab-interval {"seq":2,"start_ms":0,"end_ms":500,"received":400,"bytes":40000}')
    assert consumer == "interval 2: 400 received (800 records/s, 0.08 MB/s)"
    summary = loadgen.log_line(producer[-1])
    assert summary is not None and summary.startswith("producer done (records): 2000 acked, 0 failed of 2000 sent")
    consumer_summary = loadgen.log_line(CONSUMER_OUT.read_text().splitlines()[-1])
    assert consumer_summary is not None and consumer_summary.startswith("consumer done (records): 2000 received")
    assert loadgen.log_line("kafkalab-barrier: ready") == "kafkalab-barrier: ready"
    assert loadgen.log_line("kafkalab-interval {broken") == "kafkalab-interval {broken"


def test_command_lines_keep_client_properties_in_the_config_file(tmp_path):
    config = tmp_path / "p.properties"
    args = loadgen.producer_args(topic="t", config_file=config, num_records=10, record_size=100, rate=None,
                                 reporting_interval_ms=1000)
    assert args[0] == "produce" and "--rate" not in args and args[-1] == "--barrier"
    assert args[args.index("--config") + 1] == str(config)
    assert not any("bootstrap" in a or "=" in a for a in args)
    throttled = loadgen.producer_args(topic="t", config_file=config, num_records=10, record_size=100, rate=1500.5,
                                      reporting_interval_ms=1000, max_bytes=10, duration_s=2.0, barrier=False)
    assert throttled[throttled.index("--rate") + 1] == "1500.5" and "--barrier" not in throttled
    assert throttled[throttled.index("--duration-s") + 1] == "2"
    share = loadgen.consumer_args(topic="t", config_file=config, group="g", num_records=None, idle_timeout_ms=5000,
                                  reporting_interval_ms=1000, share=True, acknowledge_mode="explicit")
    assert share[0] == "consume" and "--num-records" not in share and "--share" in share
    with pytest.raises(ValueError, match="acknowledge_mode"):
        loadgen.consumer_args(topic="t", config_file=config, group="g", num_records=1, idle_timeout_ms=1,
                              reporting_interval_ms=1, acknowledge_mode="explicit")


def test_maven_error_names_the_first_telling_line():
    text = ("[INFO] Scanning\n[ERROR] COMPILATION ERROR : \n"
            "[ERROR] /s/Main.java:[3,1] class, interface, enum, or record expected\n[ERROR] -> [Help 1]\n")
    assert loadgen.maven_error(text) == "/s/Main.java:[3,1] class, interface, enum, or record expected"
    assert loadgen.maven_error("[INFO] fine\n") is None


# --- the generator against a real broker -------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, kafka_dist) -> Iterator[LocalCluster]:
    # share groups need settings of their own: not the session's one broker
    with running_local_cluster(kafka_dist, tmp_path_factory.mktemp("loadgen"),
                               BrokerSettings(ONE_BROKER_SHARE_GROUPS)) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def loadgen_jar(kafka_dist) -> Path:
    return loadgen.jar(kafka_dist)


def topic_on(cluster: LocalCluster, name: str, partitions: int = 2) -> str:
    admin.create_topic(cluster.bootstrap_servers, name, partitions=partitions, replication_factor=1)
    return name


def client_config(path: Path, cluster: LocalCluster, **props: object) -> Path:
    return write_properties(path, {"bootstrap.servers": cluster.bootstrap_servers, "acks": "1", **props})


def command(kafka_dist, jar: Path, args: list[str]) -> list[str]:
    return kafka_dist.java_command(loadgen.MAIN, args, heap_mb=256, extra_classpath=[jar], class_archive=None)


def run(kafka_dist, jar: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(kafka_dist, jar, args), check=False, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)


def protocol_only(stdout: str) -> bool:
    """Every stdout line is the histogram log or a kafkalab line: logging stays on stderr."""
    return all(ln.startswith(("#[", '"StartTimestamp"', "Tag=", "kafkalab-")) for ln in stdout.splitlines())


@pytest.mark.kafka
def test_throttled_producer_histograms_count_every_acknowledged_record(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "throttled")
    raw_file = tmp_path / "raw.txt"
    args = loadgen.producer_args(topic=topic, config_file=client_config(tmp_path / "p.properties", cluster),
                                 num_records=2000, record_size=100, rate=1000, reporting_interval_ms=500,
                                 barrier=False, raw_latencies=raw_file)
    proc = run(kafka_dist, loadgen_jar, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert protocol_only(proc.stdout)
    out = loadgen.parse_output(proc.stdout)
    summary = out.summary
    assert summary is not None
    assert (summary.sent, summary.acked, summary.failed, summary.bytes) == (2000, 2000, 0, 200_000)
    assert summary.stopped_by == "records" and summary.target_rate == 1000.0
    assert summary.end_ms - summary.start_ms >= 1900  # 2000 records at 1000/s take two seconds
    assert len(out.intervals) >= 3 and [i.seq for i in out.intervals] == list(range(1, len(out.intervals) + 1))
    for interval in out.intervals:
        assert [count(interval.histograms[k]) for k in loadgen.PRODUCER_KINDS] == [interval.acked] * 3
    assert sum(i.acked for i in out.intervals) == 2000 and sum(i.sent for i in out.intervals) == 2000
    send, corrected = merged(out.intervals, "send"), merged(out.intervals, "corrected")
    for percentile in (50, 99):
        assert corrected.get_value_at_percentile(percentile) >= send.get_value_at_percentile(percentile)
    assert corrected.get_max_value() >= send.get_max_value()
    raw = [tuple(map(int, ln.split())) for ln in raw_file.read_text().splitlines()]
    assert len(raw) == 2000
    for column, histogram in ((0, send), (1, corrected)):
        assert_within_histogram_precision(histogram.get_value_at_percentile(99),
                                          raw_percentile([r[column] for r in raw], 99))
    assert admin.records_in_topic(cluster.bootstrap_servers, topic) == 2000


@pytest.mark.kafka
def test_consumer_alongside_measures_end_to_end_latency_of_every_record(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "end-to-end")
    consumer_raw = tmp_path / "consumer-raw.txt"
    consumer_args = loadgen.consumer_args(
        topic=topic, config_file=client_config(tmp_path / "c.properties", cluster), group="e2e", num_records=2000,
        idle_timeout_ms=20_000, reporting_interval_ms=500, barrier=False, raw_latencies=consumer_raw)
    consumer = subprocess.Popen(command(kafka_dist, loadgen_jar, consumer_args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        producer = run(kafka_dist, loadgen_jar, loadgen.producer_args(
            topic=topic, config_file=client_config(tmp_path / "p.properties", cluster), num_records=2000,
            record_size=100, rate=2000, reporting_interval_ms=500, barrier=False))
        assert producer.returncode == 0, producer.stderr[-2000:]
        stdout, stderr = consumer.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        consumer.kill()
        consumer.wait(timeout=30)
    assert consumer.returncode == 0, stderr[-2000:]
    assert protocol_only(stdout)
    out = loadgen.parse_output(stdout)
    summary = out.summary
    assert summary is not None and summary.role == "consumer"
    assert (summary.received, summary.bytes, summary.without_header) == (2000, 200_000, 0)
    assert summary.stopped_by == "records"
    assert summary.rebalance_ms is not None and summary.rebalance_ms > 0
    for interval in out.intervals:
        assert count(interval.histograms["end_to_end"]) == interval.received
    assert sum(i.received for i in out.intervals) == 2000
    end_to_end = merged(out.intervals, "end_to_end")
    raw = [int(ln) for ln in consumer_raw.read_text().splitlines()]
    assert len(raw) == 2000 and min(raw) >= 0 and max(raw) < 60_000_000  # same host: no clock skew
    assert_within_histogram_precision(end_to_end.get_value_at_percentile(99), raw_percentile(raw, 99))


@pytest.mark.kafka
def test_max_bytes_stops_the_producer_early(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "bounded")
    args = loadgen.producer_args(topic=topic, config_file=client_config(tmp_path / "p.properties", cluster),
                                 num_records=1_000_000, record_size=100, rate=None, reporting_interval_ms=1000,
                                 max_bytes=50_050, barrier=False)
    proc = run(kafka_dist, loadgen_jar, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = loadgen.parse_output(proc.stdout).summary
    assert summary is not None and summary.stopped_by == "bytes" and summary.target_rate is None
    assert 50_050 <= summary.bytes <= 50_050 + 100
    assert summary.acked == summary.sent == summary.bytes // 100
    assert admin.records_in_topic(cluster.bootstrap_servers, topic) == summary.acked


@pytest.mark.kafka
def test_without_histograms_the_intervals_still_count_every_record(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "no-histograms")
    args = loadgen.producer_args(topic=topic, config_file=client_config(tmp_path / "p.properties", cluster),
                                 num_records=3000, record_size=100, rate=None, reporting_interval_ms=500,
                                 barrier=False, histograms=False)
    assert args[-1] == "--no-histograms"
    proc = run(kafka_dist, loadgen_jar, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = loadgen.parse_output(proc.stdout)
    assert out.summary is not None and out.summary.acked == 3000
    assert sum(i.acked for i in out.intervals) == 3000
    for interval in out.intervals:
        assert [count(interval.histograms[k]) for k in loadgen.PRODUCER_KINDS] == [0, 0, 0]


def read_back(cluster: LocalCluster, topic: str, expected: int) -> list[Message]:
    """Every record of `topic`, read with librdkafka (not the generator): what other tools see."""
    consumer = Consumer({**admin.client_config(cluster.bootstrap_servers), "group.id": f"read-{topic}",
                         "auto.offset.reset": "earliest"})
    records: list[Message] = []
    deadline = time.monotonic() + 60
    try:
        consumer.subscribe([topic])
        while len(records) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        consumer.close()
    return records


@pytest.mark.kafka
def test_records_carry_their_send_time_and_the_payload_file_and_key(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "payloads", partitions=1)
    payload = tmp_path / "payload.txt"
    payload.write_text("a\nbb\nccc\n")
    proc = run(kafka_dist, loadgen_jar, loadgen.producer_args(
        topic=topic, config_file=client_config(tmp_path / "p.properties", cluster), num_records=30,
        record_size=100, rate=None, reporting_interval_ms=1000, keys="fixed:K1", payload_file=payload, barrier=False))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = loadgen.parse_output(proc.stdout).summary
    assert summary is not None and summary.bytes == 10 * (1 + 2 + 3)
    records = read_back(cluster, topic, 30)
    assert [r.value() for r in records] == [b"a", b"bb", b"ccc"] * 10  # one partition: in send order
    assert {r.key() for r in records} == {b"K1"}
    for record in records:
        (name, value), = record.headers()
        sent_us = int.from_bytes(value, "big")
        assert name == "kl.sent.us" and len(value) == 8
        assert record.timestamp()[1] == sent_us // 1000
        assert summary.start_ms <= sent_us // 1000 <= summary.end_ms


@pytest.mark.kafka
def test_duration_bounds_a_throttled_producer(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "timed")
    proc = run(kafka_dist, loadgen_jar, loadgen.producer_args(
        topic=topic, config_file=client_config(tmp_path / "p.properties", cluster), num_records=1_000_000,
        record_size=100, rate=200, reporting_interval_ms=500, duration_s=2, barrier=False))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = loadgen.parse_output(proc.stdout).summary
    assert summary is not None and summary.stopped_by == "duration"
    # 400 records are due in the first 2 s at 200/s; a generator running behind sends fewer by then.
    assert 300 <= summary.sent <= 400 and summary.acked == summary.sent


@pytest.mark.kafka
def test_an_idle_consumer_stops_and_still_reports_its_empty_intervals(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "quiet")
    proc = run(kafka_dist, loadgen_jar, loadgen.consumer_args(
        topic=topic, config_file=client_config(tmp_path / "c.properties", cluster), group="quiet", num_records=10,
        idle_timeout_ms=2000, reporting_interval_ms=500, barrier=False))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = loadgen.parse_output(proc.stdout)
    assert out.summary is not None and out.summary.stopped_by == "idle" and out.summary.received == 0
    assert out.summary.start_ms is None and out.summary.rebalance_ms is not None
    assert len(out.intervals) >= 4  # 2 s idle after the assignment, 500 ms intervals
    assert all(count(i.histograms["end_to_end"]) == 0 for i in out.intervals)


def share_group_reset(cluster: LocalCluster, group: str) -> str | None:
    """The group config `share.auto.offset.reset` as the broker has it (None: not set)."""
    client = admin.admin_client(cluster.bootstrap_servers)
    resource = ConfigResource(ResourceType.GROUP, group)
    (configs,) = client.describe_configs([resource]).values()
    entry = configs.result(timeout=60).get("share.auto.offset.reset")
    return entry.value if entry is not None and not entry.is_default else None


@pytest.mark.kafka
@pytest.mark.parametrize("mode", ["implicit", "explicit"])
def test_a_share_group_after_the_producer_reads_every_record(tmp_path, cluster, loadgen_jar, kafka_dist, mode):
    topic = topic_on(cluster, f"shared-{mode}")
    producer = run(kafka_dist, loadgen_jar, loadgen.producer_args(
        topic=topic, config_file=client_config(tmp_path / "p.properties", cluster), num_records=500,
        record_size=100, rate=None, reporting_interval_ms=1000, barrier=False))
    assert producer.returncode == 0, producer.stderr[-2000:]
    group = f"share-{mode}"
    assert share_group_reset(cluster, group) is None  # a new share group would start at the latest offset
    proc = run(kafka_dist, loadgen_jar, loadgen.consumer_args(
        topic=topic, config_file=client_config(tmp_path / "c.properties", cluster), group=group, num_records=500,
        idle_timeout_ms=60_000, reporting_interval_ms=1000, share=True, acknowledge_mode=mode, barrier=False))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = loadgen.parse_output(proc.stdout)
    summary = out.summary
    assert summary is not None and summary.stopped_by == "records"
    assert (summary.received, summary.bytes, summary.without_header) == (500, 50_000, 0)
    assert summary.rebalance_ms is None  # a share group has no assignment to time
    assert sum(count(i.histograms["end_to_end"]) for i in out.intervals) == 500
    assert '"share":true' in proc.stdout.splitlines()[-1]
    assert share_group_reset(cluster, group) == "earliest"  # the generator set it before subscribing


def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    return proc.stdout.readline().rstrip("\n") if ready else ""


@pytest.mark.kafka
def test_nothing_is_sent_before_go(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "barrier")
    args = loadgen.producer_args(topic=topic, config_file=client_config(tmp_path / "p.properties", cluster),
                                 num_records=500, record_size=100, rate=None, reporting_interval_ms=1000)
    proc = subprocess.Popen(command(kafka_dist, loadgen_jar, args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert read_line(proc, 120) == loadgen.BARRIER_LINE
        time.sleep(2)  # long enough for a producer that ignored the barrier to send everything
        assert admin.records_in_topic(cluster.bootstrap_servers, topic) == 0
        assert proc.poll() is None
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        stdout, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    summary = loadgen.parse_output(stdout).summary
    assert summary is not None and summary.acked == 500
    assert admin.records_in_topic(cluster.bootstrap_servers, topic) == 500


@pytest.mark.kafka
def test_a_released_barrier_without_go_exits_3_and_sends_nothing(tmp_path, cluster, loadgen_jar, kafka_dist):
    topic = topic_on(cluster, "given-up")
    args = loadgen.producer_args(topic=topic, config_file=client_config(tmp_path / "p.properties", cluster),
                                 num_records=500, record_size=100, rate=None, reporting_interval_ms=1000)
    proc = subprocess.Popen(command(kafka_dist, loadgen_jar, args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert read_line(proc, 120) == loadgen.BARRIER_LINE
        stdout, _ = proc.communicate("stop\n", timeout=RUN_TIMEOUT_S)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == 3
    assert loadgen.parse_output(stdout).summary is None
    assert admin.records_in_topic(cluster.bootstrap_servers, topic) == 0


def test_no_broker_is_a_one_line_error_and_exit_1(tmp_path, kafka_dist, loadgen_jar):
    config = write_properties(tmp_path / "p.properties",
                              {"bootstrap.servers": f"127.0.0.1:{free_port()}", "max.block.ms": 3000})
    proc = run(kafka_dist, loadgen_jar, loadgen.producer_args(
        topic="anything", config_file=config, num_records=10, record_size=100, rate=None,
        reporting_interval_ms=1000, barrier=False))
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith(loadgen.ERROR_PREFIX)]
    assert len(errors) == 1 and errors[0].startswith(f"{loadgen.ERROR_PREFIX}TimeoutException: ")
    assert "anything" in errors[0] and "3000 ms" in errors[0]
    assert proc.stdout == ""  # no measurement started


def test_two_first_runs_build_the_jar_once_outside_the_package(kafka_dist, tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKALAB_CACHE_DIR", str(tmp_path / "cache"))
    progress: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        jars = list(pool.map(lambda _: loadgen.jar(kafka_dist, on_progress=progress.append), range(2)))
    assert jars[0] == jars[1] and jars[0].is_file() and jars[0].name == loadgen.JAR_NAME
    assert len(progress) == 1  # the second run waited for the first one's build
    assert [p.name for p in (tmp_path / "cache" / "loadgen").iterdir() if p.is_dir()] == [jars[0].parent.name]
    assert jars[0].parent.name.endswith(f"-kafka-{kafka_dist.version}")
    with zipfile.ZipFile(jars[0]) as jar:
        assert "dev/kafkalab/loadgen/Main.class" in jar.namelist()
    assert not (Path(loadgen.__file__).parent.parent / "java" / "loadgen" / "target").exists()


def test_a_failed_build_names_the_compile_error(kafka_dist, tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKALAB_CACHE_DIR", str(tmp_path / "cache"))
    real = loadgen._sources()
    broken = {**real, "src/main/java/dev/kafkalab/loadgen/Main.java": b"package dev.kafkalab.loadgen; oops"}
    monkeypatch.setattr(loadgen, "_sources", lambda: broken)
    with pytest.raises(EnvironmentProblem, match=r"Maven could not build the load generator.*Main\.java") as caught:
        loadgen.jar(kafka_dist)
    assert "\n" not in str(caught.value)
    assert [p.name for p in (tmp_path / "cache" / "loadgen").iterdir() if p.is_dir()] == []  # no half build
