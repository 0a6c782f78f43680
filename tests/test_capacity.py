"""Capacity under a latency objective.

The search on synthetic step outcomes (a model cluster whose latency climbs toward its
capacity), the objective and rate grammar, bad input refused before anything runs, and a
real study on a 1-broker local cluster: stored steps on either side of the objective, a
curve that does not fall, and an interrupted study resumed without repeating its steps.
"""

from __future__ import annotations

import html
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
import yaml
from hdrh.histogram import HdrHistogram

from kafkalab.analysis import capacity
from kafkalab.analysis.capacity import (
    RunMeasure,
    Step,
    StudyPlan,
    next_step,
    plan_study,
    summarize_step,
)
from kafkalab.analysis.slo import Objective, check_rates, parse_objective
from kafkalab.app.cli import main
from kafkalab.core.errors import SpecError
from kafkalab.kafka import histograms
from kafkalab.load.saturation import SCHEDULE_DELAY_P99_BOUND_MS
from kafkalab.spec import parse_spec
from kafkalab.spec.models import CapacitySpec
from tests.conftest import jvms_of

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- objectives


@pytest.mark.parametrize(("text", "percentile", "bound", "inclusive"), [
    ("p99<20ms", 99.0, 20.0, False),
    ("p99.9<=50ms", 99.9, 50.0, True),
    (" p50 < 1.5 ms ", 50.0, 1.5, False),
    ("p99<500us", 99.0, 0.5, False),
    ("p99.99<2s", 99.99, 2000.0, False),
])
def test_objectives_parse(text, percentile, bound, inclusive):
    objective = parse_objective(text)
    assert (objective.percentile, objective.bound_ms, objective.inclusive) == (percentile, bound, inclusive)


def test_the_bound_meets_only_an_inclusive_objective():
    assert not parse_objective("p99<20ms").met_by(20.0) and parse_objective("p99<20ms").met_by(19.99)
    assert parse_objective("p99<=20ms").met_by(20.0) and not parse_objective("p99<=20ms").met_by(20.01)
    assert parse_objective("p99.9<=50ms").text == "p99.9<=50ms"


@pytest.mark.parametrize("text", ["p99<fast", "p99<20", "99<20ms", "p100<20ms", "p0<2ms", "p99>20ms", "", "p99<0ms"])
def test_a_bad_objective_is_one_line_naming_it(text):
    with pytest.raises(SpecError) as err:
        parse_objective(text)
    message = str(err.value)
    assert message.startswith(f"--slo {text!r}: ") and "\n" not in message


def test_rates_must_increase():
    assert check_rates([1000, 2000.5]) == (1000.0, 2000.5)
    for rates, words in (([3000, 2000], "not increasing (2000 after 3000)"), ([1000, 1000], "not increasing"),
                         ([0, 10], "above 0"), ([], "at least one rate")):
        with pytest.raises(SpecError, match=r"^--rates") as err:
            check_rates(rates)
        assert words in str(err.value)


def _spec(**sections) -> object:
    data = {"name": "cap", "cluster": {"brokers": 1}, "topic": {"partitions": 1, "replication_factor": 1},
            "producer": {"num_records": 1000}, **sections}
    return parse_spec(data)


def test_a_kind_the_spec_cannot_measure_is_refused():
    plan = plan_study(CapacitySpec(slo="p99<20ms"), _spec())
    assert plan.kind == "corrected" and plan.objective == Objective(99.0, 20.0, False)
    cases = [
        (CapacitySpec(slo="p99<20ms", kind="end_to_end"), _spec(consumer={"enabled": False}), "consumer.enabled is false"),
        (CapacitySpec(slo="p99<20ms", kind="end_to_end"), _spec(consumer={"timing": "after"}), "timing after"),
        (CapacitySpec(slo="p99<20ms"), _spec(producer={"num_records": 1000, "tool": "kafka-perf"}),
         "producer.tool kafka-perf records no latency histograms"),
    ]
    for study, spec, words in cases:
        with pytest.raises(SpecError, match=r"^--kind ") as err:
            plan_study(study, spec)
        assert words in str(err.value)
    with pytest.raises(SpecError, match=r"^capacity\.rates 2000,1000: not increasing"):
        plan_study(CapacitySpec(slo="p99<20ms", rates=[2000, 1000]), _spec(), where="capacity.")


