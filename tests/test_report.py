"""`kafkalab report`: a self-contained HTML page whose charts a browser shows.

Once from a known synthetic history (fast, every chart including the guide's reference),
once from a small real sweep on real brokers; each page is screenshotted by headless
Chromium into test-output/ and the screenshot must show the charts."""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from kafkalab.app import cli
from kafkalab.reports import reference
from kafkalab.reports.htmlreport import write_report
from kafkalab.results.store import Store
from tests.browser import OUTPUT_DIR, colored_share, is_blank, screenshot
from tests.databases import fresh_database
from tests.history_data import BASELINE, LOWER, T0, profiles_history, run, scale_history, sizes_history, store_all

ALL_CHARTS = {
    "throughput_vs_brokers", "throughput_vs_record_size", "latency_percentiles", "instance_windows",
    "measured_vs_reference",
}  # fmt: skip


def embedded_images(page: str) -> dict[str, Image.Image]:
    """The PNGs inlined in the page, by the id of their figure."""
    found = {}
    for figure_id, data in re.findall(r'<figure id="(\w+)"><img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page):
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.load()
        found[figure_id] = image
    return found


def assert_charts_on_screen(page: Path, shot: Path, tmp_path: Path) -> None:
    """The charts' coloured lines and bars are on screen: the screenshot holds several times
    the coloured pixels of the same page with its images taken out (links and badges are
    coloured too, and how much a chart colours depends on the data, so no fixed share)."""
    assert not is_blank(shot)
    bare_page = tmp_path / f"{page.stem}-without-images.html"
    bare_page.write_text(re.sub(r"<img [^>]*>", "", page.read_text(encoding="utf-8")), encoding="utf-8")
    with Image.open(shot) as image:
        height = image.height
    bare = screenshot(bare_page, tmp_path / f"{page.stem}-without-images.png", height=height)
    assert colored_share(shot) > 3 * colored_share(bare) + 0.002, "the charts do not show in the page"


def assert_self_contained(page: str) -> None:
    assert not re.search(r'(?:src|href)="(?!data:|#)', page), "the page refers to another file or a URL"
    assert "<script" not in page and "<link" not in page


@pytest.fixture(scope="module")
def synthetic_url(results_db_url: str):
    with fresh_database(results_db_url, "test_report") as url:
        with Store(url) as store:
            reference.load(store)
            store_all(store, scale_history() + sizes_history() + profiles_history())
            store.save_run(run("mine", T0 + timedelta(hours=11), rates=[250000.0], props=BASELINE))
            store.save_run(run("mine", T0 + timedelta(hours=12), rates=[800000.0] * 3, brokers=6, props=LOWER,
                               profile="throughput-lower", partitions=30,
                               windows=[[700000.0, 800000.0, 900000.0]] * 3))  # fmt: skip
        yield url


def test_report_of_a_known_history(synthetic_url: str, tmp_path: Path) -> None:
    with Store(synthetic_url) as store:
        report = write_report(store, tmp_path / "all")
    assert report.path == tmp_path / "all" / "report.html" and report.path.exists()
    assert (report.runs, report.cells) == (17, 9)
    page = report.path.read_text(encoding="utf-8")
    assert_self_contained(page)
    images = embedded_images(page)
    assert set(images) == ALL_CHARTS == set(report.charts)
    for name, image in images.items():
        assert image.width >= 500 and image.height >= 200, name
        assert len(image.convert("RGB").getcolors(1 << 24) or []) > 20, f"{name} is (nearly) blank"
    # Measured beside the guide: the cells that match a reference cell, with their ratio.
    assert report.reference_pairs == 5
    table = page.split('id="reference-table"')[1].split("</table>")[0]
    for guide in ("guide/baseline-250", "guide/baseline-500", "guide/baseline-1000", "guide/3-producers"):
        assert guide in table
    assert "guide/25-producers" not in table  # no measured cell has 25 producers
    assert "| 6 | 3 | 250 | throughput-lower | 1 | 2,400,000 |" in report.summary_markdown

    shot = screenshot(report.path, OUTPUT_DIR / "report-known-history.png")
    assert_charts_on_screen(report.path, shot, tmp_path)


def test_report_of_one_experiment_and_errors(synthetic_url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    with Store(synthetic_url) as store:
        report = write_report(store, tmp_path, experiment="sizes")
    assert (report.runs, report.cells) == (3, 3) and report.reference_pairs == 3
    assert report.title == "Experiment sizes"
    # The guide's own runs can be reported too (an experiment name selects any source).
    with Store(synthetic_url) as store:
        guide = write_report(store, tmp_path / "guide", experiment="guide/15-producers")
    assert guide.runs == 1 and "instance_windows" not in guide.charts  # the guide printed no windows for it
    guide_page = guide.path.read_text(encoding="utf-8")
    assert 'id="no-reference"' in guide_page and 'id="no-instance_windows"' in guide_page

    monkeypatch.setenv("DATABASE_URL", synthetic_url)
    assert cli.main(["report", "--out", str(tmp_path / "cli"), "--experiment", "scale"]) == 0
    # one record size: no size curve; one experiment: its trend with change points
    assert "8 runs, 4 cells, 5 charts" in capsys.readouterr().out
    assert cli.main(["report", "--out", str(tmp_path / "none"), "--experiment", "nobody"]) == 2
    assert "report: no runs stored for experiment 'nobody'" in capsys.readouterr().err


# ---------------------------------------------------------------- a real sweep


@pytest.fixture(scope="module")
def real_sweep(prefect_api, lab_env, kafka_dist):
    """A small real sweep: 1 -> 2 brokers x 1 and 2 producers, one repetition, progress windows
    every 100 ms (records capped at 5000/s per producer so each run lasts about a second)."""
    from flows.sweep import sweep
    from kafkalab.spec import parse_sweep

    spec = parse_sweep({
        "name": "it-report-sweep",
        "base": {
            "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
            "topic": {"partitions": 2, "replication_factor": 1},
            "producer": {"num_records": 5000, "throughput": 5000, "heap_mb": 128, "reporting_interval_ms": 100,
                         "props": {"acks": 1}},
            "consumer": {"enabled": False},
        },
        "axes": {"cluster.brokers": [1, 2], "producer.instances": [1, 2]},
        "repetitions": 1,
    })  # fmt: skip
    return sweep(spec)


@pytest.mark.kafka
def test_report_of_a_real_sweep(real_sweep: int, tmp_path: Path) -> None:
    report = write_report(None, tmp_path, sweep_id=real_sweep)  # DATABASE_URL: the session's results
    assert (report.runs, report.cells) == (4, 4)
    assert report.title.startswith(f"Sweep {real_sweep} (it-report-sweep)")
    page = report.path.read_text(encoding="utf-8")
    assert_self_contained(page)
    images = embedded_images(page)
    # One record size: no record-size curve, and the page says so; no reference cell matches.
    assert set(images) == {"throughput_vs_brokers", "latency_percentiles", "instance_windows", "latency_distribution",
                           "corrected_p99_over_time", "window_throughput"}
    assert 'id="no-throughput_vs_record_size"' in page and 'id="no-reference"' in page
    assert report.main_chart is not None and report.main_chart.startswith(b"\x89PNG")
    assert report.chart_markdown().startswith("![throughput vs brokers](data:image/png;base64,iVBOR")
    assert report.chart_markdown("throughput_vs_record_size") == ""  # not drawn: one record size
    assert f"**Sweep {real_sweep} (it-report-sweep)**: 4 runs in 4 cells" in report.summary_markdown
    shot = screenshot(report.path, OUTPUT_DIR / "report-real-sweep.png", height=3000)
    assert_charts_on_screen(report.path, shot, tmp_path)
