"""kafkalab's own load generator (kafkalab/java/loadgen): its jar, command lines and output.

The generator (`dev.kafkalab.loadgen.Main produce|consume`) is built once per source version
and Kafka version with Maven into the user cache, against the brokers' kafka-clients. It
prints, line by line on stdout:

- `kafkalab-barrier: ready` (with --barrier), then waits for `go` on stdin;
- HdrHistogram's interval log: a header (`#[...]` lines and a legend), then per interval one
  `Tag=<kind>,<start_s>,<length_s>,<max_ms>,<HISTFAAA...>` line per kind, in microseconds;
- after each interval's histograms `kafkalab-interval {json}` (seq, start_ms, end_ms, counts,
  and `client`: the client's own metrics then, under kafkalab.metrics.names' client names);
- last, `kafkalab-summary {json}`.

Every record carries its send time in the header `kl.sent.us` (microseconds since the epoch,
an 8-byte big-endian long; short because every record carries it), from which consumers
measure end-to-end latency.

The summary's `stopped_by` is records, bytes or duration for a producer (error when it stopped
on a fatal error, exit code 1), records, idle or duration for a consumer. Errors go to stderr
as `kafkalab-error: <ExceptionClass>: <message>`. Client properties are
only ever in the --config file, never on the command line.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafkalab.core.errors import EnvironmentProblem
from kafkalab.core.paths import cache_dir

if TYPE_CHECKING:
    from kafkalab.kafka.distribution import KafkaDistribution

MAIN = "dev.kafkalab.loadgen.Main"
PRODUCER_KINDS = ("send", "corrected", "schedule_delay")
CONSUMER_KINDS = ("end_to_end",)

BARRIER_LINE = "kafkalab-barrier: ready"
INTERVAL_PREFIX = "kafkalab-interval "
SUMMARY_PREFIX = "kafkalab-summary "
ERROR_PREFIX = "kafkalab-error: "

JAR_NAME = "kafkalab-loadgen.jar"
_SOURCE_ROOT = "loadgen"  # inside the kafkalab.java package
_SOURCE_PACKAGE_DIR = "src/main/java/dev/kafkalab/loadgen"
_BUILD_TIMEOUT_S = 900  # the first build downloads Maven's compiler and jar plugins


# --- the jar ------------------------------------------------------------------------------


def _sources() -> dict[str, bytes]:
    """The generator's build inputs: relative path -> content (the pom and the Java files)."""
    root = resources.files("kafkalab.java").joinpath(_SOURCE_ROOT)
    files = {"pom.xml": root.joinpath("pom.xml").read_bytes()}
    package_dir = root.joinpath(_SOURCE_PACKAGE_DIR)
    for entry in package_dir.iterdir():
        if entry.name.endswith(".java"):
            files[f"{_SOURCE_PACKAGE_DIR}/{entry.name}"] = entry.read_bytes()
    return files


def _digest(files: dict[str, bytes]) -> str:
    sha = hashlib.sha256()
    for name in sorted(files):
        sha.update(name.encode() + b"\0" + files[name] + b"\0")
    return sha.hexdigest()[:12]


def jar(dist: KafkaDistribution, *, on_progress: Callable[[str], None] | None = None) -> Path:
    """The generator's jar for `dist`, built with Maven on first use (once per source and Kafka version).

    The sources are copied to a staging directory and built there (the installed package may
    be read-only, and no target/ is left in it); the finished jar is renamed into place, under
    a lock so that two first runs at once build once.
    """
    files = _sources()
    root = cache_dir() / "loadgen"
    target = root / f"{_digest(files)}-kafka-{dist.version}"
    built = target / JAR_NAME
    if built.exists():
        return built
    mvn = shutil.which("mvn")
    if not mvn:
        raise EnvironmentProblem("Maven (`mvn`) is required to build kafkalab's load generator; install it")
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if built.exists():
            return built
        if on_progress:
            on_progress(f"building kafkalab's load generator for Kafka {dist.version} with Maven (first run only)")
        staging = Path(tempfile.mkdtemp(prefix="build-", dir=root))
        try:
            for name, content in files.items():
                path = staging / "src-copy" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            _maven_package(mvn, staging / "src-copy" / "pom.xml", dist.version)
            done = staging / "done"
            done.mkdir()
            (staging / "src-copy" / "target" / JAR_NAME).replace(done / JAR_NAME)
            done.chmod(0o755)  # mkdtemp's parent is private; the jar is for every user of the cache
            if target.exists():
                shutil.rmtree(target)
            done.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return built


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _maven_package(mvn: str, pom: Path, kafka_version: str) -> None:
    cmd = [mvn, "-q", "-B", "-f", str(pom), "package", f"-Dkafka.version={kafka_version}"]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"Maven did not build the load generator within {_BUILD_TIMEOUT_S}s") from None
    if proc.returncode != 0:
        detail = maven_error(proc.stdout + "\n" + proc.stderr) or f"mvn exited {proc.returncode}"
        raise EnvironmentProblem(f"Maven could not build the load generator for Kafka {kafka_version}: {detail}")