# --------------------------------------------------------------------------- percentiles of a step


def _encoded(values_us: list[int]) -> str:
    histogram = HdrHistogram(histograms.LOWEST_US, histograms.HIGHEST_US, histograms.SIGNIFICANT_DIGITS)
    for value in values_us:
        histogram.record_value(value)
    return histogram.encode().decode("ascii")


def _run(achieved: float, p50_ms: float, p99_ms: float, *, saturated: bool = False) -> RunMeasure:
    # 100 values: 98 at the median, 2 in the tail, so that p50 and p99 are what is asked.
    values = [round(p50_ms * 1000)] * 98 + [round(p99_ms * 1000)] * 2
    return RunMeasure(None, achieved, saturated, "achieved below 95%" if saturated else None, (_encoded(values),))


def test_a_steps_percentile_comes_from_the_merged_histogram_not_an_average():
    objective = parse_objective("p99<20ms")
    # One run entirely at 1 ms, one entirely at 30 ms: the merged p99 is 30 ms (a client sees
    # it), the average of the two p99s would be 15.5 ms and pass.
    runs = [_run(1000, 1, 1), _run(1000, 30, 30)]
    outcome = summarize_step(Step(1, "step", 1000), runs, objective)
    assert outcome.latency["p99"].value == pytest.approx(30, rel=1e-3)
    assert outcome.verdict == "breaks" and "breaks p99<20ms" in outcome.reason
    assert outcome.latency["p50"].value == pytest.approx(1, rel=1e-3)  # half the values are 1 ms


def test_a_step_has_confidence_intervals_over_its_repetitions():
    from scipy import stats

    runs = [_run(990, 2, 10), _run(1000, 2, 12), _run(1010, 2, 14)]
    outcome = summarize_step(Step(1, "step", 1000), runs, parse_objective("p99<20ms"))
    half = stats.t.ppf(0.975, 2) * 10 / 3 ** 0.5  # stdev of 990, 1000, 1010 is 10
    assert outcome.achieved.value == pytest.approx(1000)
    assert (outcome.achieved.ci_low, outcome.achieved.ci_high) == pytest.approx((1000 - half, 1000 + half))
    p99 = outcome.latency["p99"]
    assert p99.n == 3 and p99.ci_low < 12 < p99.ci_high and outcome.verdict == "pass"
    single = summarize_step(Step(1, "step", 1000), runs[:1], parse_objective("p99<20ms"))
    assert single.achieved.ci_low is None and single.latency["p99"].ci_high is None  # NULL, not 0, for one run


def test_a_saturated_step_fails_whatever_its_latency():
    outcome = summarize_step(Step(3, "step", 5000), [_run(3000, 1, 2, saturated=True)], parse_objective("p99<20ms"))
    assert outcome.verdict == "saturated" and outcome.failed and "95%" in outcome.reason


# --------------------------------------------------------------------------- the search on a model cluster


class ModelCluster:
    """Latency p99 = base / (1 - rate / capacity): a queue that fills as the rate nears capacity;
    beyond 95% of capacity the generator cannot keep the rate (saturated)."""

    def __init__(self, capacity_rate: float, base_ms: float = 2.0, noise: float = 0.0):
        self.capacity, self.base, self.noise = capacity_rate, base_ms, noise

    def p99(self, rate: float) -> float:
        return self.base / max(1e-3, 1 - rate / self.capacity)

    def runs(self, step: Step, repetitions: int) -> list[RunMeasure]:
        if step.target is None:
            return [_run(self.capacity, self.base * 20, self.base * 50, saturated=True)]
        out = []
        for i in range(repetitions):
            wobble = 1 + self.noise * (i - (repetitions - 1) / 2)
            achieved = min(step.target, 0.95 * self.capacity) * wobble
            out.append(_run(achieved, self.base, self.p99(step.target) * wobble,
                            saturated=step.target > 0.96 * self.capacity))
        return out


