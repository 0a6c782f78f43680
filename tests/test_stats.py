"""The guide's arithmetic: which printed totals and averages its own lines reproduce.

Values are compared at the precision the guide printed them, formatted the way the guide
shows them. Where the guide disagrees with its lines, the test states what does hold.
A run's totals are v_run_totals' (their one definition): the guide's blocks are stored as
runs on a real PostgreSQL and read back through the view.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.kafka.perftools import parse_producer_line
from kafkalab.model import ProducerOutcome, ProducerOutput, ProducerSummary
from kafkalab.results.stats import spread
from kafkalab.results.store import Store
from tests.databases import fresh_database
from tests.guide import block_after
from tests.test_store import make_record

_PRINTED = re.compile(
    r"(?:Total Throughput|Average): ([\d.]+) records/sec, ([\d.]+)\s+MB/sec, ([\d.]+) ms avg latency, "
    r"([\d.]+) ms (?:avg |av )?max latency"
)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _block(heading: str, count: int = 1) -> tuple[list[ProducerSummary], tuple[str, ...]]:
    """The summaries of a guide block and the four numbers printed under them, as text."""
    text = block_after(heading, count=count)
    summaries = [s for s in map(parse_producer_line, text.splitlines()) if isinstance(s, ProducerSummary)]
    printed = _PRINTED.search(text)
    assert printed, f"no total under {heading!r}"
    return summaries, printed.groups()


def _as_printed(value: float, printed: str) -> str:
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return f"{value:.{decimals}f}"


def _reproduced(values: tuple[float, ...], printed: tuple[str, ...]) -> list[bool]:
    return [_as_printed(v, p) == p for v, p in zip(values, printed)]


@pytest.fixture(scope="module")
def store(results_db_url: str):
    """One database for the module's runs (module-scoped: migrated once)."""
    with fresh_database(results_db_url, "test_stats") as url, Store(url) as store:
        yield store


def stored_totals(store: Store, summaries: list[ProducerSummary], statuses: list[str] | None = None) -> dict:
    """The v_run_totals row of a run whose producer instances printed `summaries`."""
    statuses = statuses or ["ok"] * len(summaries)
    record = make_record(f"stats-{uuid.uuid4().hex[:8]}", producer_instances=len(summaries), producers=[
        ProducerOutcome(i, f"perf-producer-{i}", status, s.records, 0 if status == "ok" else 1,  # type: ignore[arg-type]
                        ProducerOutput(windows=[], summary=s), "", T0, T0)
        for i, (s, status) in enumerate(zip(summaries, statuses, strict=True))
    ])  # fmt: skip
    run_id = store.save_run(record)
    return store.run_totals([run_id])[run_id]


MULTI_PRODUCER = {
    "### Example output from 3 Producers": (3, 1),
    "### Example output from 10 Producers": (10, 2),
    "### Example output from 15 Producers": (15, 2),
}


def test_three_producers_total(store):
    summaries, printed = _block("### Example output from 3 Producers")
    assert printed == ("2307817.23", "550.23", "9.29", "229.3")
    t = stored_totals(store, summaries)
    assert t["instances_ok"] == 3 and t["total_records"] == 30_000_000
    assert f"{t['total_records_per_sec']:.2f}" == "2307817.23"
    assert f"{t['total_mb_per_sec']:.2f}" == "550.23"
    assert f"{t['avg_latency_ms']:.2f}" == "9.29"
    assert f"{t['avg_max_latency_ms']:.1f}" == "229.3"
    # What the guide does not print: the worst instance and the record-weighted latency.
    assert t["max_latency_ms"] == 241.0
    assert (t["worst_p50_ms"], t["worst_p95_ms"], t["worst_p99_ms"], t["worst_p999_ms"]) == (9, 16, 62, 118)
    assert t["weighted_avg_latency_ms"] == pytest.approx(t["avg_latency_ms"])  # equal record counts


@pytest.mark.parametrize("heading", list(MULTI_PRODUCER))
def test_multi_producer_totals_agree_with_their_lines(store, heading):
    instances, count = MULTI_PRODUCER[heading]
    summaries, printed = _block(heading, count)
    assert len(summaries) == instances
    t = stored_totals(store, summaries)
    values = (t["total_records_per_sec"], t["total_mb_per_sec"], t["avg_latency_ms"], t["avg_max_latency_ms"])
    assert _reproduced(values, printed) == [True] * 4, (values, printed)


def test_25_producer_total_disagrees_with_its_lines(store):
    summaries, printed = _block("25 Producers Output:")
    assert printed == ("15193931.94", "3983.42", "11.13", "290.2")
    assert len(summaries) == 25
    t = stored_totals(store, summaries)
    first_23 = stored_totals(store, summaries[:23])
    # The latencies are the mean over all 25 lines, as printed ...
    assert f"{t['avg_latency_ms']:.2f}" == "11.13"
    assert f"{t['avg_max_latency_ms']:.1f}" == "290.2"
    # ... but the printed records/sec is the sum of the first 23 lines only (the last two,
    # 636051.39 and 499300.98 records/sec, are left out) ...
    assert f"{t['total_records_per_sec']:.2f}" == "16329284.31"
    assert f"{first_23['total_records_per_sec']:.2f}" == "15193931.94"
    # ... and the printed MB/sec matches neither: all 25 sum to 3893.42 (the printed 3983.42
    # has two digits swapped), the first 23 to 3622.73.
    assert f"{t['total_mb_per_sec']:.2f}" == "3893.42"
    assert f"{first_23['total_mb_per_sec']:.2f}" == "3622.73"