def maven_error(text: str) -> str | None:
    """Maven's first telling ERROR line ("COMPILATION ERROR :" and blank ones say nothing)."""
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).strip()
        if not line.startswith("[ERROR]"):
            continue
        message = line.removeprefix("[ERROR]").strip()
        if message and message != "COMPILATION ERROR :":
            return message[:300]
    return None


# --- command lines ------------------------------------------------------------------------


def _number(value: float, name: str) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return str(int(number)) if number.is_integer() else repr(number)


def producer_args(
    *,
    topic: str,
    config_file: Path,
    num_records: int,
    record_size: int,
    rate: float | None,
    reporting_interval_ms: int,
    keys: str = "none",
    payload_file: Path | None = None,
    max_bytes: int | None = None,
    duration_s: float | None = None,
    barrier: bool = True,
    raw_latencies: Path | None = None,
    histograms: bool = True,
) -> list[str]:
    """Arguments (after MAIN) for one producer; `rate` None or <= 0: unthrottled.

    `histograms` False (--no-histograms) is for benchmarks only: what recording latency costs.
    """
    args = [
        "produce",
        "--topic", topic,
        "--config", str(config_file),
        "--num-records", str(int(num_records)),
        "--record-size", str(int(record_size)),
        "--reporting-interval-ms", str(int(reporting_interval_ms)),
        "--keys", keys,
    ]  # fmt: skip
    if rate is not None and float(rate) > 0:
        args += ["--rate", _number(rate, "rate")]
    if payload_file is not None:
        args += ["--payload-file", str(payload_file)]
    if max_bytes is not None:
        args += ["--max-bytes", str(int(max_bytes))]
    if duration_s is not None:
        args += ["--duration-s", _number(duration_s, "duration_s")]
    if barrier:
        args.append("--barrier")
    if raw_latencies is not None:
        args += ["--raw-latencies", str(raw_latencies)]
    if not histograms:
        args.append("--no-histograms")
    return args


def consumer_args(
    *,
    topic: str,
    config_file: Path,
    group: str,
    num_records: int | None,
    idle_timeout_ms: int,
    reporting_interval_ms: int,
    duration_s: float | None = None,
    share: bool = False,
    acknowledge_mode: str | None = None,
    barrier: bool = True,
    raw_latencies: Path | None = None,
    join_first: bool = False,
) -> list[str]:
    """Arguments (after MAIN) for one consumer of `group` (a share group with `share`).

    `join_first`: join the group and get its partitions before the barrier (consumers
    alongside the producers), so that the first records are read as they come, not after a
    rebalance the producers did not wait for.

    Share groups (KIP-932) are on by default from Kafka 4.2 (`share.version` 1; 4.4 finalizes
    2). Their state topic is replicated 3 ways by default, so clusters of fewer brokers need
    `share.coordinator.state.topic.replication.factor` (and `.min.isr`) lowered. A new share
    group starts at the latest offset: the generator sets its group config
    `share.auto.offset.reset` to earliest before subscribing (Admin incrementalAlterConfigs),
    so that consumers after the producers read the backlog.
    """
    if acknowledge_mode is not None and (not share or acknowledge_mode not in ("implicit", "explicit")):
        raise ValueError(f"acknowledge_mode must be implicit or explicit, for a share group; got {acknowledge_mode!r}")
    args = [
        "consume",
        "--topic", topic,
        "--config", str(config_file),
        "--group", group,
        "--idle-timeout-ms", str(int(idle_timeout_ms)),
        "--reporting-interval-ms", str(int(reporting_interval_ms)),
    ]  # fmt: skip
    if num_records is not None:
        args += ["--num-records", str(int(num_records))]
    if duration_s is not None:
        args += ["--duration-s", _number(duration_s, "duration_s")]
    if share:
        args.append("--share")
    if acknowledge_mode is not None:
        args += ["--acknowledge-mode", acknowledge_mode]
    if barrier:
        args.append("--barrier")
    if join_first:
        args.append("--join-first")
    if raw_latencies is not None:
        args += ["--raw-latencies", str(raw_latencies)]
    return args