def _search(plan: StudyPlan, model: ModelCluster) -> list:
    outcomes = []
    while (step := next_step(plan, outcomes)) is not None:
        assert step.seq == len(outcomes) and len(outcomes) < 40
        outcomes.append(summarize_step(step, model.runs(step, 1 if step.phase == "probe" else plan.repetitions),
                                       plan.objective))
    return outcomes


def _plan(slo: str = "p99<10ms", **kwargs) -> StudyPlan:
    return StudyPlan(objective=parse_objective(slo), kind="corrected", repetitions=kwargs.pop("repetitions", 2),
                     step_s=5, **kwargs)


def test_the_search_probes_steps_stops_and_bisects():
    model = ModelCluster(100_000)  # p99 = 10 ms at 80,000 records/s, 20 ms at 90,000
    plan = _plan("p99<12ms")
    outcomes = _search(plan, model)
    phases = [o.phase for o in outcomes]
    targets = [o.target for o in outcomes]
    assert phases == ["probe"] + ["step"] * 9 + ["bisect"] * 2
    assert targets[1:10] == [10_000.0 * i for i in range(1, 10)]  # 10%..90% of the 100,000 probe
    assert [o.verdict for o in outcomes[1:10]] == ["pass"] * 8 + ["breaks"]  # stopped at the first break
    found = capacity.result(plan, outcomes)
    assert found.finding == "found"
    # 80,000 passed and 90,000 broke; bisected to a quarter of that gap: 85,000 (13.3 ms) breaks,
    # 82,500 (11.4 ms) passes.
    assert targets[10:] == [85_000.0, 82_500.0]
    assert found.passed_target == 82_500 and found.failed_target == 85_000
    assert model.p99(found.passed_target) < 12 <= model.p99(found.failed_target)
    assert found.max_sustainable.value == pytest.approx(82_500)
    assert found.failed_target - found.passed_target <= (90_000 - 80_000) / 4


def test_the_search_is_a_function_of_what_was_measured():
    # A resumed study replays the stored outcomes: every prefix plans the same next step.
    model, plan = ModelCluster(60_000, noise=0.02), _plan("p99<8ms", repetitions=3)
    outcomes = _search(plan, model)
    for cut in range(len(outcomes)):
        step = next_step(plan, outcomes[:cut])
        assert (step.seq, step.phase, step.target) == (outcomes[cut].seq, outcomes[cut].phase, outcomes[cut].target)
    assert next_step(plan, outcomes) is None


def test_saturation_stops_the_search_like_a_broken_objective():
    model = ModelCluster(50_000, base_ms=0.1)  # latency stays low; the rate cannot be kept above 48,000
    outcomes = _search(_plan("p99<1s"), model)
    stop = next(o for o in outcomes if o.failed)
    assert stop.verdict == "saturated" and stop.target == 50_000  # the 100% step
    found = capacity.result(_plan("p99<1s"), outcomes)
    assert found.passed_target < 48_000 < found.failed_target


def test_given_rates_skip_the_probe_and_a_stated_resolution_bounds_the_bisection():
    plan = _plan(rates=(20_000, 40_000, 60_000, 80_000, 95_000), resolution=1_000)
    outcomes = _search(plan, ModelCluster(100_000))
    assert outcomes[0].phase == "step" and outcomes[0].target == 20_000
    found = capacity.result(plan, outcomes)
    assert found.failed_target - found.passed_target <= 1_000
    assert found.passed_target < 80_000 <= found.failed_target  # p99 reaches 10 ms at 80,000


def test_a_range_wholly_below_or_above_the_capacity():
    below = _plan("p99<1ms", rates=(10_000, 20_000))  # even the lowest rate misses 1 ms
    outcomes = _search(below, ModelCluster(100_000))
    assert [o.target for o in outcomes] == [10_000] and capacity.result(below, outcomes).finding == "below_range"
    assert "the lowest step (10,000) already fails" in capacity.result(below, outcomes).describe(below.objective)
    above = _plan("p99<10ms", rates=(1_000, 2_000))
    found = capacity.result(above, _search(above, ModelCluster(100_000)))
    assert found.finding == "beyond_range" and found.passed_target == 2_000