def test_25_producer_block_holds_copied_and_edited_lines():
    summaries, _ = _block("25 Producers Output:")
    # Lines 1 and 5 are identical, and line 3's MB/sec does not follow from its records/sec
    # at 250-byte records (line 4, differing only in records/sec, does).
    assert summaries[0] == summaries[4]
    assert f"{summaries[2].records_per_sec * 250 / 2**20:.2f}" == "155.12" != f"{summaries[2].mb_per_sec:.2f}"
    assert f"{summaries[3].records_per_sec * 250 / 2**20:.2f}" == f"{summaries[3].mb_per_sec:.2f}"


def test_250_byte_baseline_average_of_5_runs():
    summaries, printed = _block("**Record Size: 250 bytes**")
    assert printed == ("256172.38", "61.07", "3.67", "266.6")
    assert len(summaries) == 5
    rps = spread(s.records_per_sec for s in summaries)
    mbps = spread(s.mb_per_sec for s in summaries)
    avg = spread(s.avg_latency_ms for s in summaries)
    mx = spread(s.max_latency_ms for s in summaries)
    assert f"{rps.mean:.2f}" == "256172.38"
    assert f"{avg.mean:.2f}" == "3.67"
    assert f"{mx.mean:.1f}" == "266.6"
    # The mean MB/sec is 305.38 / 5 = 61.076: it rounds to 61.08, the guide printed 61.07
    # (truncated, where every other average in the guide is rounded).
    assert f"{mbps.mean:.3f}" == "61.076"
    assert f"{mbps.mean:.2f}" == "61.08"
    assert math.trunc(mbps.mean * 100) / 100 == 61.07
    assert (rps.n, rps.min, rps.max) == (5, 241091.66305, 266937.162992)
    assert (mx.min, mx.max) == (250.0, 284.0)


@pytest.mark.parametrize(
    "heading, record_size", [("**Record Size: 500 bytes**", 500), ("**Record Size: 1 kB**", 1000)]
)
def test_other_baseline_averages_agree_with_their_lines(heading, record_size):
    summaries, printed = _block(heading)
    assert len(summaries) == 5
    means = tuple(
        spread(getattr(s, field) for s in summaries).mean
        for field in ("records_per_sec", "mb_per_sec", "avg_latency_ms", "max_latency_ms")
    )
    assert _reproduced(means, printed) == [True] * 4, (means, printed)
    # "1 kB" means 1000 bytes: that is what makes each line's MB/sec follow from its records/sec.
    for s in summaries:
        assert f"{s.records_per_sec * record_size / 2**20:.2f}" == f"{s.mb_per_sec:.2f}"


def _summary(records: int, avg: float, mx: float, p99: float) -> ProducerSummary:
    return ProducerSummary(records, 1000.0, 1.0, avg, mx, 1, 2, p99, p99 + 1)


def test_run_totals_weigh_latency_by_records_and_count_ok_instances_only(store):
    failed = ProducerSummary(10, 9999.0, 99.0, 999.0, 9999.0, 999, 999, 999, 999)
    t = stored_totals(store, [_summary(3000, 2.0, 10, 5), _summary(1000, 10.0, 50, 40), failed], ["ok", "ok", "failed"])
    assert {k: t[k] for k in (
        "instances_ok", "total_records", "total_records_per_sec", "total_mb_per_sec", "avg_latency_ms",
        "weighted_avg_latency_ms", "avg_max_latency_ms", "max_latency_ms", "worst_p50_ms", "worst_p95_ms",
        "worst_p99_ms", "worst_p999_ms",
    )} == {
        "instances_ok": 2, "total_records": 4000, "total_records_per_sec": 2000.0, "total_mb_per_sec": 2.0,
        "avg_latency_ms": 6.0, "weighted_avg_latency_ms": 4.0, "avg_max_latency_ms": 30.0, "max_latency_ms": 50,
        "worst_p50_ms": 1, "worst_p95_ms": 2, "worst_p99_ms": 40, "worst_p999_ms": 41,
    }  # fmt: skip


def test_run_totals_of_zero_records_have_no_weighted_latency(store):
    # No record to weigh by: NULL, never a made-up number (the plain mean is avg_latency_ms).
    zero = ProducerSummary(0, 0.0, 0.0, 3.0, 0.0, 0, 0, 0, 0)
    t = stored_totals(store, [zero, zero])
    assert t["weighted_avg_latency_ms"] is None and t["avg_latency_ms"] == 3.0


def test_empty_inputs_are_rejected():
    with pytest.raises(ValueError):
        spread([])


def test_spread_of_one_and_of_several():
    assert spread([5.0]) == spread([5]) and spread([5.0]).stddev == 0.0
    s = spread([2, 4, 4, 4, 5, 5, 7, 9])
    assert (s.n, s.mean, s.min, s.max) == (8, 5.0, 2.0, 9.0)
    assert s.stddev == pytest.approx(math.sqrt(32 / 7))  # sample, not population (2.0)


@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=50))
def test_spread_is_bounded(values):
    s = spread(values)
    assert s.n == len(values) and s.stddev >= 0
    assert s.min <= s.mean + 1e-6 * max(1.0, abs(s.mean)) and s.mean <= s.max + 1e-6 * max(1.0, abs(s.mean))
