"""Kafka's perf tools: command lines for them and parsers for what they print.

Modelled on apache/kafka tests/kafkatest/services/performance: one argument builder and one
parser per tool (ProducerPerformance, ConsumerPerformance of Kafka 4.4).

Client properties, including bootstrap.servers, client.id and any credentials, always go
in a --command-config file and never on the command line, where `ps` would show them.

The parsers read whatever a tool printed, interleaved with log lines and stack traces, and
never raise. A result line that is truncated or garbled is not a result: it yields None
rather than a half-read record with zeros in it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from kafkalab.model import ConsumerSummary, ProducerOutput, ProducerSummary, ProducerWindow

PRODUCER_MAIN = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_MAIN = "org.apache.kafka.tools.ConsumerPerformance"


# --- command lines -----------------------------------------------------------------------


def _format_throughput(throughput: float) -> str:
    value = float(throughput)
    if not math.isfinite(value):
        raise ValueError(f"throughput must be a finite number, got {throughput!r}")
    # The tool reads a Java double; "-1" (unthrottled) and "1000000" read better than "-1.0".
    return str(int(value)) if value.is_integer() else repr(value)


def producer_args(
    *,
    topic: str,
    num_records: int,
    record_size: int,
    throughput: float,
    config_file: Path,
    reporting_interval_ms: int | None = None,
    warmup_records: int | None = None,
) -> list[str]:
    """Arguments (after the main class) for ProducerPerformance."""
    args = [
        "--topic", topic,
        "--num-records", str(int(num_records)),
        "--record-size", str(int(record_size)),
        "--throughput", _format_throughput(throughput),
        "--command-config", str(config_file),
    ]  # fmt: skip
    if reporting_interval_ms is not None:
        args += ["--reporting-interval", str(int(reporting_interval_ms))]
    if warmup_records is not None:
        args += ["--warmup-records", str(int(warmup_records))]
    return args


def consumer_args(
    *,
    bootstrap_servers: str,
    topic: str,
    num_records: int,
    timeout_ms: int,
    config_file: Path,
    group: str | None = None,
) -> list[str]:
    """Arguments (after the main class) for ConsumerPerformance.

    --bootstrap-server is a required option of the tool, so the addresses (not secret)
    appear here; every other client property is in `config_file`.
    """
    args = [
        "--bootstrap-server", bootstrap_servers,
        "--topic", topic,
        "--num-records", str(int(num_records)),
        "--timeout", str(int(timeout_ms)),
        "--command-config", str(config_file),
    ]  # fmt: skip
    if group is not None:
        args += ["--group", group]
    return args


# --- ProducerPerformance output ----------------------------------------------------------

# A non-negative decimal as Java's %d, %.1f, %.2f or %f prints it. Digit counts are bounded
# so a runaway digit string cannot become an int too long to convert or a float of inf;
# "NaN" and "Infinity" (printed when nothing was sent) deliberately do not match.
_NUM = r"(\d{1,20}(?:\.\d{1,20})?)"
_COUNT = r"(?<![\w.+\-])(\d{1,19})"  # a whole number, not the tail of "x12" or "-12"

_WINDOW_RE = re.compile(
    _COUNT + r" records sent, "
    + _NUM + r" records/sec \(" + _NUM + r" MB/sec\), "
    + _NUM + r" ms avg latency, "
    # Kafka prints "ms max latency."; the user's guide shows "max latency." - accept both.
    + _NUM + r"(?: ms)? max latency\."
)

_SUMMARY_RE = re.compile(
    _COUNT + r"( steady state)? records sent, "
    + _NUM + r" records/sec \(" + _NUM + r" MB/sec\), "
    + _NUM + r" ms avg latency, "
    + _NUM + r"(?: ms)? max latency, "
    + _NUM + r" ms 50th, " + _NUM + r" ms 95th, " + _NUM + r" ms 99th, " + _NUM + r" ms 99\.9th\."
)


def _numbers(match: re.Match[str], *groups: int) -> list[float] | None:
    values = [float(match.group(g)) for g in groups]
    return values if all(math.isfinite(v) and v >= 0 for v in values) else None


def parse_producer_line(line: str, *, seq: int = 0) -> ProducerWindow | ProducerSummary | None:
    """One line of ProducerPerformance output as a window, a summary, or None.

    Leading text ("Service 1: ", a log prefix) is ignored. A window gets `seq`;
    parse_producer_output numbers them in order.
    """
    try:
        match = _SUMMARY_RE.search(line)
        if match:
            values = _numbers(match, 3, 4, 5, 6, 7, 8, 9, 10)
            if values is None:
                return None
            rps, mbps, avg, mx, p50, p95, p99, p999 = values
            return ProducerSummary(
                records=int(match.group(1)),
                records_per_sec=rps,
                mb_per_sec=mbps,
                avg_latency_ms=avg,
                max_latency_ms=mx,
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                p999_ms=p999,
                steady_state=match.group(2) is not None,
            )
        match = _WINDOW_RE.search(line)
        if match:
            values = _numbers(match, 2, 3, 4, 5)
            if values is None:
                return None
            rps, mbps, avg, mx = values
            return ProducerWindow(
                seq=seq,
                records=int(match.group(1)),
                records_per_sec=rps,
                mb_per_sec=mbps,
                avg_latency_ms=avg,
                max_latency_ms=mx,
            )
    except (ValueError, OverflowError, TypeError):  # belt and braces: never raise on input
        return None
    return None


def parse_producer_output(text: str) -> ProducerOutput:
    """All windows (seq 0, 1, ... in order) and the summary lines of one tool run.

    `summary` is the first whole-run summary, `steady_state` the first " steady state" one
    (printed after it when --warmup-records is used). Either is None when missing or garbled.
    """
    windows: list[ProducerWindow] = []
    summary: ProducerSummary | None = None
    steady: ProducerSummary | None = None
    for line in (text or "").splitlines():
        parsed = parse_producer_line(line, seq=len(windows))
        if isinstance(parsed, ProducerWindow):
            windows.append(parsed)
        elif isinstance(parsed, ProducerSummary):
            if parsed.steady_state:
                steady = steady or parsed
            else:
                summary = summary or parsed
    return ProducerOutput(windows=windows, summary=summary, steady_state=steady)


# --- ConsumerPerformance output ----------------------------------------------------------

# Column name -> (ConsumerSummary field, type). Looked up by name so a reordered or
# extended header in a later Kafka still parses.
_CONSUMER_COLUMNS: dict[str, tuple[str, type]] = {
    "start.time": ("start_time", str),
    "end.time": ("end_time", str),
    "data.consumed.in.MB": ("mb", float),
    "MB.sec": ("mb_per_sec", float),
    "data.consumed.in.nMsg": ("messages", int),
    "nMsg.sec": ("msgs_per_sec", float),
    "rebalance.time.ms": ("rebalance_ms", float),
    "fetch.time.ms": ("fetch_ms", float),
    "fetch.MB.sec": ("fetch_mb_per_sec", float),
    "fetch.nMsg.sec": ("fetch_msgs_per_sec", float),
}
_NUMBER_TEXT = re.compile(r"\d{1,20}(?:\.\d{1,20})?")
_READABLE_LINE = re.compile(
    # Greedy (.*) and strip later: a lazy match before \s*$ is quadratic on long blank runs.
    r"^\s*(" + "|".join(re.escape(k) for k in _CONSUMER_COLUMNS) + r")\s+-\s+(.*)$"
)


def _consumer_summary(values: dict[str, str]) -> ConsumerSummary | None:
    """A summary from column name -> text, or None if a column is missing or not a number."""
    fields: dict[str, object] = {}
    for column, (field, kind) in _CONSUMER_COLUMNS.items():
        text = values.get(column, "").strip()
        if not text:
            return None
        if kind is str:
            fields[field] = text
            continue
        # Java prints NaN/Infinity for a zero elapsed time; that is no measurement.
        if not _NUMBER_TEXT.fullmatch(text) or (kind is int and "." in text):
            return None
        fields[field] = kind(text)
    return ConsumerSummary(**fields)  # type: ignore[arg-type]


def _from_csv(lines: list[str]) -> ConsumerSummary | None:
    for i, line in enumerate(lines):
        header = [name.strip() for name in line.split(",")]
        if not {"start.time", "end.time", "data.consumed.in.nMsg"} <= set(header):
            continue
        # The data line follows, possibly after a WARNING or log lines: take the first line
        # with as many fields as the header.
        for data in lines[i + 1 :]:
            fields = data.split(",")
            if len(fields) == len(header):
                summary = _consumer_summary(dict(zip(header, fields)))
                if summary is not None:
                    return summary
        return None
    return None


def _from_readable(lines: list[str]) -> ConsumerSummary | None:
    block: dict[str, str] = {}
    for line in lines:
        match = _READABLE_LINE.match(line)
        if not match:
            continue
        key, value = match.groups()
        if key in block:  # a repeated key starts the next result block
            block = {}
        block[key] = value
        if len(block) == len(_CONSUMER_COLUMNS):
            summary = _consumer_summary(block)
            if summary is not None:
                return summary
            block = {}
    return None


def parse_consumer_output(text: str) -> ConsumerSummary | None:
    """The result of ConsumerPerformance: its CSV header + data line, or the readable
    `key - value` form of the user's guide. None when missing or garbled; never raises."""
    try:
        lines = (text or "").splitlines()
        return _from_csv(lines) or _from_readable(lines)
    except (ValueError, OverflowError, TypeError):
        return None


# --- failures ----------------------------------------------------------------------------

_ERROR_WORDS = re.compile(r"Exception|ERROR|Error")
_STACK_FRAME = re.compile(r"^\s*at \S+\(")
_MAX_ERROR_CHARS = 300


def first_error_line(text: str) -> str | None:
    """The first line mentioning Exception/ERROR/Error, for a one-line failure message.

    Stack frames ("at org.apache...Error...(File.java:1)") are skipped: the exception line
    above them says more. Trimmed to about 300 characters.
    """
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        if _ERROR_WORDS.search(line) and not _STACK_FRAME.match(line):
            line = line.strip()
            if len(line) > _MAX_ERROR_CHARS:
                line = line[: _MAX_ERROR_CHARS - 3] + "..."
            return line
    return None