def test_the_knee_is_where_the_curve_bends():
    plan = _plan("p99<1s")  # never breaks on latency: the curve runs up to saturation
    outcomes = _search(plan, ModelCluster(100_000))
    found = capacity.result(plan, outcomes)
    assert found.knee is not None and 60_000 <= found.knee.records_per_sec <= 95_000
    flat = [summarize_step(Step(i, "step", 1000.0 * i), [_run(1000.0 * i, 1, 1 + 0.1 * i)], plan.objective)
            for i in range(1, 6)]
    assert capacity.knee(flat) is None  # a straight line has no knee


# --------------------------------------------------------------------------- bad input, nothing runs


@pytest.fixture
def unreachable_database(tmp_path, monkeypatch):
    """A database that would fail any command that reached it (exit 1, a connection error)."""
    from kafkalab.core.net import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/kafkalab")
    monkeypatch.setenv("KAFKALAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.mark.parametrize(("args", "message"), [
    (["--slo", "p99<fast"], "kafkalab: --slo 'p99<fast': not a latency objective"),
    (["--slo", "p99<20ms", "--rates", "5000,3000"], "kafkalab: --rates 5000,3000: not increasing (3000 after 5000)"),
    (["--slo", "p99<20ms", "--kind", "end_to_end", "--set", "consumer.enabled=false"],
     "kafkalab: --kind end_to_end: consumer.enabled is false"),
    (["--slo", "p99<20ms", "--set", "producer.tool=kafka-perf", "--set", "consumer.tool=kafka-perf",
      "--set", "consumer.timing=after"], "kafkalab: --kind corrected: producer.tool kafka-perf records no latency"),
    (["--slo", "p99<20ms", "--repetitions", "0"], "kafkalab: --repetitions: "),
])
def test_bad_input_is_one_line_and_nothing_runs(args, message, unreachable_database, capsys):
    code = main(["capacity", str(REPO / "experiments" / "capacity-local.yaml"), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (unreachable_database / "runs").exists()  # no cluster, no run directory


# --------------------------------------------------------------------------- a real study


STUDY_SPEC = {
    "name": "it-capacity",
    "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
    "topic": {"partitions": 2, "replication_factor": 1},
    "producer": {"num_records": 150_000, "record_size": 200, "heap_mb": 128, "reporting_interval_ms": 500,
                 "props": {"acks": 1, "linger.ms": 1}},
    "consumer": {"enabled": False},
    "load": {"warmup_s": 1.5},  # a fresh generator JVM falls behind in its first second or so
    "smoke_test": False,
}


def _rows(sql: str, **params) -> list[dict]:
    from kafkalab.results.store import Store

    with Store() as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, r)) for r in data]


# The cluster's capacity is set, not found out: a producer quota (Kafka throttles every client
# beyond it) makes it about QUOTA_B_S / (200 B + the batch overhead), some 1,100 records/s,
# whatever the machine's speed, so a quiet machine cannot carry the top rate. Beyond the quota
# the throttled producer's backlog, and with it the latency from the intended send time, grows
# through the step. The objective's bound is the generator's own limit
# (SCHEDULE_DELAY_P99_BOUND_MS): a step the generator could not keep fails it either way.
REAL_SLO = f"p99<{SCHEDULE_DELAY_P99_BOUND_MS:g}ms"
QUOTA_B_S = 250_000
REAL_RATES = [200, 400, 800, 1600, 3200]


