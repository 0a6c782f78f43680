"""Real runs get a bottleneck verdict and a fingerprint, and they show where a user looks.

Two experiment flow runs on a real 1-broker cluster (heap 256 MB), kafkalab's load
generator, with the samplers on: a low-rate run that keeps its target (`none`), and an
unthrottled run with the broker and the generator sharing this machine's 2 cores
(`machine-bound`). Their broker settings differ in one setting (num.io.threads), so their
fingerprints differ by it. Then: v_run_totals, `kafkalab results`, `kafkalab check`, the
HTML report.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kafkalab.app import cli
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec
from tests.conftest import jvms_of

pytestmark = pytest.mark.kafka

EXPERIMENT = "it-verdicts"


def spec(*, throughput: float, num_records: int, io_threads: int, record_size: int) -> dict:
    return {
        "name": EXPERIMENT,
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192,
                    "broker_config": {"num.io.threads": io_threads}},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"tool": "kafkalab", "instances": 1, "num_records": num_records, "record_size": record_size,
                     "throughput": throughput, "reporting_interval_ms": 1000, "heap_mb": 192,
                     "props": {"acks": 1, "linger.ms": 5}},
        "consumer": {"enabled": False},
        "load": {"warmup_s": 2},
    }


@pytest.fixture(scope="module")
def runs(prefect_api, lab_env, kafka_dist):
    from flows.experiment import experiment

    # different record sizes: two cells of the report, each with its own panels
    low = experiment(parse_spec(spec(throughput=500, num_records=5000, io_threads=4, record_size=200)))[0]
    # unthrottled: as many records as this machine sends in roughly 10-20 s
    flat_out = experiment(parse_spec(spec(throughput=-1, num_records=1_500_000, io_threads=8, record_size=100)))[0]
    with Store() as store:
        totals = store.run_totals([low, flat_out])
        _, dirs = store.query("SELECT run_dir FROM runs WHERE id = ANY(:ids)", {"ids": [low, flat_out]})
    return {"low": totals[low], "flat_out": totals[flat_out], "run_dirs": [Path(d) for (d,) in dirs]}


def test_a_low_rate_run_that_kept_its_target_is_none(runs):
    low = runs["low"]
    assert low["status"] == "ok" and low["saturated"] is False
    assert low["bottleneck"] == "none", low["bottleneck_summary"]
    assert low["bottleneck_summary"].startswith("none: the target rate was met")


def test_an_unthrottled_run_on_two_cores_is_machine_bound(runs):
    flat_out = runs["flat_out"]
    assert flat_out["status"] == "ok" and flat_out["saturated"] is True
    assert flat_out["bottleneck"] == "machine-bound", flat_out["bottleneck_summary"]
    with Store() as store:
        _, rows = store.query("SELECT bottleneck_evidence FROM runs WHERE id = :id", {"id": flat_out["run_id"]})
    busy = next(e for e in rows[0][0] if e["figure"] == "host cpu_busy_pct")
    assert busy["value"] >= busy["threshold"] == 90.0 and busy["at"] is not None


def test_the_fingerprints_differ_by_the_one_broker_setting(runs):
    low, flat_out = runs["low"], runs["flat_out"]
    assert low["fingerprint_id"] and flat_out["fingerprint_id"] and low["fingerprint_id"] != flat_out["fingerprint_id"]
    with Store() as store:
        _, rows = store.query("SELECT broker_settings ->> 'num.io.threads', cores, java_version FROM v_environment "
                              "WHERE run_id = ANY(:ids) ORDER BY run_id", {"ids": [low["run_id"], flat_out["run_id"]]})
    assert [r[0] for r in rows] == ["4", "8"]
    assert all(r[1] and r[2] for r in rows)


def test_kafkalab_results_shows_the_verdict_and_the_fingerprint_id(runs, capsys):
    assert cli.main(["results", "--experiment", EXPERIMENT]) == 0
    table = capsys.readouterr().out
    header = table.splitlines()[0]
    assert "bottleneck" in header and "fingerprint_id" in header
    for run in (runs["low"], runs["flat_out"]):
        line = next(li for li in table.splitlines() if re.match(rf"\s*{run['run_id']}\b", li))
        assert run["bottleneck"] in line and run["fingerprint_id"] in line


def test_kafkalab_check_says_what_differs(runs, capsys):
    assert cli.main(["check", "--experiment", EXPERIMENT, "--method", "threshold"]) == 0  # too few runs: no verdict
    out = capsys.readouterr().out
    assert "the fingerprints of the compared runs differ" in out
    assert "  broker setting num.io.threads: 4 -> 8" in out.splitlines()


def test_the_report_heads_each_run_with_its_verdict(runs, tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path), "--experiment", EXPERIMENT]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Where the limit was</h2>" in page
    for run in (runs["low"], runs["flat_out"]):
        headline = re.search(rf'<h3 id="limit-{run["run_id"]}">[^<]*<span class="verdict">([^<]*)</span>', page)
        assert headline is not None and headline.group(1) == run["bottleneck"]
        assert f'id="limits-run-{run["run_id"]}"' in page
    cells = page[page.index('<table id="cells-table">'):]
    assert cells.split("</tr>")[0].endswith("<th>bottleneck</th>")  # the last column
    assert "<td>100</td>" in cells and "<td>200</td>" in cells  # one cell per record size
    assert sorted(re.findall(r"<td>([^<]*)</td></tr>", cells)) == ["machine-bound", "none"]
    from kafkalab.reports.htmlreport import write_report

    summary = write_report(None, tmp_path / "again", experiment=EXPERIMENT).summary_markdown  # the sweep's artifact
    assert summary.splitlines()[2].endswith("| bottleneck |")
    assert sorted(line.rsplit("|", 2)[1].strip() for line in summary.splitlines()[4:]) == ["machine-bound", "none"]


def test_the_flows_summary_artifact_has_the_verdict_line(runs):
    import asyncio

    from prefect.client.orchestration import get_client

    async def markdowns() -> list[str]:
        async with get_client() as client:
            return [str(a.data) for a in await client.read_artifacts(limit=200) if a.type == "markdown"]

    summaries = [m for m in asyncio.run(markdowns()) if f"kafkalab experiment `{EXPERIMENT}`" in m]
    for run in (runs["low"], runs["flat_out"]):
        line = f"- run {run['run_id']} limit: **{run['bottleneck']}**: "
        assert any(line in summary for summary in summaries), line


def test_the_runs_leave_no_jvm(runs):
    assert all(jvms_of(d) == [] for d in runs["run_dirs"])