# --- output -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    seq: int
    start_ms: int
    end_ms: int
    sent: int
    acked: int
    failed: int
    received: int
    bytes: int
    histograms: dict[str, str] = field(default_factory=dict)  # kind -> base64 compressed histogram
    client_metrics: dict[str, float | None] = field(default_factory=dict)  # name -> value (None: no value yet)


@dataclass(frozen=True)
class Summary:
    role: str
    sent: int
    acked: int
    failed: int
    received: int
    bytes: int
    start_ms: int | None
    end_ms: int | None
    target_rate: float | None
    stopped_by: str
    first_error: str | None
    rebalance_ms: float | None
    without_header: int


@dataclass(frozen=True)
class Output:
    intervals: list[Interval]
    summary: Summary | None
    histogram_log: str  # the HdrHistogram log (header and Tag= lines), for a .hlog file


_TAG_LINE = re.compile(
    r"Tag=(?P<kind>[A-Za-z_][\w.-]{0,63}),\d{1,15}(?:\.\d{1,9})?,\d{1,15}(?:\.\d{1,9})?,\d{1,20}(?:\.\d{1,9})?,"
    r"(?P<histogram>HISTF[A-Za-z0-9+/]*={0,2})$"
)
_HEADER_LINE = re.compile(r'^(#\[.*\]|"StartTimestamp","Interval_Length",.*)$')
_HISTOGRAM_HEADER_BYTES = 8  # cookie, then the length of the compressed contents


def _whole_histogram(encoded: str) -> bool:
    """Whether a base64 compressed histogram arrived whole (its length field says how long it is)."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    header = _HISTOGRAM_HEADER_BYTES
    return len(raw) >= header and int.from_bytes(raw[4:header], "big") == len(raw) - header


def _tag_line(line: str) -> re.Match[str] | None:
    """A whole `Tag=` histogram line (after any prefix a log collector added), else None."""
    start = line.find("Tag=")
    if start < 0:
        return None
    match = _TAG_LINE.match(line[start:].rstrip())
    return match if match and _whole_histogram(match.group("histogram")) else None


def _json_after(line: str, prefix: str) -> dict[str, Any] | None:
    start = line.find(prefix)
    if start < 0:
        return None
    try:
        value = json.loads(line[start + len(prefix):])
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _count(data: dict[str, Any], key: str) -> int | None:
    """The non-negative whole number under `key`, else None (absent, null or not a count)."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _interval(data: dict[str, Any], histograms: dict[str, str]) -> Interval | None:
    seq, start_ms, end_ms = (_count(data, k) for k in ("seq", "start_ms", "end_ms"))
    if seq is None or start_ms is None or end_ms is None or end_ms < start_ms:
        return None
    counts = {k: _count(data, k) for k in ("sent", "acked", "failed", "received", "bytes")}
    if any(v is None for k, v in counts.items() if k in data):
        return None
    return Interval(seq=seq, start_ms=start_ms, end_ms=end_ms,
                    **{k: v or 0 for k, v in counts.items()}, histograms=dict(histograms),
                    client_metrics=_client_metrics(data.get("client")))


_CLIENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _client_metrics(data: Any) -> dict[str, float | None]:
    """The interval's client metrics: names as the generator printed them, finite numbers or
    None; anything else (an older generator, a garbled entry) is left out."""
    if not isinstance(data, dict):
        return {}
    return {name: _optional_number(value) for name, value in data.items()
            if isinstance(name, str) and _CLIENT_NAME.match(name) and (value is None or _optional_number(value) is not None)}