@pytest.fixture(scope="module")
def real_study(prefect_api, lab_env, kafka_dist):
    """A real study: 2 repetitions of 8 s a step, on one live 1-broker cluster with a producer
    quota. The first 3 s of each are warm-up: a fresh generator JVM on a busy 2-core machine is
    still compiling (its schedule delay and latency fall over its first seconds)."""
    from flows.capacity import capacity as capacity_flow

    spec = parse_spec({**STUDY_SPEC, "load": {"warmup_s": 3.0},
                       "cluster": {**STUDY_SPEC["cluster"], "client_quotas": {"producer_byte_rate": QUOTA_B_S},
                                   # the rate over 2 windows of 1 s, not 11: no burst through a step
                                   "broker_config": {"quota.window.num": 2}}})
    study = CapacitySpec(slo=REAL_SLO, rates=REAL_RATES, repetitions=2, step_s=8)
    started = time.monotonic()
    # A stall of this shared machine (100 ms is 20 records at 200 records/s: the p99) can break
    # the objective at the lowest rate: the study then ends below its range, correctly, and says
    # nothing about the search inside it. A fresh study tells the machine's noise from a fault
    # of the search.
    for _attempt in range(3):
        study_id = capacity_flow(study, spec=spec)
        if _rows("SELECT finding FROM v_capacity WHERE study_id = :id", id=study_id)[0]["finding"] == "found":
            break
    return study_id, time.monotonic() - started


@pytest.mark.kafka
def test_a_real_study_brackets_the_objective(real_study):
    study_id, seconds = real_study
    (study,) = _rows("SELECT * FROM v_capacity WHERE study_id = :id", id=study_id)
    steps = _rows("SELECT * FROM v_latency_curve WHERE study_id = :id ORDER BY seq", id=study_id)
    assert study["status"] == "completed" and study["finding"] == "found", steps
    passing = max((s for s in steps if s["verdict"] == "pass"), key=lambda s: s["target_records_per_sec"])
    failing = min((s for s in steps if s["verdict"] in ("breaks", "saturated")
                   and s["target_records_per_sec"] > passing["target_records_per_sec"]),
                  key=lambda s: s["target_records_per_sec"])
    assert study["passed_target_records_per_sec"] == passing["target_records_per_sec"]
    assert study["failed_target_records_per_sec"] == failing["target_records_per_sec"]
    # the steps' corrected p99, merged over their repetitions, lie on either side of the bound
    assert passing["objective_ms"] < study["bound_ms"] <= failing["objective_ms"]
    # and so do the stored runs' own (v_run_latency): a merged p99 lies between its runs' p99s
    for step, below in ((passing, True), (failing, False)):
        p99s = [float(r["p99_ms"]) for r in _rows("SELECT p99_ms FROM v_run_latency WHERE kind = 'corrected' "
                                                 "AND run_id = ANY(:ids)", ids=list(step["run_ids"]))]
        assert len(p99s) == 2
        assert (min(p99s) < study["bound_ms"]) if below else (max(p99s) >= study["bound_ms"]), (step, p99s)
    assert study["max_sustainable_records_per_sec"] == pytest.approx(passing["achieved_records_per_sec"])
    # The capacity found is the quota's: the passing rate's values fit in it (the batches'
    # overhead is on top), and a stall at most halved what the search could show.
    record_size = STUDY_SPEC["producer"]["record_size"]
    assert QUOTA_B_S / 2 <= passing["target_records_per_sec"] * record_size <= QUOTA_B_S * 1.05, passing
    assert (study["ci95_low_max_sustainable_records_per_sec"] <= study["max_sustainable_records_per_sec"]
            <= study["ci95_high_max_sustainable_records_per_sec"])
    # Every step's runs are stored and linked, 2 a step; the given rates needed no probe.
    assert [len(s["run_ids"]) for s in steps] == [2] * len(steps) and steps[0]["phase"] == "step"
    assert seconds < 1500


@pytest.mark.kafka
def test_the_curve_does_not_fall_as_the_rate_rises(real_study):
    study_id, _ = real_study
    steps = [s for s in _rows("SELECT * FROM v_latency_curve WHERE study_id = :id AND phase <> 'probe' "
                              "AND verdict <> 'saturated' ORDER BY achieved_records_per_sec", id=study_id)]
    assert len(steps) >= 3
    for lower, higher in itertools.pairwise(steps):
        # a higher rate's p99 may be lower only within the noise the repetitions show
        assert higher["ci95_high_p99_ms"] >= lower["ci95_low_p99_ms"], (lower, higher)
    first, last = steps[0], steps[-1]
    assert last["p99_ms"] > first["p99_ms"]


