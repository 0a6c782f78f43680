"""Broker faults in a spec and the integrity check (issue 6, items 1-2).

The kafka-marked tests kill a broker of a real 3-broker KRaft cluster in the middle of a
throttled producer test, through the `experiment` flow, and check what a user would check
afterwards in the database: the run completed, the fault is recorded, acknowledged records
against the topic, and the producers' windows show the gap. The others check the spec rules.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from kafkalab.core.errors import SpecError
from kafkalab.results.integrity import Integrity
from kafkalab.results.store import Store
from kafkalab.spec import load_spec, parse_spec
from kafkalab.spec.faults import fault_warnings
from tests.conftest import jvms_of

# per instance, at 3000 records/s: ~12 s of load, the fault at 3 s and the restart at 6 s (JVMs warm
# up first), so the recovery shows in later windows even when a loaded machine stretches the stall
RECORDS = 36000
RATE = 3000
KILL_AT_S = 3.0
RESTART_AFTER_S = 3.0


def fault_spec(name: str, **changes) -> dict:
    spec = {
        "name": name,
        "cluster": {"brokers": 3, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 6, "replication_factor": 3},
        "producer": {
            "instances": 2, "num_records": RECORDS, "record_size": 200, "throughput": RATE,
            "reporting_interval_ms": 500, "heap_mb": 128, "timeout_s": 300,
        },
        "consumer": {"timeout_ms": 20000, "heap_mb": 128},
        "faults": [{"action": "kill", "broker": 1, "at_s": KILL_AT_S, "restart_after_s": RESTART_AFTER_S}],
    }
    for section, values in changes.items():
        spec[section] = {**spec.get(section, {}), **values} if isinstance(values, dict) else values
    return spec


def rows(sql: str, **params) -> list[dict]:
    with Store() as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, r)) for r in data]


def run_experiment(data: dict) -> int:
    from flows.experiment import experiment

    (run_id,) = experiment(parse_spec(data))
    return run_id


# ------------------------------------------------------------------ real clusters


@pytest.fixture(scope="module")
def durability_run(prefect_api, lab_env, kafka_dist) -> int:
    # The guide's durability profile gives a send one retry; while leadership moves that can
    # give some up, and a send given up after the leader wrote it is held but never
    # acknowledged (the difference goes negative). With retries until delivery.timeout.ms
    # (the idempotent producer: no duplicates) every record is acknowledged exactly once.
    return run_experiment(fault_spec("it-fault-durability", profile="durability",
                                     producer={"props": {"retries": 2147483647}}))


@pytest.fixture(scope="module")
def acks1_run(prefect_api, lab_env, kafka_dist) -> int:
    return run_experiment(fault_spec(
        "it-fault-acks1",
        topic={"config": {"unclean.leader.election.enable": True, "min.insync.replicas": 1}},
        producer={"props": {"acks": 1}},
        integrity={"verify": "consume"},  # and the verifying consumer reads every record back
    ))


@pytest.mark.kafka
def test_durability_kill_mid_test_loses_nothing(durability_run):
    (run,) = rows("SELECT * FROM v_integrity WHERE run_id = :id", id=durability_run)
    assert run["status"] == "ok" and run["error"] is None
    assert (run["profile"], run["acks"], run["min_insync_replicas"], run["replication_factor"]) == ("durability", "all", 2, 3)
    assert run["unclean_leader_election"] is False
    assert (run["faults"], run["faults_injected"], run["faults_restarted"]) == (1, 1, 1)
    assert run["integrity_check"] == "end_offsets"
    assert run["records_acknowledged"] == 2 * RECORDS == run["records_in_topic"]
    assert run["records_lost"] == 0 and run["no_loss"] is True
    (consumer,) = rows("SELECT messages FROM v_consumer_results WHERE run_id = :id", id=durability_run)
    assert consumer["messages"] == run["records_in_topic"]


@pytest.mark.kafka
def test_the_fault_event_is_stored_with_its_timing(durability_run):
    (event,) = rows("SELECT * FROM fault_events WHERE run_id = :id", id=durability_run)
    assert (event["seq"], event["action"], event["broker"], event["outcome"]) == (0, "kill", 1, "restarted")
    assert (event["planned_at_s"], event["planned_restart_after_s"]) == (KILL_AT_S, RESTART_AFTER_S)
    # Timed from the producers' "go" and never early. How late they come on a quiet machine is
    # measured by bench/faults.py ("kill / restart late by"); `late_s` is a safety net for a loaded one.
    late_s = 10.0
    assert KILL_AT_S <= event["at_s"] < KILL_AT_S + late_s
    # the restart is planned from the producers' start too: at_s + restart_after_s
    assert KILL_AT_S + RESTART_AFTER_S <= event["restarted_at_s"] < KILL_AT_S + RESTART_AFTER_S + late_s
    assert event["restarted_at_s"] < event["ready_at_s"] < event["restarted_at_s"] + 120
    assert event["down_at"] is not None and event["error"] is None


@pytest.mark.kafka
def test_the_restarted_broker_reused_its_data_and_port(durability_run):
    (run,) = rows("SELECT run_dir FROM runs WHERE id = :id", id=durability_run)
    broker = Path(run["run_dir"]) / "broker-1"
    log = (broker / "server.log").read_text(errors="replace")
    assert log.count("Transition from STARTING to STARTED") == 2  # one log: started, killed, started again
    port = next(line.rsplit(":", 1)[1] for line in (broker / "server.properties").read_text().splitlines()
                if line.startswith("listeners="))
    assert log.count(f"Awaiting socket connections on 127.0.0.1:{port}.") == 2  # the same port both times
    assert log.count(f"dir={broker / 'data'}") > 0 and "Recover" in log.split("Transition from STARTING to STARTED")[1]
    assert jvms_of(Path(run["run_dir"])) == []  # teardown stopped the restarted broker too


@pytest.mark.kafka
def test_the_producer_windows_show_the_gap(durability_run):
    """What a user looks for in the windows: a stall around the fault, then recovery."""
    windows = rows(
        "SELECT p.instance, w.seq, w.records, w.records_per_sec, w.avg_latency_ms, w.max_latency_ms "
        "FROM producer_windows w JOIN producer_results p ON p.id = w.producer_result_id "
        "WHERE p.run_id = :id ORDER BY p.instance, w.seq", id=durability_run)
    kill_at_s = rows("SELECT at_s FROM fault_events WHERE run_id = :id", id=durability_run)[0]["at_s"]
    for instance in (0, 1):
        mine = [w for w in windows if w["instance"] == instance]
        assert len(mine) >= 4
        # The windows are back to back from the producers' "go", the fault's clock too: where
        # each ends tells the ones the fault could touch (not the first, waiting for metadata).
        # An interval of the generator in which nothing was acknowledged still lasted 0.5 s.
        ends = itertools.accumulate(w["records"] / w["records_per_sec"] if w["records_per_sec"] else 0.5
                                    for w in mine)
        since_kill = [w for w, end in zip(mine, ends) if end > kill_at_s]
        # The stall: records to the killed broker's partitions waited for new leaders (>= 1 s),
        # and a window after the kill fell to under half the throttled rate ...
        assert max(w["max_latency_ms"] for w in since_kill) >= 1000, mine
        dip = min(since_kill, key=lambda w: w["records_per_sec"])
        assert dip["records_per_sec"] < 0.5 * RATE, mine
        # ... then the recovery: a later window is back near the rate (the backlog drains).
        after = [w["records_per_sec"] for w in mine if w["seq"] > dip["seq"]]
        assert after and max(after) >= 0.6 * RATE, mine


@pytest.mark.kafka
def test_acks1_kill_mid_test_stores_consistent_integrity_numbers(acks1_run):
    (run,) = rows("SELECT * FROM v_integrity WHERE run_id = :id", id=acks1_run)
    assert run["status"] == "ok", run["error"]
    assert (run["acks"], run["min_insync_replicas"], run["unclean_leader_election"]) == ("1", 1, True)
    assert (run["faults"], run["faults_injected"]) == (1, 1)
    acknowledged = rows("SELECT sum(records) AS n FROM producer_results WHERE run_id = :id", id=acks1_run)[0]["n"]
    assert run["records_acknowledged"] == acknowledged <= 2 * RECORDS  # sends given up are not acknowledged
    assert run["integrity_check"] == "consume"
    assert run["records_consumed"] == run["records_in_topic"]  # every offset below the end read back
    assert run["records_lost"] == run["records_acknowledged"] - run["records_consumed"]  # whatever it is
    (event,) = rows("SELECT * FROM fault_events WHERE run_id = :id", id=acks1_run)
    assert event["action"] == "kill" and event["outcome"] == "restarted"


# ------------------------------------------------------------------ spec rules


BASE = {"name": "t", "cluster": {"brokers": 3}, "topic": {"replication_factor": 3},
        "producer": {"num_records": 1000, "throughput": 500}}


def with_faults(faults, **changes) -> dict:
    return {**BASE, **changes, "faults": faults}


@pytest.mark.parametrize(
    ("faults", "field", "says"),
    [
        ([{"action": "kill", "broker": 3, "at_s": 1}], "faults.0.broker", "not a broker of this cluster"),
        ([{"action": "kill", "broker": -1, "at_s": 1}], "faults.0.broker", "greater than or equal to 0"),
        ([{"action": "kill", "broker": 1, "at_s": -0.5}], "faults.0.at_s", "greater than or equal to 0"),
        ([{"action": "kill", "broker": 1, "at_s": 10**6}], "faults.0.at_s", "less than or equal to 86400"),
        ([{"action": "kill", "broker": 1, "at_s": 1, "when": 2}], "faults.0.when", "unknown setting"),
        ([{"action": "crash", "broker": 1, "at_s": 1}], "faults.0.action", "'kill' or 'stop'"),
        ([{"broker": 1, "at_s": 1}], "faults.0.action", "required"),
        ([{"action": "stop", "broker": 1, "at_s": 1, "restart_after_s": 0}], "faults.0.restart_after_s", "greater than 0"),
        ([{"action": "kill", "broker": 1, "at_s": 1, "restart_after_s": 5}, {"action": "stop", "broker": 1, "at_s": 3}],
         "faults.1.at_s", "broker 1 is down until 6s after faults.0"),
        ([{"action": "kill", "broker": b, "at_s": 1} for b in range(3)], "faults", "could never finish"),
        ("kill broker 1", "faults", "valid list"),
    ],
)
def test_bad_faults_are_one_line_naming_the_field(faults, field, says):
    with pytest.raises(SpecError) as err:
        parse_spec(with_faults(faults), source="spec.yaml")
    message = str(err.value)
    assert message.startswith(f"spec.yaml: {field}: "), message
    assert says in message and "\n" not in message


def test_at_s_past_the_producers_timeout_is_refused():
    data = with_faults([{"action": "kill", "broker": 0, "at_s": 100}])
    data["producer"] = {**data["producer"], "timeout_s": 60}
    with pytest.raises(SpecError, match=r"faults.0.at_s: 100 is past producer.timeout_s \(60\)"):
        parse_spec(data)


def test_replication_factor_rules_reject_or_warn():
    # RF 2, both replicas' brokers left down for good: no partition could take writes.
    with pytest.raises(SpecError, match=r"faults: brokers \[0, 1\] stay down .* topic.replication_factor 2"):
        parse_spec(with_faults([{"action": "kill", "broker": 0, "at_s": 1}, {"action": "stop", "broker": 1, "at_s": 1}],
                               topic={"replication_factor": 2}))
    # Two of three down for a while with acks=all and min.insync 2: allowed, with a warning.
    spec = parse_spec(with_faults(
        [{"action": "kill", "broker": 0, "at_s": 0.5, "restart_after_s": 2},
         {"action": "kill", "broker": 1, "at_s": 1, "restart_after_s": 2}],
        profile="durability"))
    (warning,) = fault_warnings(spec)
    assert "NotEnoughReplicas" in warning and "min.insync.replicas 2" in warning
    # RF 1: allowed (a restart brings the partitions back), with a warning.
    spec = parse_spec(with_faults([{"action": "kill", "broker": 0, "at_s": 1, "restart_after_s": 1}],
                                  topic={"replication_factor": 1}))
    assert any("replication_factor 1" in w for w in fault_warnings(spec))
    # One broker of three killed and restarted with the durability profile: nothing to say.
    spec = parse_spec(with_faults([{"action": "kill", "broker": 2, "at_s": 1, "restart_after_s": 1}], profile="durability"))
    assert fault_warnings(spec) == []


def test_faults_and_integrity_from_yaml_and_set(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: f\nprofile: durability\nproducer: {num_records: 1000}\n"
        "faults:\n  - {action: stop, broker: 2, at_s: 1.5, restart_after_s: 4}\n"
        "integrity: {verify: consume}\n"
    )
    spec = load_spec(path)
    (fault,) = spec.faults
    assert (fault.action, fault.broker, fault.at_s, fault.restart_after_s) == ("stop", 2, 1.5, 4.0)
    assert spec.integrity.verify == "consume"
    assert load_spec(path, ["integrity.verify=end_offsets"]).integrity.verify == "end_offsets"
    assert parse_spec(BASE).faults == [] and parse_spec(BASE).integrity.verify == "end_offsets"
    with pytest.raises(SpecError, match=r"integrity.verify: Input should be 'end_offsets' or 'consume'"):
        load_spec(path, ["integrity.verify=crc"])


def test_lost_is_acknowledged_minus_what_the_topic_holds():
    assert Integrity("end_offsets", 100, 100).lost == 0
    assert Integrity("end_offsets", 100, 97).lost == 3
    assert Integrity("end_offsets", 100, 103).lost == -3  # duplicates
    assert Integrity("consume", 100, 100, consumed=98).lost == 2  # the consume check counts what it read
    assert Integrity("end_offsets", None, 100).lost is None  # an instance printed no summary


def test_faults_on_kubernetes_are_accepted_now_that_it_deletes_broker_pods():
    from kafkalab.platforms import check_spec

    spec = parse_spec(with_faults([{"action": "kill", "broker": 1, "at_s": 1, "restart_after_s": 1}],
                                  platform="kubernetes", consumer={"timing": "after"}))
    check_spec(spec)  # platforms/kubernetes/broker_faults.py; tests/test_kube_platform.py runs one


def test_fault_events_and_integrity_are_stored_with_the_run_and_survive_the_spool(fresh_db_url, tmp_path):
    from datetime import UTC, datetime

    from kafkalab.model import FaultEvent
    from kafkalab.results import spool
    from tests.test_store import make_record

    record = make_record("faulted", records_in_topic=3990, profile="durability",
                         topic_config={"min.insync.replicas": "2", "unclean.leader.election.enable": "false"})
    record.producer_props = {"acks": "all"}
    Integrity("end_offsets", 4010, 3990).apply(record)  # the three instances' 1000 + 3000 + 10
    record.fault_events = [
        FaultEvent(0, "kill", 1, 3.0, 3.0, outcome="restarted", at_s=3.002, down_at=datetime.now(UTC),
                   restarted_at_s=6.001, ready_at_s=21.5),
        FaultEvent(1, "stop", 2, 90.0, None),  # skipped: the producers finished first
    ]
    record = spool.read(spool.write(record, tmp_path))  # what a spooled run brings back
    with Store(fresh_db_url) as store:
        run_id = store.save_run(record)
        columns, data = store.query("SELECT * FROM v_integrity WHERE run_id = :id", {"id": run_id})
        row = dict(zip(columns, data[0]))
        events = store.query("SELECT seq, action, broker, outcome, at_s, ready_at_s FROM fault_events "
                             "WHERE run_id = :id ORDER BY seq", {"id": run_id})[1]
        comment = store.query("SELECT obj_description('v_integrity'::regclass, 'pg_class')")[1][0][0]
    assert (row["acks"], row["min_insync_replicas"], row["unclean_leader_election"]) == ("all", 2, False)
    assert (row["faults"], row["faults_injected"], row["faults_restarted"]) == (2, 1, 1)
    assert row["fault_actions"] == "kill broker 1 at 3.0s" and row["max_recovery_s"] == pytest.approx(18.498)
    assert (row["records_acknowledged"], row["records_in_topic"], row["records_lost"]) == (4010, 3990, 20)
    assert row["no_loss"] is False and row["integrity_check"] == "end_offsets"
    assert events == [(0, "kill", 1, "restarted", 3.002, 21.5), (1, "stop", 2, "skipped", None, None)]
    assert "acknowledged" in comment
