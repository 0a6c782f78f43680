"""Perf-tool command lines and output parsers, checked against the guide's real output."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalab.kafka.perftools import (
    CONSUMER_MAIN,
    PRODUCER_MAIN,
    consumer_args,
    first_error_line,
    parse_consumer_output,
    parse_producer_line,
    parse_producer_output,
    producer_args,
)
from kafkalab.model import ConsumerSummary, ProducerSummary, ProducerWindow
from tests.guide import block_after, guide_lines, guide_text, records_sent_lines

FIRST_STEP6_SUMMARY = (
    "5000000 records sent, 260783.393314 records/sec (62.18 MB/sec), 3.79 ms avg latency, "
    "278.00 ms max latency, 3 ms 50th, 9 ms 95th, 21 ms 99th, 60 ms 99.9th."
)
FIRST_STEP6_WINDOW = (
    "943363 records sent, 188672.6 records/sec (44.98 MB/sec), 5.8 ms avg latency, 278.0 max latency."
)

# ConsumerPerformance of Kafka 4.4: header, then one data line.
CONSUMER_CSV = (
    "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
    "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"
    "2026-11-25 09:01:02:123, 2026-11-25 09:01:05:456, 11.9209, 3.5766, 50000, 15001.5002, "
    "3046, 287, 41.5361, 174216.0279\n"
)


def _summary_numbers(s: ProducerSummary) -> list[float]:
    return [
        s.records, s.records_per_sec, s.mb_per_sec, s.avg_latency_ms, s.max_latency_ms,
        s.p50_ms, s.p95_ms, s.p99_ms, s.p999_ms,
    ]  # fmt: skip


def _window_numbers(w: ProducerWindow) -> list[float]:
    return [w.records, w.records_per_sec, w.mb_per_sec, w.avg_latency_ms, w.max_latency_ms]


def _sane(parsed: ProducerWindow | ProducerSummary | None) -> bool:
    if parsed is None:
        return True
    numbers = _summary_numbers(parsed) if isinstance(parsed, ProducerSummary) else _window_numbers(parsed)
    return all(math.isfinite(v) and v >= 0 for v in numbers)


# --- the guide's producer output ------------------------------------------------------------


def test_every_records_sent_line_in_the_guide_parses():
    lines = records_sent_lines()
    parsed = [parse_producer_line(line) for line in lines]
    unparsed = [line for line, p in zip(lines, parsed) if p is None]
    assert unparsed == []
    assert len(lines) == 78
    # Step 6: 3 windows; the Mesos sandbox log: 2 windows. Every other line is a summary.
    assert sum(isinstance(p, ProducerWindow) for p in parsed) == 5
    assert sum(isinstance(p, ProducerSummary) for p in parsed) == 73
    assert not any(p.steady_state for p in parsed if isinstance(p, ProducerSummary))


def test_whole_guide_as_one_output_finds_all_windows_in_order():
    out = parse_producer_output(guide_text())
    assert [w.seq for w in out.windows] == [0, 1, 2, 3, 4]
    assert [w.records for w in out.windows] == [943363, 1330321, 1521870, 3495216, 4205303]
    assert out.summary is not None and out.summary.records_per_sec == 260783.393314
    assert out.steady_state is None


def test_first_step6_summary():
    s = parse_producer_line(FIRST_STEP6_SUMMARY)
    assert s == ProducerSummary(
        records=5000000,
        records_per_sec=260783.393314,
        mb_per_sec=62.18,
        avg_latency_ms=3.79,
        max_latency_ms=278.0,
        p50_ms=3,
        p95_ms=9,
        p99_ms=21,
        p999_ms=60,
        steady_state=False,
    )
    assert FIRST_STEP6_SUMMARY in guide_lines()


def test_step6_window_without_ms_before_max_latency():
    assert FIRST_STEP6_WINDOW in guide_lines()
    assert parse_producer_line(FIRST_STEP6_WINDOW, seq=7) == ProducerWindow(
        seq=7,
        records=943363,
        records_per_sec=188672.6,
        mb_per_sec=44.98,
        avg_latency_ms=5.8,
        max_latency_ms=278.0,
    )


def test_step6_output_block():
    out = parse_producer_output(block_after("Output of the test should look similar to below"))
    assert [(w.seq, w.records, w.max_latency_ms) for w in out.windows] == [
        (0, 943363, 278.0),
        (1, 1330321, 45.0),
        (2, 1521870, 31.0),
    ]
    assert out.summary == parse_producer_line(FIRST_STEP6_SUMMARY)
    # Windows cover only part of the run: the last partial window is never printed.
    assert sum(w.records for w in out.windows) < out.summary.records


def test_service_prefix_is_ignored():
    line = next(line for line in guide_lines() if line.startswith("Service 2: "))
    s = parse_producer_line(line)
    assert isinstance(s, ProducerSummary)
    assert (s.records, s.records_per_sec, s.mb_per_sec) == (10000000, 766577.232656, 182.77)
    assert (s.avg_latency_ms, s.max_latency_ms) == (9.25, 241.0)
    assert (s.p50_ms, s.p95_ms, s.p99_ms, s.p999_ms) == (9, 16, 62, 118)


def test_mesos_sandbox_log_with_noise():
    text = block_after("Navigate to the UI --> Services")
    assert "Prepared mount" in text
    out = parse_producer_output(text)
    assert [(w.seq, w.records, w.records_per_sec) for w in out.windows] == [
        (0, 3495216, 698205.4),
        (1, 4205303, 840052.5),
    ]
    assert out.summary is not None
    assert (out.summary.records, out.summary.records_per_sec) == (10000000, 780031.201248)
    assert out.summary.p999_ms == 58


def test_upper_end_tuning_summary():
    s = parse_producer_line(block_after("#### Lets try the upper end range parameters", count=2))
    assert isinstance(s, ProducerSummary)
    assert (s.records_per_sec, s.avg_latency_ms, s.max_latency_ms) == (346404.323126, 62.27, 352.0)
    assert (s.p50_ms, s.p95_ms, s.p99_ms, s.p999_ms) == (58, 102, 107, 118)


# --- Kafka 4.4 forms and variants -------------------------------------------------------------


KAFKA_44_WARMUP_OUTPUT = """\
SLF4J(W): No SLF4J providers were found.
Warmup first 100000 records. Steady state results will print after the complete test summary.
249911 records sent, 49972.2 records/sec (11.92 MB/sec), 12.3 ms avg latency, 301.0 ms max latency.
In steady state.
250040 records sent, 50008.0 records/sec (11.92 MB/sec), 2.1 ms avg latency, 19.0 ms max latency.
1000000 records sent, 49990.001999 records/sec (11.92 MB/sec), 4.57 ms avg latency, 301.00 ms max latency, 2 ms 50th, 9 ms 95th, 88 ms 99th, 240 ms 99.9th.
900000 steady state records sent, 49994.444753 records/sec (11.92 MB/sec), 2.19 ms avg latency, 41.00 ms max latency, 2 ms 50th, 5 ms 95th, 12 ms 99th, 30 ms 99.9th.
"""


def test_kafka_44_output_with_warmup_and_steady_state():
    out = parse_producer_output(KAFKA_44_WARMUP_OUTPUT)
    assert [(w.seq, w.records, w.max_latency_ms) for w in out.windows] == [(0, 249911, 301.0), (1, 250040, 19.0)]
    assert out.summary is not None and not out.summary.steady_state
    assert (out.summary.records, out.summary.records_per_sec) == (1000000, 49990.001999)
    assert out.steady_state is not None and out.steady_state.steady_state
    assert (out.steady_state.records, out.steady_state.p99_ms) == (900000, 12)


@pytest.mark.parametrize(
    "line",
    [
        # %f numbers in a window line, %.1f in a summary line, decimal percentiles.
        "5 records sent, 1.000000 records/sec (0.000000 MB/sec), 2.000000 ms avg latency, 3.000000 ms max latency.",
        "5 records sent, 1.0 records/sec (0.00 MB/sec), 2.0 ms avg latency, 3.0 ms max latency, "
        "1.5 ms 50th, 2.0 ms 95th, 3 ms 99th, 3.0 ms 99.9th.",
        "[2026-11-25 09:01:02,123] INFO x: 5 records sent, 1 records/sec (0 MB/sec), 2 ms avg latency, "
        "3 ms max latency, 1 ms 50th, 2 ms 95th, 3 ms 99th, 3 ms 99.9th. (trailing)",
    ],
)
def test_number_forms_and_surrounding_text(line):
    parsed = parse_producer_line(line)
    assert parsed is not None and parsed.records == 5 and parsed.max_latency_ms == 3.0


@pytest.mark.parametrize(
    "line",
    [
        # What Java prints for a run in which no record was acknowledged (0/0.0 = NaN).
        "0 records sent, 0.000000 records/sec (0.00 MB/sec), NaN ms avg latency, 0.00 ms max latency, "
        "0 ms 50th, 0 ms 95th, 0 ms 99th, 0 ms 99.9th.",
        "5000000 records sent, Infinity records/sec (62.18 MB/sec), 3.79 ms avg latency, 278.00 ms max latency, "
        "3 ms 50th, 9 ms 95th, 21 ms 99th, 60 ms 99.9th.",
        # A non-English default locale prints decimal commas: not a number we can trust.
        "5000000 records sent, 260783,393314 records/sec (62,18 MB/sec), 3,79 ms avg latency, 278,00 ms max latency, "
        "3 ms 50th, 9 ms 95th, 21 ms 99th, 60 ms 99.9th.",
        FIRST_STEP6_SUMMARY.replace("3.79", "3.7x9"),
        FIRST_STEP6_SUMMARY.replace("21 ms 99th", "-21 ms 99th"),
        FIRST_STEP6_SUMMARY.replace("5000000", "-5000000"),
        FIRST_STEP6_SUMMARY.replace("5000000", "5000000" + "0" * 30),
        FIRST_STEP6_SUMMARY.replace("260783.393314", "9" * 400),
    ],
)
def test_garbled_summary_is_not_a_summary(line):
    assert parse_producer_line(line) is None
    assert parse_producer_output(line).summary is None


def test_truncated_summary_is_never_a_summary():
    for cut in range(len(FIRST_STEP6_SUMMARY)):
        assert parse_producer_line(FIRST_STEP6_SUMMARY[:cut]) is None, FIRST_STEP6_SUMMARY[:cut]


def test_garbled_summary_keeps_windows():
    text = FIRST_STEP6_WINDOW + "\n" + FIRST_STEP6_SUMMARY[:-20] + "\n"
    out = parse_producer_output(text)
    assert len(out.windows) == 1 and out.summary is None


@pytest.mark.parametrize("text", ["", "\n\n", "records sent", "\x00\xff\ud800", "records sent, , , ."])
def test_producer_parser_on_empty_and_junk(text):
    out = parse_producer_output(text)
    assert out.windows == [] and out.summary is None and out.steady_state is None


def test_producer_parser_accepts_none_without_raising():
    assert parse_producer_output(None).summary is None  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_never_raises(text):
    out = parse_producer_output(text)
    assert all(_sane(w) for w in out.windows)
    assert _sane(out.summary) and _sane(out.steady_state)
    assert parse_consumer_output(text) is None or isinstance(parse_consumer_output(text), ConsumerSummary)
    first_error_line(text)


_mutation = st.tuples(
    st.sampled_from(["replace", "delete", "insert", "duplicate"]),
    st.integers(min_value=0, max_value=10_000),
    st.text(alphabet="0123456789.-eE+, NaInfy%()msx\n\r", min_size=1, max_size=4),
)


@settings(max_examples=500)
@given(st.data(), st.lists(_mutation, min_size=1, max_size=6))
def test_mutated_real_lines_never_raise_nor_give_bad_numbers(data, mutations):
    line = data.draw(st.sampled_from(records_sent_lines()))
    for kind, pos, chunk in mutations:
        pos %= len(line) + 1
        if kind == "replace":
            line = line[:pos] + chunk + line[pos + len(chunk) :]
        elif kind == "delete":
            line = line[:pos] + line[pos + len(chunk) :]
        elif kind == "insert":
            line = line[:pos] + chunk + line[pos:]
        else:
            line = line[:pos] + line[pos : pos + 20] + line[pos:]
    assert _sane(parse_producer_line(line))
    out = parse_producer_output(line)
    assert _sane(out.summary) and _sane(out.steady_state) and all(_sane(w) for w in out.windows)


_latency = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(
    records=st.integers(min_value=1, max_value=2**63 - 1),
    rps=st.floats(min_value=0, max_value=1e12, allow_nan=False),
    mbps=_latency,
    avg=_latency,
    mx=st.integers(min_value=0, max_value=2**31 - 1),
    percentiles=st.lists(st.integers(min_value=0, max_value=2**31 - 1), min_size=4, max_size=4),
    steady=st.booleans(),
)
def test_summary_round_trips_through_the_java_format(records, rps, mbps, avg, mx, percentiles, steady):
    # Python's % and Java's String.format agree for %d, %f and %.2f on these values.
    line = "%d%s records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th." % (
        records, " steady state" if steady else "", rps, mbps, avg, float(mx), *percentiles,
    )  # fmt: skip
    s = parse_producer_line(line)
    assert isinstance(s, ProducerSummary)
    assert s.records == records and s.steady_state == steady
    assert s.records_per_sec == float("%f" % rps)
    assert (s.mb_per_sec, s.avg_latency_ms) == (float("%.2f" % mbps), float("%.2f" % avg))
    assert s.max_latency_ms == mx
    assert [s.p50_ms, s.p95_ms, s.p99_ms, s.p999_ms] == percentiles


# --- ConsumerPerformance ----------------------------------------------------------------------


def _elapsed_s(start: str, end: str) -> float:
    # The tool's default date format, yyyy-MM-dd HH:mm:ss:SSS; the guide's runs stay in one day.
    def ms(stamp: str) -> int:
        h, m, s, milli = (int(x) for x in stamp.split(" ")[1].split(":"))
        return ((h * 60 + m) * 60 + s) * 1000 + milli

    return (ms(end) - ms(start)) / 1000


def test_consumer_guide_step6_readable_block():
    c = parse_consumer_output(block_after("Example Output (Edited for readability)"))
    assert c == ConsumerSummary(
        start_time="2018-08-09 19:07:31:979",
        end_time="2018-08-09 19:07:45:777",
        mb=3576.2787,
        mb_per_sec=259.1882,
        messages=15000000,
        msgs_per_sec=1087114.0745,
        rebalance_ms=3047,
        fetch_ms=10751,
        fetch_mb_per_sec=332.6461,
        fetch_msgs_per_sec=1395219.0494,
    )


@pytest.mark.parametrize(
    "text",
    [
        lambda: block_after("Example Output (Edited for readability)"),
        lambda: block_after("### Consumer Test", count=2),
    ],
)
def test_consumer_guide_blocks_are_internally_consistent(text):
    c = parse_consumer_output(text())
    assert c is not None and c.messages == 15000000
    elapsed = _elapsed_s(c.start_time, c.end_time)
    fetch_s = c.fetch_ms / 1000
    assert c.fetch_ms == elapsed * 1000 - c.rebalance_ms
    assert round(c.mb / elapsed, 4) == c.mb_per_sec
    assert round(c.messages / elapsed, 4) == c.msgs_per_sec
    assert round(c.mb / fetch_s, 4) == c.fetch_mb_per_sec
    assert round(c.messages / fetch_s, 4) == c.fetch_msgs_per_sec
    assert round(c.messages * 250 / 2**20, 4) == c.mb  # 250-byte records, MB = 2^20 bytes


def test_consumer_guide_second_block():
    c = parse_consumer_output(block_after("### Consumer Test", count=2))
    assert c is not None
    assert (c.start_time, c.msgs_per_sec, c.rebalance_ms, c.fetch_ms) == (
        "2018-08-09 20:57:02:104",
        1092259.5209,
        3049,
        10684,
    )


def test_whole_guide_gives_the_first_readable_result():
    c = parse_consumer_output(guide_text())
    assert c is not None and c.start_time == "2018-08-09 19:07:31:979"


def test_consumer_csv_of_kafka_44():
    assert parse_consumer_output(CONSUMER_CSV) == ConsumerSummary(
        start_time="2026-11-25 09:01:02:123",
        end_time="2026-11-25 09:01:05:456",
        mb=11.9209,
        mb_per_sec=3.5766,
        messages=50000,
        msgs_per_sec=15001.5002,
        rebalance_ms=3046,
        fetch_ms=287,
        fetch_mb_per_sec=41.5361,
        fetch_msgs_per_sec=174216.0279,
    )


def test_consumer_csv_with_noise_and_timeout_warning():
    header, data = CONSUMER_CSV.splitlines()
    text = "\n".join(
        [
            "[2026-11-25 09:01:01,001] INFO Starting consumer... (org.apache.kafka.tools.ConsumerPerformance)",
            header,
            "WARNING: Exiting before consuming the expected number of messages: timeout (10000 ms) exceeded. "
            "You can use the --timeout option to increase the timeout.",
            data,
            "[2026-11-25 09:01:06,000] INFO Metrics reporters closed",
        ]
    )
    c = parse_consumer_output(text)
    assert c is not None and c.messages == 50000


def test_consumer_csv_columns_are_looked_up_by_name():
    header, data = CONSUMER_CSV.splitlines()
    names, values = header.split(", "), data.split(", ")
    order = [9, 4, 0, 7, 2, 5, 1, 8, 3, 6]
    shuffled = ", ".join(names[i] for i in order) + "\n" + ", ".join(values[i] for i in order) + "\n"
    assert parse_consumer_output(shuffled) == parse_consumer_output(CONSUMER_CSV)


@pytest.mark.parametrize(
    "text",
    [
        "",
        CONSUMER_CSV.splitlines()[0],  # header only: the tool died before the result
        CONSUMER_CSV.splitlines()[1],  # data without a header
        CONSUMER_CSV.rsplit(",", 1)[0],  # truncated data line
        CONSUMER_CSV.replace("41.5361", "NaN"),
        CONSUMER_CSV.replace("174216.0279", "Infinity"),
        CONSUMER_CSV.replace("50000", "50000.5"),
        CONSUMER_CSV.replace("3.5766", "-3.5766"),
        CONSUMER_CSV.replace("3.5766", "3,5766"),  # decimal comma: one field too many
        CONSUMER_CSV.replace("data.consumed.in.MB,", "data.consumed.in.KB,"),
        "\n".join(block_after("Example Output (Edited for readability)").splitlines()[:-1]),
    ],
)
def test_consumer_missing_or_garbled_is_none(text):
    assert parse_consumer_output(text) is None


@given(st.text())
def test_consumer_parser_never_raises(text):
    parse_consumer_output(text)
    parse_consumer_output(CONSUMER_CSV.splitlines()[0] + "\n" + text)


# --- failures ---------------------------------------------------------------------------------


def test_first_error_line_picks_the_exception_not_a_stack_frame():
    text = (
        "SLF4J(W): No SLF4J providers were found.\n"
        "\tat org.apache.kafka.clients.NetworkClient.handleErrorResponse(NetworkClient.java:1)\n"
        "Exception in thread \"main\" org.apache.kafka.common.KafkaException: Failed to construct kafka producer  \n"
        "\tat org.apache.kafka.clients.producer.KafkaProducer.<init>(KafkaProducer.java:473)\n"
        "Caused by: org.apache.kafka.common.config.ConfigException: No resolvable bootstrap urls\n"
    )
    assert first_error_line(text) == (
        'Exception in thread "main" org.apache.kafka.common.KafkaException: Failed to construct kafka producer'
    )


def test_first_error_line_variants():
    assert first_error_line("all good\n5 records sent\n") is None
    assert first_error_line("") is None
    assert first_error_line("ok\n[x] ERROR boom\n") == "[x] ERROR boom"
    assert first_error_line("java.lang.OutOfMemoryError: Java heap space") == (
        "java.lang.OutOfMemoryError: Java heap space"
    )
    long = first_error_line("Exception: " + "x" * 1000)
    assert long is not None and len(long) <= 300 and long.startswith("Exception: xxx")


# --- command lines ----------------------------------------------------------------------------


def test_main_classes():
    assert PRODUCER_MAIN == "org.apache.kafka.tools.ProducerPerformance"
    assert CONSUMER_MAIN == "org.apache.kafka.tools.ConsumerPerformance"


def test_producer_args_minimal():
    cfg = Path("/runs/r1/producer-0.properties")
    assert producer_args(
        topic="perf", num_records=5000000, record_size=250, throughput=1000000.0, config_file=cfg
    ) == [
        "--topic", "perf",
        "--num-records", "5000000",
        "--record-size", "250",
        "--throughput", "1000000",
        "--command-config", str(cfg),
    ]  # fmt: skip


def test_producer_args_optional_and_throughput_forms():
    cfg = Path("/tmp/p.properties")
    args = producer_args(
        topic="t", num_records=10, record_size=1, throughput=-1, config_file=cfg,
        reporting_interval_ms=1000, warmup_records=3,
    )  # fmt: skip
    assert args[args.index("--throughput") + 1] == "-1"
    assert args[-4:] == ["--reporting-interval", "1000", "--warmup-records", "3"]
    fractional = producer_args(topic="t", num_records=1, record_size=1, throughput=1500.5, config_file=cfg)
    assert fractional[fractional.index("--throughput") + 1] == "1500.5"
    with pytest.raises(ValueError):
        producer_args(topic="t", num_records=1, record_size=1, throughput=float("nan"), config_file=cfg)


@pytest.mark.parametrize("build", ["producer", "consumer"])
def test_no_client_properties_on_the_command_line(build):
    cfg = Path("/secret/dir/client.properties")
    if build == "producer":
        args = producer_args(topic="t", num_records=1, record_size=1, throughput=-1, config_file=cfg)
    else:
        args = consumer_args(bootstrap_servers="b:9092", topic="t", num_records=1, timeout_ms=1, config_file=cfg)
    assert args[args.index("--command-config") + 1] == str(cfg)
    assert not any("=" in a for a in args)
    assert not any(a in args for a in ("--producer-props", "--consumer-props", "--producer.config", "--consumer.config"))
    assert not any("client.id" in a or "sasl" in a or "password" in a for a in args)


def test_consumer_args():
    cfg = Path("/runs/r1/consumer.properties")
    base = consumer_args(
        bootstrap_servers="localhost:9092,localhost:9093", topic="perf", num_records=50000,
        timeout_ms=60000, config_file=cfg,
    )  # fmt: skip
    assert base == [
        "--bootstrap-server", "localhost:9092,localhost:9093",
        "--topic", "perf",
        "--num-records", "50000",
        "--timeout", "60000",
        "--command-config", str(cfg),
    ]  # fmt: skip
    grouped = consumer_args(
        bootstrap_servers="b:1", topic="perf", num_records=1, timeout_ms=1, config_file=cfg, group="g1"
    )
    assert grouped[-2:] == ["--group", "g1"]