@pytest.mark.kafka
def test_the_capacity_report_draws_the_curve(real_study, tmp_path):
    study_id, _ = real_study
    code = main(["report", "--out", str(tmp_path), "--capacity", str(study_id)])
    assert code == 0
    page = (tmp_path / f"capacity-{study_id}.html").read_text()
    assert "data:image/png;base64," in page and html.escape(REAL_SLO) in page
    # and the experiment's report has the same section
    assert main(["report", "--out", str(tmp_path / "all"), "--experiment", "it-capacity"]) == 0
    page = (tmp_path / "all" / "report.html").read_text()
    assert "Capacity under a latency objective" in page and f"Capacity study {study_id}" in page


@pytest.mark.kafka
def test_an_interrupted_study_resumes_without_repeating_steps(tmp_path, lab_env, kafka_dist):
    spec_file = tmp_path / "capacity.yaml"
    spec_file.write_text(yaml.safe_dump({**STUDY_SPEC, "name": "it-capacity-resume"}))
    # The default search (probe, then 10% .. 110% of it), one repetition a step.
    command = [sys.executable, "-m", "kafkalab", "capacity", str(spec_file), "--slo", REAL_SLO,
               "--repetitions", "1", "--step-s", "3"]
    env = {**os.environ, **lab_env}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        study_id = _wait_for_steps("it-capacity-resume", at_least=1, timeout_s=300)  # the probe is done
        os.killpg(first.pid, signal.SIGKILL)  # the flow process dies mid-study: no teardown, no close
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    done_before = {(r["seq"], r["run_id"]) for r in _rows(
        "SELECT l.seq, l.run_id FROM capacity_step_runs l JOIN runs r ON r.id = l.run_id "
        "WHERE l.study_id = :id AND r.status = 'ok'", id=study_id)}
    assert len(done_before) >= 1
    (interrupted,) = _rows("SELECT status FROM v_capacity WHERE study_id = :id", id=study_id)
    assert interrupted["status"] == "running"  # killed mid-study: nobody closed it
    resumed = subprocess.run([*command, "--resume", str(study_id)], env=env, capture_output=True, text=True,
                             timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    links = _rows("SELECT l.seq, l.repetition, l.run_id, r.status FROM capacity_step_runs l JOIN runs r "
                  "ON r.id = l.run_id WHERE l.study_id = :id ORDER BY l.seq", id=study_id)
    ok = [(r["seq"], r["repetition"]) for r in links if r["status"] == "ok"]
    assert len(ok) == len(set(ok))  # each step's repetition ran once
    assert done_before <= {(r["seq"], r["run_id"]) for r in links}  # the done steps kept their runs
    steps = _rows("SELECT seq, phase, target_records_per_sec, achieved_records_per_sec, verdict FROM v_latency_curve "
                  "WHERE study_id = :id "
                  "ORDER BY seq", id=study_id)
    assert [s["seq"] for s in steps] == list(range(len(steps))) and all(s["verdict"] for s in steps)
    probe = steps[0]
    assert probe["phase"] == "probe" and probe["target_records_per_sec"] is None
    assert [s["target_records_per_sec"] for s in steps if s["phase"] == "step"] == [
        round(f / 10 * float(probe["achieved_records_per_sec"])) for f in range(1, 12)][:sum(
            1 for s in steps if s["phase"] == "step")]
    (study,) = _rows("SELECT status, finding FROM v_capacity WHERE study_id = :id", id=study_id)
    assert study["status"] == "completed" and study["finding"] in ("found", "below_range", "beyond_range")
    assert f"capacity study {study_id}" in resumed.stdout
    # The killed process's JVMs were found and stopped by the resumed one.
    orphaned = {Path(r["run_dir"]) for r in _rows("SELECT r.run_dir FROM runs r WHERE r.id = ANY(:ids)",
                                                  ids=[run_id for _, run_id in done_before])}
    assert all((d / "STALE").exists() and jvms_of(d) == [] for d in orphaned)


def _wait_for_steps(name: str, *, at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = _rows("SELECT study_id, steps FROM v_capacity WHERE experiment = :name ORDER BY study_id DESC",
                          name=name)
        except Exception:  # noqa: BLE001 - the schema may not exist yet
            found = []
        if found and found[0]["steps"] >= at_least:
            return found[0]["study_id"]
        time.sleep(0.5)
    raise AssertionError(f"{name}: fewer than {at_least} steps after {timeout_s}s")


# --------------------------------------------------------------------------- capacity in a sweep


def _sweep_file(tmp_path: Path, capacity_settings: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "name": "cap-sweep",
        "base": {"cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
                 "topic": {"partitions": 2, "replication_factor": 1},
                 "producer": {"num_records": 20000}, "consumer": {"enabled": False}},
        "axes": {"cluster.brokers": [1, 2]},
        "capacity": capacity_settings,
    }))
    return path