def _optional_number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _summary(data: dict[str, Any]) -> Summary | None:
    role, stopped_by = data.get("role"), data.get("stopped_by")
    if role not in ("producer", "consumer") or not isinstance(stopped_by, str):
        return None
    counts = {k: _count(data, k) for k in ("sent", "acked", "failed", "received", "bytes", "without_header")}
    if any(v is None for k, v in counts.items() if k in data) or counts["bytes"] is None:
        return None
    first_error = data.get("first_error")
    return Summary(
        role=role,
        **{k: v or 0 for k, v in counts.items()},
        start_ms=_count(data, "start_ms"),
        end_ms=_count(data, "end_ms"),
        target_rate=_optional_number(data.get("target_rate")),
        stopped_by=stopped_by,
        first_error=first_error if isinstance(first_error, str) else None,
        rebalance_ms=_optional_number(data.get("rebalance_ms")),
    )


def parse_output(text: str) -> Output:
    """The intervals (each with the histograms written just before it), the summary and the
    histogram log of one generator run. Never raises: truncated or garbled lines are skipped."""
    intervals: list[Interval] = []
    summary: Summary | None = None
    log_lines: list[str] = []
    pending: dict[str, str] = {}
    for line in (text if isinstance(text, str) else "").splitlines():
        if INTERVAL_PREFIX in line:
            data = _json_after(line, INTERVAL_PREFIX)
            interval = _interval(data, pending) if data is not None else None
            if interval is not None:
                intervals.append(interval)
            pending = {}  # histograms of a garbled interval line belong to no interval
        elif SUMMARY_PREFIX in line:
            data = _json_after(line, SUMMARY_PREFIX)
            summary = (_summary(data) if data is not None else None) or summary
        elif (match := _tag_line(line)) is not None:
            pending[match.group("kind")] = match.group("histogram")
            log_lines.append(match.group(0))
        elif _HEADER_LINE.match(line.strip()):
            log_lines.append(line.strip())
    return Output(intervals=intervals, summary=summary, histogram_log="".join(f"{ln}\n" for ln in log_lines))


# --- the task log ---------------------------------------------------------------------------

MB = 1024 * 1024  # as Kafka's perf tools count a MB


def _rates(records: int, value_bytes: int, seconds: float) -> str:
    if seconds <= 0:
        return "no time elapsed"
    return f"{records / seconds:,.0f} records/s, {value_bytes / MB / seconds:.2f} MB/s"


def log_line(line: str) -> str | None:
    """What the task log shows for one stdout line: a short sentence for an interval or the
    summary, None for the histogram log, the line itself for anything else."""
    if INTERVAL_PREFIX in line:
        data = _json_after(line, INTERVAL_PREFIX)
        interval = _interval(data, {}) if data is not None else None
        if interval is None:
            return line
        seconds = (interval.end_ms - interval.start_ms) / 1000
        if "received" in data:
            return f"interval {interval.seq}: {interval.received} received ({_rates(interval.received, interval.bytes, seconds)})"
        rates = _rates(interval.acked, interval.bytes, seconds)
        return f"interval {interval.seq}: {interval.acked} acked ({rates}), {interval.failed} failed"
    if SUMMARY_PREFIX in line:
        data = _json_after(line, SUMMARY_PREFIX)
        summary = _summary(data) if data is not None else None
        return _summary_line(summary) if summary is not None else line
    if _tag_line(line) is not None or _HEADER_LINE.match(line.strip()):
        return None
    return line


def _summary_line(s: Summary) -> str:
    seconds = (s.end_ms - s.start_ms) / 1000 if s.start_ms is not None and s.end_ms is not None else 0.0
    if s.role == "producer":
        target = f", target {s.target_rate:,.0f} records/s" if s.target_rate is not None else ", unthrottled"
        text = (f"producer done ({s.stopped_by}): {s.acked} acked, {s.failed} failed of {s.sent} sent "
                f"({_rates(s.acked, s.bytes, seconds)}{target})")
        return text + (f"; first error: {s.first_error}" if s.first_error else "")
    rebalance = f", rebalance {s.rebalance_ms:,.0f} ms" if s.rebalance_ms is not None else ""
    headerless = f", {s.without_header} without send-time header" if s.without_header else ""
    return f"consumer done ({s.stopped_by}): {s.received} received ({_rates(s.received, s.bytes, seconds)}{rebalance}{headerless})"
