"""The SQL cookbook, the pandas loaders and the regression check on a known history, on a
real PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pandas as pd
import pytest

from kafkalab.app import cli
from kafkalab.core.errors import SpecError
from kafkalab.reports import history, queries, reference, trend
from kafkalab.results.store import Store
from tests.databases import fresh_database
from tests.history_data import (
    BASELINE,
    T0,
    nightly,
    profiles_history,
    run,
    scale_history,
    sizes_history,
    store_all,
)

MB = 2**20


@pytest.fixture(scope="module")
def history_url(results_db_url: str):
    """One database with the whole known history (module-scoped: built once)."""
    with fresh_database(results_db_url, "test_history") as url:
        with Store(url) as store:
            reference.load(store)
            store_all(store, scale_history() + sizes_history() + profiles_history())
            store_all(store, nightly("nightly", [1000, 1010, 990, 1000, 1005, 995, 850]))
            store_all(store, nightly("steady", [1000, 1010, 990, 1000, 1005, 995, 960], start=T0 + timedelta(hours=5)))
            store_all(store, nightly("broken", [1000, 1000, 1000, None], start=T0 + timedelta(hours=6)))
            store_all(store, nightly("shift", [2000, 2000, 2000, 1000, 1000, 1000, 905], start=T0 + timedelta(hours=7)))
            store_all(store, nightly("young", [1000, 500], start=T0 + timedelta(hours=8)))
            at = T0 + timedelta(days=30)
            for day in range(4):
                store.save_run(run("upgrade", at - timedelta(days=4 - day), rates=[1000.0], p99=10.0))
                store.save_run(run("upgrade", at + timedelta(days=day), rates=[1100.0], p99=15.0))
            store.save_run(run("windows", T0 + timedelta(hours=9), rates=[200.0, 150.0],
                               windows=[[100.0, 200.0, 300.0], [150.0, 150.0, 150.0]], reporting_interval_ms=1000))
            store.save_run(run("windows", T0 + timedelta(hours=10), rates=[100.0], windows=[[100.0, 100.0, 100.0]]))
            store.save_run(run("mine", T0 + timedelta(hours=11), rates=[250000.0], props=BASELINE))
            store.save_run(run("mine", T0 + timedelta(hours=12), rates=[1000.0] * 10, brokers=6, props=BASELINE))
        yield url


@pytest.fixture(scope="module")
def store(history_url: str):
    with Store(history_url) as store:
        yield store


def cook(store: Store, name: str, **params: object) -> list[dict]:
    """A cookbook query run as `kafkalab sql --file NAME --param k=v` runs it."""
    query = queries.resolve(name)
    columns, rows = store.query(query.sql, query.bind({k: str(v) for k, v in params.items()}))
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _pick(rows: list[dict], *keys: str) -> list[tuple]:
    return [tuple(round(r[k], 6) if isinstance(r[k], float) else r[k] for k in keys) for r in rows]


# ---------------------------------------------------------------- cookbook queries


def test_every_cookbook_query_is_documented() -> None:
    cookbook = queries.cookbook()
    assert {q.name for q in cookbook} == {
        "scaling_curve", "record_size_curve", "profile_comparison", "run_vs_reference", "nightly_trend",
        "before_after", "instance_windows", "window_stability",
    }  # fmt: skip
    for q in cookbook:
        header = q.sql.split("\nSELECT")[0].split("\nWITH")[0]
        assert q.title and "-- Question:" in header and "-- Parameters" in header and "-- Returns:" in header, q.name
        used = set(__import__("re").findall(r"(?<![:\w]):([a-z_]+)\b", q.sql.split("-- Returns:")[1]))
        assert used == {p.name for p in q.params}, q.name  # every parameter declared, every declared one used


def test_scaling_curve(store: Store) -> None:
    rows = cook(store, "scaling_curve", experiment="scale")
    assert _pick(rows, "record_size", "producer_instances", "brokers", "runs", "mean_records_per_sec",
                 "mean_worst_p99_ms") == [
        (250, 1, 3, 2, 3000.0, 31.0), (250, 1, 6, 2, 6000.0, 61.0),
        (250, 3, 3, 2, 9000.0, 35.0), (250, 3, 6, 2, 18000.0, 65.0),
    ]  # fmt: skip
    assert rows[0]["stddev_records_per_sec"] == pytest.approx(math.sqrt(2 * 10.0**2))
    assert rows[2]["stddev_records_per_sec"] == pytest.approx(math.sqrt(2 * 30.0**2))
    assert rows[3]["mean_mb_per_sec"] == pytest.approx(18000 * 250 / MB)
    assert cook(store, "scaling_curve", experiment="scale", record_size=500) == []
    # The guide's own scaling: its 250 B runs with producers, from the reference.
    guide = cook(store, "scaling_curve", source="reference", record_size=250)
    assert _pick(guide, "producer_instances", "brokers", "runs") == [
        (1, 3, 7), (1, 6, 1), (3, 6, 1), (10, 6, 1), (15, 6, 1), (25, 15, 1),
    ]  # fmt: skip


def test_record_size_curve(store: Store) -> None:
    rows = cook(store, "record_size_curve", experiment="sizes")
    assert _pick(rows, "brokers", "producer_instances", "record_size", "runs", "mean_records_per_sec") == [
        (3, 1, 250, 1, 4000.0), (3, 1, 500, 1, 3000.0), (3, 1, 1000, 1, 2000.0),
    ]  # fmt: skip
    assert [r["mean_mb_per_sec"] for r in rows] == pytest.approx([4000 * 250 / MB, 3000 * 500 / MB, 2000 * 1000 / MB])
    assert cook(store, "record_size_curve", experiment="sizes", brokers=6) == []


def test_profile_comparison(store: Store) -> None:
    rows = cook(store, "profile_comparison", producers=10, experiment="profiles")
    assert _pick(rows, "producer_instances", "profile", "batch_size", "linger_ms", "compression_type", "runs",
                 "mean_worst_p99_ms", "mean_records_per_sec", "p99_rank", "throughput_rank") == [
        (10, "throughput-lower", 100000, 10, "lz4", 2, 34.0, 7000.0, 1, 1),
        (10, "baseline", 8196, 5, "none", 2, 49.0, 5000.0, 2, 2),
    ]  # fmt: skip


def test_run_vs_reference(store: Store) -> None:
    rows = cook(store, "run_vs_reference", experiment="mine")
    assert len(rows) == 1  # the 10-producer run on 6 brokers matches no reference cell
    row = rows[0]
    assert (row["reference_experiment"], row["reference_runs"], row["brokers"], row["record_size"]) == (
        "guide/baseline-250", 5, 3, 250,
    )  # fmt: skip
    assert row["reference_records_per_sec"] == pytest.approx(256172.3768244)
    assert row["records_per_sec_ratio"] == pytest.approx(250000 / 256172.3768244)
    assert "m3.xlarge" in row["reference_hardware"]
    assert cook(store, "run_vs_reference", run_id=row["run_id"])[0]["run_id"] == row["run_id"]


def test_nightly_trend_flags_the_drop(store: Store) -> None:
    rows = cook(store, "nightly_trend", experiment="nightly")
    assert [r["verdict"] for r in rows] == ["no history"] * 3 + ["ok"] * 3 + ["regression"]
    newest = rows[-1]
    assert (newest["previous_runs"], newest["median_records_per_sec"]) == (6, 1000.0)
    assert newest["ratio"] == pytest.approx(0.85) and newest["regression"] is True
    assert cook(store, "nightly_trend", experiment="nightly", drop=0.2)[-1]["verdict"] == "ok"
    assert [r["verdict"] for r in cook(store, "nightly_trend", experiment="steady")][-1] == "ok"
    assert cook(store, "nightly_trend", experiment="broken")[-1]["verdict"] == "failed"
    # The window: the median of the last 3 runs (1000) tolerates 905; of all 6 (1500) it does not.
    assert cook(store, "nightly_trend", experiment="shift", window=3)[-1]["verdict"] == "ok"
    assert cook(store, "nightly_trend", experiment="shift")[-1]["verdict"] == "regression"
    assert len(cook(store, "nightly_trend", experiment="nightly", limit=2)) == 2


def test_before_after(store: Store) -> None:
    at = (T0 + timedelta(days=30)).isoformat()
    rows = cook(store, "before_after", experiment="upgrade", at=at)
    assert _pick(rows, "side", "runs", "median_worst_p99_ms", "mean_records_per_sec") == [
        ("before", 4, 10.0, 1000.0), ("after", 4, 15.0, 1100.0),
    ]  # fmt: skip
    assert rows[0]["median_worst_p99_change"] is None
    assert rows[1]["median_worst_p99_change"] == pytest.approx(0.5)
    assert rows[1]["records_per_sec_change"] == pytest.approx(0.1)


def test_instance_windows_and_window_stability(store: Store) -> None:
    run_ids = [r["run_id"] for r in cook(store, "window_stability", experiment="windows")]
    uneven, steady = run_ids
    rows = cook(store, "instance_windows", run_id=uneven)
    assert _pick(rows, "instance", "seq", "seconds", "records_per_sec") == [
        (0, 0, 1.0, 100.0), (0, 1, 2.0, 200.0), (0, 2, 3.0, 300.0),
        (1, 0, 1.0, 150.0), (1, 1, 2.0, 150.0), (1, 2, 3.0, 150.0),
    ]  # fmt: skip
    stability = {r["run_id"]: r for r in cook(store, "window_stability", experiment="windows")}
    assert stability[steady]["cv"] == 0.0 and stability[steady]["windows"] == 3
    values = [100.0, 200.0, 300.0, 150.0, 150.0, 150.0]
    mean = sum(values) / 6
    assert stability[uneven]["cv"] == pytest.approx(pd.Series(values).std() / mean)
    assert stability[uneven]["slowest_share"] == pytest.approx(100.0 / mean)


def test_parameters_are_bound_and_checked(store: Store) -> None:
    query = queries.resolve("scaling_curve")
    hostile = "scale' OR '1'='1"
    assert store.query(query.sql, query.bind({"experiment": hostile}))[1] == []  # a value, not SQL
    with pytest.raises(SpecError, match="--param brokers: scaling_curve has no such parameter"):
        query.bind({"brokers": "3"})
    with pytest.raises(SpecError, match="--param record_size: 'big' is not a integer"):
        query.bind({"record_size": "big"})
    with pytest.raises(SpecError, match="--param experiment=VALUE is required by nightly_trend"):
        queries.resolve("nightly_trend").bind({})
    assert query.bind({"since": "2026-10-01T00:00Z"})["since"].tzinfo is not None
    assert query.bind({"source": "NULL"})["source"] is None
    with pytest.raises(SpecError, match="expected NAME=VALUE"):
        queries.parse_assignments(["oops"])


# ---------------------------------------------------------------- the CLI


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str) -> int:
    monkeypatch.setenv("DATABASE_URL", url)  # restored after the test, whatever main() sets
    return cli.main(list(argv))


def test_cli_sql_file_with_params(history_url: str, monkeypatch, capsys) -> None:
    code = _cli(monkeypatch, history_url, "sql", "--file", "scaling_curve", "--param", "experiment=scale",
                "--param", "record_size=250", "--format", "json")  # fmt: skip
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["producer_instances"], r["brokers"], r["mean_records_per_sec"]) for r in rows] == [
        (1, 3, 3000.0), (1, 6, 6000.0), (3, 3, 9000.0), (3, 6, 18000.0),
    ]  # fmt: skip
    # An ad-hoc query takes --param too; a file given by path works like a name.
    assert _cli(monkeypatch, history_url, "sql", "SELECT count(*) AS n FROM v_run_totals WHERE experiment = :e",
                "--param", "e=sizes", "--format", "csv") == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines() == ["n", "3"]
    path = str(queries.QUERIES_DIR / "record_size_curve.sql")
    assert _cli(monkeypatch, history_url, "sql", "--file", path, "--param", "experiment=sizes", "--format", "csv") == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert _cli(monkeypatch, history_url, "sql", "--file", "nightly_trend") == 2
    assert "--param experiment=VALUE is required" in capsys.readouterr().err
    assert _cli(monkeypatch, history_url, "sql", "--file", "no_such_query") == 2
    assert "cookbook queries: before_after" in capsys.readouterr().err
    assert _cli(monkeypatch, history_url, "sql", "--list") == 0
    assert "nightly_trend" in capsys.readouterr().out


def test_cli_check_exit_codes(history_url: str, monkeypatch, capsys) -> None:
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "nightly") == 3
    out = capsys.readouterr().out.strip()
    assert out.endswith("REGRESSION") and "15.0% below the median 1,000.00 of the previous 6 ok run(s)" in out
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "nightly", "--drop", "0.2") == 0
    assert capsys.readouterr().out.strip().endswith(": ok")
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "steady") == 0
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "broken") == 3
    assert "failed: REGRESSION" in capsys.readouterr().out
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "young") == 0  # 1 earlier run: no verdict
    assert "no verdict" in capsys.readouterr().out
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "shift", "--window", "3") == 0
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "shift") == 3
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "nobody") == 2
    assert _cli(monkeypatch, history_url, "check", "--method", "threshold", "--experiment", "nightly", "--drop", "1.5") == 2


def test_check_function(store: Store) -> None:
    verdict = trend.check(store, "nightly", window=30, drop=0.1)
    assert verdict.regression and verdict.verdict == "regression" and verdict.records_per_sec == 850.0
    assert not trend.check(store, "steady").regression


def test_cli_reference_check(history_url: str, monkeypatch, capsys) -> None:
    assert _cli(monkeypatch, history_url, "reference", "load", "--format", "csv") == 0
    captured = capsys.readouterr()
    assert "0 runs stored, 24 already present" in captured.err
    assert "28 printed figures: 25 agree with the guide's lines, 3 do not" in captured.err
    assert "the printed total is the sum of the first 23 of the 25 lines" in captured.out


# ---------------------------------------------------------------- pandas


def test_runs_instances_windows_frames(store: Store) -> None:
    runs = history.runs(store, experiment="scale")
    assert len(runs) == 8 and list(runs["started_at"]) == sorted(runs["started_at"])
    assert str(runs["started_at"].dt.tz) == "UTC"
    assert set(runs["source"]) == {"measured"}
    later = history.runs(store, experiment="scale", since=T0 + timedelta(minutes=4))
    assert len(later) == 4 and set(later["brokers"]) == {6}
    assert len(history.runs(store, experiment="scale", until=T0 + timedelta(minutes=4))) == 4
    assert set(history.runs(store, source="reference")["experiment"]) >= {"guide/25-producers"}
    assert history.runs(store, source=None, experiment="guide/25-producers")["instances_ok"].tolist() == [25]

    instances = history.instances(store, experiment="profiles")
    assert len(instances) == 40 and instances["instance"].max() == 9

    windows = history.windows(store, experiment="windows")
    assert len(windows) == 9
    assert windows[windows["instance"] == 1]["seconds"].tolist()[:3] == [1.0, 2.0, 3.0]


def test_cells_frame(store: Store) -> None:
    cells = history.cells(store, experiment="scale")
    assert cells[["brokers", "producer_instances", "runs", "mean_records_per_sec"]].values.tolist() == [
        [3, 1, 2, 3000.0], [3, 3, 2, 9000.0], [6, 1, 2, 6000.0], [6, 3, 2, 18000.0],
    ]  # fmt: skip
    assert cells["stddev_records_per_sec"].iloc[0] == pytest.approx(math.sqrt(200))
    assert set(cells["profile"]) == {"baseline"} and all(len(ids) == 2 for ids in cells["run_ids"])
    ref = history.reference_cells(store)
    assert len(ref) == 10 and "m3.xlarge" in ref["hardware"].iloc[0]["instances"]
    check = history.reference_check(store)
    assert len(check) == 28 and (~check["agrees"]).sum() == 3
    assert check["printed"].dtype == float


def test_sweep_filter(fresh_db_url: str) -> None:
    with Store(fresh_db_url) as store:
        sweep_id = store.create_sweep(name="s", spec={}, fingerprint="f", cells=2, repetitions=1, flow_run_id=None)
        store.save_run(run("s", T0, rates=[100.0], sweep_id=sweep_id, cell_index=0))
        store.save_run(run("s", T0 + timedelta(minutes=1), rates=[200.0], brokers=6, sweep_id=sweep_id, cell_index=1))
        store.save_run(run("s", T0 + timedelta(minutes=2), rates=[300.0]))  # not in the sweep
        assert history.runs(store, sweep_id=sweep_id)["total_records_per_sec"].tolist() == [100.0, 200.0]
        cells = history.cells(store, sweep_id=sweep_id)
        assert cells["cell_index"].tolist() == [0, 1]
        rows = cook(store, "scaling_curve", sweep_id=sweep_id)
        assert _pick(rows, "brokers", "mean_records_per_sec") == [(3, 100.0), (6, 200.0)]