@pytest.mark.parametrize(("settings", "message"), [
    ({"slo": "p99<fast"}, "kafkalab: cap-sweep: cell 0 (brokers=1): capacity.slo 'p99<fast': not a latency objective"),
    ({"slo": "p99<20ms", "rates": [3000, 1000]}, "capacity.rates 3000,1000: not increasing (1000 after 3000)"),
    ({"slo": "p99<20ms", "kind": "end_to_end"}, "capacity.kind end_to_end: consumer.enabled is false"),
    ({"slo": "p99<20ms", "repetitions": 0}, "capacity.repetitions: Input should be greater than or equal to 1"),
])
def test_a_sweep_with_a_bad_study_is_one_line_and_nothing_runs(settings, message, tmp_path, unreachable_database,
                                                                capsys):
    code = main(["sweep", str(_sweep_file(tmp_path, settings))])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (unreachable_database / "runs").exists()


def test_a_capacity_sweeps_dry_run_describes_its_studies(tmp_path, unreachable_database, capsys):
    path = _sweep_file(tmp_path, {"slo": "p99<30ms", "rates": [500, 1000], "repetitions": 2, "step_s": 3})
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 cells, a capacity study at p99<30ms in each" in out and "records in all" not in out
    cells = [line for line in out.splitlines() if line.startswith("cell ")]
    assert len(cells) == 2 and all("steps at 500, 1,000 records/s, 2 runs of 3 s a step" in c for c in cells), cells
    assert "at most 732.4 KiB (750000 bytes) a run of the top step" in cells[0]  # 1000/s x 3 s x 250 B
    assert not (unreachable_database / "runs").exists()


def _stored_run(store, brokers: int) -> int:
    from datetime import datetime

    from kafkalab.model import RunRecord

    record = RunRecord(
        experiment="cap-views", spec={}, repetition=1, platform="local", kafka_version="4.1.0", brokers=brokers,
        topic="t", partitions=6, replication_factor=1, record_size=250, num_records=1000, throughput=1000,
        producer_instances=1, producer_props={"acks": "1"}, consumer_props={}, broker_config={}, topic_config={},
        started_at=datetime.now(UTC),
    )
    return store.save_run(record)


