"""Change points over an experiment's history (Apache Otava's E-divisive means) and `kafkalab check`.

Generated series with one step of known size and place: the change point is found within
one point of it; on flat noise, (next to) none. Stored histories go through the real store
on a real PostgreSQL: `kafkalab check` exits 3 when the newest change point is a
regression, stores the change points, and the experiment's report marks them.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from kafkalab.analysis import changepoints, noise
from kafkalab.app import cli
from kafkalab.reports.htmlreport import write_report
from kafkalab.results.store import Store
from tests.databases import fresh_database
from tests.history_data import T0, nightly, store_all
from tests.test_compare import generated_run

SERIES = 100  # generated series per case


def _noisy(rng: np.random.Generator, n: int, mean: float = 50_000, cv: float = 0.02) -> np.ndarray:
    return rng.normal(mean, cv * mean, n)


def test_one_step_of_known_size_and_place_is_found_within_one_point():
    for seed in range(SERIES):
        rng = np.random.default_rng(seed)
        values = _noisy(rng, 80)
        values[50:] *= 0.9  # a 10% drop at point 50, five times the noise (2%)
        found = changepoints.detect(values)
        assert len(found) == 1 and abs(found[0].index - 50) <= 1, (seed, [p.index for p in found])
        assert found[0].change_share == pytest.approx(-0.1, abs=0.02)


def test_flat_noise_has_no_change_point_save_rare_false_alarms():
    alarms = sum(bool(changepoints.detect(_noisy(np.random.default_rng(1000 + seed), 80))) for seed in range(SERIES))
    assert alarms <= 5  # p < 0.0001 per split: about 2 in 100 series of 80 points on this generator


def test_a_step_smaller_than_the_noise_floor_is_not_a_change():
    rng = np.random.default_rng(7)
    values = _noisy(rng, 60, cv=0.005)
    values[30:] *= 0.97  # 3%: clear against 0.5% noise, but within a 5% floor
    assert [p.index for p in changepoints.detect(values)] == [30]
    assert changepoints.detect(values, min_share=0.05) == []


@pytest.fixture
def store(results_db_url: str):
    with fresh_database(results_db_url, "test_changepoints") as url, Store(url) as store:
        yield store


def _nights(rng: np.random.Generator, levels: list[tuple[int, float]]) -> list[float]:
    return [float(v) for count, level in levels for v in rng.normal(level, 0.01 * level, count)]


def _check(store: Store, monkeypatch, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", store.url)
    return cli.main(["check", *args])


def test_check_exits_3_on_a_throughput_drop_and_stores_the_change_point(store, monkeypatch, capsys):
    totals = _nights(np.random.default_rng(3), [(20, 50_000.0), (8, 44_000.0)])
    ids = store_all(store, nightly("nightly", totals))
    assert _check(store, monkeypatch, "--experiment", "nightly") == 3
    out = capsys.readouterr().out
    assert f"window throughput changed at run {ids[20]}" in out and "REGRESSION" in out
    _, rows = store.query("SELECT metric, run_id, position, regression, change_percent FROM v_change_points "
                          "WHERE experiment = 'nightly'", {})
    assert [row[:4] for row in rows] == [("window_records_per_sec", ids[20], 20, True)]
    assert rows[0][4] == pytest.approx(100 * (44_000 / 50_000 - 1), abs=1.0)  # -12%, give or take the noise

    # The next nights recover: the newest change point is an improvement, and the stored points follow.
    store_all(store, nightly("nightly", _nights(np.random.default_rng(4), [(8, 50_000.0)]),
                             start=T0 + timedelta(days=28)))
    assert _check(store, monkeypatch, "--experiment", "nightly") == 0
    assert "an improvement, ok" in capsys.readouterr().out
    _, rows = store.query("SELECT run_id, regression FROM v_change_points ORDER BY position", {})
    assert [r[1] for r in rows] == [True, False] and rows[0][0] == ids[20]

    # Today's rule stays: the newest run against the median of the previous ones.
    assert _check(store, monkeypatch, "--experiment", "nightly", "--method", "threshold") == 0
    assert "of the previous 30 ok run(s)" in capsys.readouterr().out


def test_check_finds_a_p99_rise_from_merged_histograms(store, monkeypatch, capsys):
    for i in range(16):
        moment = T0 + timedelta(days=i)
        store.save_run(generated_run("latency", moment, rate=20_000, latency_ms=2.0 if i < 10 else 6.0, seed=i))
    assert _check(store, monkeypatch, "--experiment", "latency") == 3
    out = capsys.readouterr().out
    assert "p99 changed at run" in out and "window throughput changed" not in out
    analysis = changepoints.analyse(store, "latency")
    assert [(c.metric, c.position, c.regression) for c in analysis.change_points] == [("p99_ms", 10, True)]
    assert analysis.series["p99_ms"].latency_kind == "corrected"


def test_flat_history_and_short_history_and_a_failed_newest_run(store, monkeypatch, capsys):
    store_all(store, nightly("flat", _nights(np.random.default_rng(5), [(25, 30_000.0)])))
    assert _check(store, monkeypatch, "--experiment", "flat") == 0
    assert "no change point in window throughput or p99: ok" in capsys.readouterr().out
    store_all(store, nightly("short", [30_000.0, 31_000.0]))
    assert _check(store, monkeypatch, "--experiment", "short") == 0
    assert "no verdict: change points need at least 5 runs" in capsys.readouterr().out
    store_all(store, nightly("flat", [None], start=T0 + timedelta(days=40)))
    assert _check(store, monkeypatch, "--experiment", "flat") == 3
    assert "failed: REGRESSION" in capsys.readouterr().out


def test_a_noise_floor_above_the_change_keeps_check_quiet(store, monkeypatch, capsys):
    store_all(store, nightly("floored", _nights(np.random.default_rng(6), [(15, 50_000.0), (6, 46_000.0)])))
    assert _check(store, monkeypatch, "--experiment", "floored") == 3
    capsys.readouterr()
    floor = noise.NoiseFloor("floored", "noise-floored", noise.host(), 5, (1, 2, 3, 4, 5), 50_000.0, 5_000.0, 0.1,
                             None, None, None, None)
    noise.save(store, floor)
    assert _check(store, monkeypatch, "--experiment", "floored") == 0
    assert "noise floor 10.0%" in capsys.readouterr().out


def test_report_of_an_experiment_marks_its_change_points(store, tmp_path):
    store_all(store, nightly("marked", _nights(np.random.default_rng(8), [(12, 50_000.0), (8, 40_000.0)])))
    report = write_report(store, tmp_path, experiment="marked")
    assert "trend_change_points" in report.charts
    assert 'id="trend_change_points"' in report.path.read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--experiment", "nosuch"], "check: no measured runs of experiment 'nosuch'"),
    (["--experiment", "x", "--max-pvalue", "2"], "check: --max-pvalue 2.0: give a probability between 0 and 1 (e.g. 0.0001)"),
    (["--experiment", "x", "--min-runs", "1"], "check: --min-runs 1: change points need at least 3 runs"),
])  # fmt: skip
def test_bad_input_is_one_line(store, monkeypatch, capsys, args, message):
    assert _check(store, monkeypatch, *args) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err == f"kafkalab: {message}"


def test_the_scheduled_flows_artifact_shows_the_verdict_table_and_chart(store):
    from tasks.changepoints import _markdown

    ids = store_all(store, nightly("artifact", _nights(np.random.default_rng(9), [(12, 50_000.0), (8, 40_000.0)])))
    markdown = _markdown(changepoints.analyse(store, "artifact"))
    assert markdown.startswith("**artifact**: **REGRESSION**")
    assert f"| window throughput | {ids[12]} |" in markdown and "data:image/png;base64," in markdown
