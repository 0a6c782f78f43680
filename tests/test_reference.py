"""The guide's published results as reference runs: the shipped data file against the guide's
output blocks (tests/data/guide/), the runs in the tables and views, and which printed totals
and averages agree with their lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kafkalab.kafka.perftools import parse_producer_line
from kafkalab.model import ProducerSummary
from kafkalab.reports import reference
from kafkalab.results.store import Store
from tests.guide import BLOCKS, GUIDE_DIR, block_after, guide_lines
from tests.test_store import make_record

REF = reference.reference_runs()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _result_lines(text: str) -> list[str]:
    return [line for line in _lines(text) if "records sent" in line]


# ---------------------------------------------------------------- the data file against the guide


def test_the_guide_fixtures_are_the_listed_blocks() -> None:
    assert sorted(path.stem for path in GUIDE_DIR.glob("*.txt")) == sorted(BLOCKS)


def test_every_line_of_the_data_file_is_in_the_guide_verbatim() -> None:
    guide = {line.rstrip() for line in guide_lines()}
    for experiment in REF.experiments:
        for run in experiment.runs:
            for producer in run.producers:
                for line in _lines(producer.raw_output):
                    assert line in guide, (experiment.name, line)
            for consumer in run.consumers:
                for line in _lines(consumer.raw_output):
                    assert line in guide, (experiment.name, line)
        for figure in experiment.printed:
            assert figure.line in guide, (experiment.name, figure.line)


def test_every_result_line_of_the_guide_is_in_the_data_file() -> None:
    shipped = {
        line.split(": ", 1)[-1] if line.startswith("Service ") else line
        for e in REF.experiments for r in e.runs for p in r.producers for line in _lines(p.raw_output)
    }  # fmt: skip
    for line in guide_lines():
        if "records sent" in line:
            bare = line.rstrip().split(": ", 1)[-1] if line.startswith("Service ") else line.rstrip()
            assert bare in shipped, line
    printed = {f.line for e in REF.experiments for f in e.printed}
    assert {line.strip() for line in guide_lines() if line.startswith(("Average:", "Total Throughput:"))} == printed
    consumer_blocks = [c.raw_output for e in REF.experiments for r in e.runs for c in r.consumers]
    assert len(consumer_blocks) == sum(1 for line in guide_lines() if line.startswith("start.time - "))


@pytest.mark.parametrize("experiment", REF.experiments, ids=lambda e: e.name)
def test_each_experiment_holds_the_lines_of_its_guide_section(experiment: reference.ReferenceExperiment) -> None:
    block = block_after(experiment.settings["section"], count=experiment.settings["block"])
    if experiment.runs[0].consumers:
        assert _lines(experiment.runs[0].consumers[0].raw_output) == _lines(block)
        return
    in_guide = [line for line in _result_lines(block) if isinstance(parse_producer_line(line), ProducerSummary)]
    shipped = [
        next(line for line in reversed(_lines(p.raw_output)) if isinstance(parse_producer_line(line), ProducerSummary))
        for run in experiment.runs
        for p in run.producers
    ]
    assert shipped == in_guide
    printed = [line for line in _lines(block) if line.startswith(("Average:", "Total Throughput:"))]
    assert [f.line for f in experiment.printed][:1] == printed[:1]


def test_the_data_file_parses_into_the_guides_runs() -> None:
    shape = {e.name: [len(r.producers) for r in e.runs] for e in REF.experiments}
    assert shape == {
        "guide/baseline-250": [1] * 5, "guide/baseline-500": [1] * 5, "guide/baseline-1000": [1] * 5,
        "guide/tuning-lower": [1], "guide/tuning-upper": [1],
        "guide/consumer-default": [0], "guide/consumer-fetch-min-bytes": [0],
        "guide/6-brokers-1-producer": [1],
        "guide/3-producers": [3], "guide/10-producers": [10], "guide/15-producers": [15], "guide/25-producers": [25],
    }  # fmt: skip
    runs = [r for e in REF.experiments for r in e.runs]
    assert all(r.status == "ok" and r.source == "reference" for r in runs)
    assert all(p.status == "ok" and p.output.summary for r in runs for p in r.producers)
    assert len({r.reference_key for r in runs}) == len(runs)
    first = REF.experiment("guide/baseline-250").runs[0].producers[0].output
    assert [w.records for w in first.windows] == [943363, 1330321, 1521870]  # Step 6's progress lines
    service_1 = REF.experiment("guide/3-producers").runs[0].producers[0].output
    assert [w.records for w in service_1.windows] == [3495216, 4205303]
    sizes = {e.name: e.runs[0].record_size for e in REF.experiments}
    assert sizes["guide/baseline-1000"] == 1000 and sizes["guide/25-producers"] == 250
    brokers = {e.name: e.runs[0].brokers for e in REF.experiments}
    assert (brokers["guide/baseline-250"], brokers["guide/15-producers"], brokers["guide/25-producers"]) == (3, 6, 15)
    hardware = runs[0].hardware
    assert hardware["platform"] == "DC/OS 1.11" and "m3.xlarge" in hardware["instances"]
    assert hardware["broker"] == {"cpus": 3, "mem_mb": 12000, "disk_mb": 25000, "heap_mb": 512}


# ---------------------------------------------------------------- stored: tables, views, agreement


@pytest.fixture
def loaded(fresh_db_url: str):
    with Store(fresh_db_url) as store:
        first = reference.load(store)
        yield store, first


def test_load_is_idempotent(loaded) -> None:
    store, first = loaded
    assert (first.added, first.present, first.figures_added) == (24, 0, 28)
    counts = store.query(
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM producer_results), "
        "(SELECT count(*) FROM producer_windows), (SELECT count(*) FROM consumer_results), "
        "(SELECT count(*) FROM reference_figures), (SELECT count(*) FROM experiments)"
    )[1][0]
    assert counts == (24, 71, 5, 2, 28, 12)
    again = reference.load(store)
    assert (again.added, again.present, again.figures_added) == (0, 24, 0)
    assert store.query("SELECT count(*) FROM runs")[1][0][0] == 24


def test_views_tell_reference_from_measured(loaded) -> None:
    store, _ = loaded
    measured = store.save_run(make_record("mine"))
    for view in ("v_run_totals", "v_producer_results", "v_consumer_results"):
        rows = dict(store.query(f"SELECT source, count(DISTINCT run_id) FROM {view} GROUP BY 1")[1])
        assert set(rows) == {"measured", "reference"}, view
    assert store.query("SELECT source, hardware FROM v_run_totals WHERE run_id = :id", {"id": measured})[1] == [
        ("measured", None)
    ]
    # Totals in the views come from the lines: the guide's 3 services add up as printed.
    row = store.query(
        "SELECT total_records_per_sec, total_mb_per_sec, avg_latency_ms, avg_max_latency_ms, instances_ok "
        "FROM v_run_totals WHERE experiment = 'guide/3-producers'"
    )[1][0]
    assert (f"{row[0]:.2f}", f"{row[1]:.2f}", f"{row[2]:.2f}", f"{row[3]:.1f}", row[4]) == (
        "2307817.23", "550.23", "9.29", "229.3", 3,
    )  # fmt: skip
    consumer = store.query(
        "SELECT experiment, msgs_per_sec, source FROM v_consumer_results ORDER BY run_id"
    )[1]
    assert consumer[:2] == [("guide/consumer-default", 1087114.0745, "reference"),
                            ("guide/consumer-fetch-min-bytes", 1092259.5209, "reference")]  # fmt: skip


# Which printed figures the guide's own lines reproduce, at the precision printed.
DISAGREE = {
    ("guide/baseline-250", "total_mb_per_sec"): ("61.07", "61.08"),  # mean 61.076: truncated, not rounded
    ("guide/25-producers", "total_records_per_sec"): ("15193931.94", "16329284.31"),  # first 23 of 25 lines
    ("guide/25-producers", "total_mb_per_sec"): ("3983.42", "3893.42"),  # matches neither: digits swapped
}


def test_printed_totals_and_averages_against_the_computed_ones(loaded) -> None:
    store, _ = loaded
    columns, rows = reference.check_rows(store)
    checks = [dict(zip(columns, row, strict=True)) for row in rows]
    assert len(checks) == 28  # 7 printed lines x 4 figures
    assert {c["experiment"] for c in checks} == {
        "guide/baseline-250", "guide/baseline-500", "guide/baseline-1000",
        "guide/3-producers", "guide/10-producers", "guide/15-producers", "guide/25-producers",
    }  # fmt: skip
    disagreeing = {(c["experiment"], c["metric"]): (str(c["printed"]), str(c["computed_rounded"]))
                   for c in checks if not c["agrees"]}  # fmt: skip
    assert disagreeing == DISAGREE
    # Everything else agrees, e.g. the 250 B baseline's 256172.38 records/s and the
    # 10 producers' 6865627.639 (three decimals printed).
    agreeing = {(c["experiment"], c["metric"]): str(c["printed"]) for c in checks if c["agrees"]}
    assert agreeing[("guide/baseline-250", "total_records_per_sec")] == "256172.38"
    assert agreeing[("guide/10-producers", "total_records_per_sec")] == "6865627.639"
    assert agreeing[("guide/baseline-1000", "avg_max_latency_ms")] == "267"
    assert len(agreeing) == 25
    # The 250 B MB/s average is the one that a truncation reproduces.
    truncated = {(c["experiment"], c["metric"]) for c in checks if not c["agrees"] and c["truncated_agrees"]}
    assert truncated == {("guide/baseline-250", "total_mb_per_sec")}
    statistics = {c["experiment"]: c["statistic"] for c in checks}
    assert statistics["guide/baseline-500"] == "average" and statistics["guide/25-producers"] == "total"


def test_explanations_of_the_disagreements(loaded) -> None:
    store, _ = loaded
    found = {key: text for key, text in reference.explanations(REF, *reference.check_rows(store)).items() if text}
    assert set(found) == set(DISAGREE)
    assert found[("guide/baseline-250", "total_mb_per_sec")] == (
        "computed 61.076, which rounds to 61.08: the guide truncated it"
    )
    assert found[("guide/25-producers", "total_records_per_sec")] == (
        "computed 16329284.31: the printed total is the sum of the first 23 of the 25 lines"
    )
    assert found[("guide/25-producers", "total_mb_per_sec")] == (
        "computed 3893.42: the printed figure has two adjacent digits of it swapped"
    )


def test_printed_figures_parse_with_their_precision() -> None:
    figures = reference.printed_figures(
        "Total Throughput: 9437817.81 records/sec, 2250.16 MB/sec, 72.09 ms avg latency, 326.13 ms av max latency"
    )
    assert [(f.metric, f.printed, f.decimals) for f in figures] == [
        ("total_records_per_sec", Decimal("9437817.81"), 2), ("total_mb_per_sec", Decimal("2250.16"), 2),
        ("avg_latency_ms", Decimal("72.09"), 2), ("avg_max_latency_ms", Decimal("326.13"), 2),
    ]  # fmt: skip
    assert reference.printed_figures("Average: 1 records/sec, 2 MB/sec, 3 ms avg latency, 267 ms max latency")[3].decimals == 0
    with pytest.raises(ValueError):
        reference.printed_figures("Total: nothing")


def test_reference_cells_and_matching_a_measured_run(loaded) -> None:
    store, _ = loaded
    cells = store.query("SELECT experiment, brokers, producer_instances, record_size, runs FROM v_reference_cells")[1]
    assert len(cells) == 10  # every reference experiment with producers
    record = make_record("guide-like", brokers=3, record_size=250, producer_instances=1,
                         producer_props={"acks": "1", "batch.size": "8196", "compression.type": "none"})  # fmt: skip
    record.producers = record.producers[:1]
    run_id = store.save_run(record)
    store.save_run(make_record("unmatched"))
    matches = store.query("SELECT run_id, reference_experiment, reference_runs FROM v_reference_match")[1]
    assert matches == [(run_id, "guide/baseline-250", 5)]