def test_capacity_views_say_what_more_brokers_buy(fresh_db_url):
    """v_capacity, v_latency_curve and v_capacity_scaling over stored studies of a sweep's cells."""
    from kafkalab.analysis import capacity_store
    from kafkalab.analysis.capacity import CapacityResult, Estimate, Knee
    from kafkalab.results.store import Store

    plan = _plan("p99<50ms", repetitions=1)
    with Store(fresh_db_url) as store:
        sweep_id = store.create_sweep(name="cap-sweep", spec={}, fingerprint="f", cells=3, repetitions=1,
                                      flow_run_id=None)
        for cell, (brokers, best) in enumerate([(3, 10_000.0), (6, 18_000.0), (9, 24_000.0)]):
            study_id = capacity_store.create_study(
                store, name="cap-views", spec={"b": brokers}, study={"slo": "p99<50ms"}, plan=plan, flow_run_id=None,
                sweep_id=sweep_id, cell_index=cell, cell={"cluster.brokers": brokers})
            step = Step(0, "step", best)
            capacity_store.record_step(store, study_id, step)
            capacity_store.link_run(store, study_id, 0, 1, _stored_run(store, brokers))
            outcome = summarize_step(step, [_run(best, 2, 20)], plan.objective)
            capacity_store.save_outcome(store, study_id, outcome)
            result = CapacityResult("found", Estimate(best, best * 0.9, best * 1.1, 2), best, best * 1.1, None,
                                    Knee(best * 0.8, 10.0, 0), [outcome])
            capacity_store.finish_study(store, study_id, "completed", result)
        _, rows = store.query("SELECT brokers, baseline_brokers, capacity_gain, scaling_efficiency, slo "
                              "FROM v_capacity_scaling WHERE sweep_id = :id ORDER BY brokers", {"id": sweep_id})
        assert [(r[0], r[1]) for r in rows] == [(3, 3), (6, 3), (9, 3)]
        assert [float(r[2]) for r in rows] == pytest.approx([1.0, 1.8, 2.4])
        assert [float(r[3]) for r in rows] == pytest.approx([1.0, 0.9, 0.8])
        assert {r[4] for r in rows} == {"p99<50ms"}
        study, steps = capacity_store.study_summary(store, study_id)
        assert study["finding"] == "found" and study["steps"] == 1 and study["runs"] == 1
        assert float(study["max_sustainable_records_per_sec"]) == 24_000 and float(study["knee_latency_ms"]) == 10
        assert steps[0]["verdict"] == "pass" and float(steps[0]["p99_ms"]) == pytest.approx(20, rel=1e-3)
        assert steps[0]["ci95_low_p99_ms"] is None  # one repetition: no interval, not 0


@pytest.mark.kafka
def test_a_sweep_runs_a_study_per_cell_on_its_live_cluster(prefect_api, lab_env, kafka_dist):
    from flows.sweep import sweep
    from kafkalab.spec import parse_sweep

    spec = parse_sweep({
        "name": "it-capacity-sweep",
        "base": {**{k: v for k, v in STUDY_SPEC.items() if k != "name"}, "topic": {"partitions": 2,
                                                                                  "replication_factor": 1}},
        "axes": {"cluster.brokers": [1, 2]},
        # a loose objective: the point is the machinery (a study per cell, one cluster scaled 1 -> 2)
        "capacity": {"slo": "p99<30s", "rates": [500, 1000], "repetitions": 1, "step_s": 3},
    })
    sweep_id = sweep(spec)
    studies = _rows("SELECT cell_index, status, steps, runs, finding FROM v_capacity WHERE sweep_id = :id "
                    "ORDER BY cell_index", id=sweep_id)
    assert [(s["cell_index"], s["status"]) for s in studies] == [(0, "completed"), (1, "completed")]
    assert all(s["runs"] == s["steps"] >= 1 for s in studies)
    origins = _rows("SELECT DISTINCT r.brokers, r.cluster_origin, r.run_dir FROM capacity_step_runs l "
                    "JOIN runs r ON r.id = l.run_id JOIN capacity_studies c ON c.id = l.study_id "
                    "WHERE c.sweep_id = :id ORDER BY 1", id=sweep_id)
    assert [(o["brokers"], o["cluster_origin"]) for o in origins] == [(1, "fresh"), (2, "scaled from 1")]
    assert len({o["run_dir"] for o in origins}) == 1  # one live cluster, scaled
    scaling = _rows("SELECT brokers, baseline_brokers FROM v_capacity_scaling WHERE sweep_id = :id ORDER BY 1",
                    id=sweep_id)
    assert [(s["brokers"], s["baseline_brokers"]) for s in scaling] == [(1, 1), (2, 1)]
    # the studies' runs at several rates stay out of the fixed-rate sweep views
    assert _rows("SELECT count(*) AS n FROM runs WHERE sweep_id = :id", id=sweep_id) == [{"n": 0}]


def test_a_report_of_a_study_that_is_not_there_is_one_line(fresh_db_url, tmp_path, capsys):
    before = os.environ.get("DATABASE_URL")
    code = main(["report", "--out", str(tmp_path), "--capacity", "999", "--database-url", fresh_db_url])
    err = capsys.readouterr().err
    assert code == 2 and err == "kafkalab: --capacity 999: no such capacity study\n"
    assert os.environ.get("DATABASE_URL") == before  # --database-url was this command's only
