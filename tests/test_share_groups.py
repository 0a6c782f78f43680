"""Share groups (KIP-932) through a real run: the experiment flow on one KRaft broker, kafkalab's
load generator producing, its consumers reading as a share group alongside the producers or
after them. What a user would check: the run is ok, every record was read, and alongside the
end-to-end latency is stored."""

from __future__ import annotations

import pytest

from kafkalab.core.errors import SpecError
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec

RECORDS = 3000
# 10 s of producing: on a fresh cluster a new share group delivers its first records after
# about 5 s (the share coordinator's state topic and partitions start on first use), and the
# run's figures only count what arrived inside the producers' window.
RATE = 300


def share_group_spec(name: str, timing: str, **consumer) -> dict:
    return {
        "name": name,
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"partitions": 2, "replication_factor": 1},
        "producer": {"tool": "kafkalab", "instances": 1, "num_records": RECORDS, "record_size": 100,
                     "throughput": RATE, "reporting_interval_ms": 1000, "heap_mb": 128, "props": {"acks": 1}},
        "consumer": {"tool": "kafkalab", "timing": timing, "share_group": True, "timeout_ms": 15000,
                     "heap_mb": 128, "timeout_s": 300, **consumer},
    }


def rows(sql: str, **params) -> list[dict]:
    with Store() as store:
        columns, data = store.query(sql, params or None)
    return [dict(zip(columns, r)) for r in data]


def run_experiment(data: dict) -> int:
    from flows.experiment import experiment

    (run_id,) = experiment(parse_spec(data))
    assert run_id is not None
    return run_id


def assert_every_record_read(run_id: int) -> None:
    (run,) = rows("SELECT status, error FROM runs WHERE id = :id", id=run_id)
    assert (run["status"], run["error"]) == ("ok", None)
    (producer,) = rows("SELECT status, records FROM v_producer_results WHERE run_id = :id", id=run_id)
    assert (producer["status"], producer["records"]) == ("ok", RECORDS)
    consumers = rows("SELECT status, messages, tool, group_id FROM consumer_results WHERE run_id = :id", id=run_id)
    assert consumers and all(c["status"] == "ok" and c["tool"] == "kafkalab" for c in consumers)
    assert sum(c["messages"] for c in consumers) == RECORDS


@pytest.mark.kafka
def test_a_share_group_alongside_the_producers_reads_every_record_and_measures_end_to_end(
        prefect_api, lab_env, kafka_dist):
    run_id = run_experiment(share_group_spec("it-share-alongside", "alongside", acknowledge_mode="explicit"))
    assert_every_record_read(run_id)
    (end_to_end,) = rows("SELECT count, p50_ms, p99_ms FROM v_run_latency WHERE run_id = :id AND kind = 'end_to_end'",
                         id=run_id)
    assert 0 < end_to_end["count"] <= RECORDS  # the run's window: the warm-up is left out
    assert 0 < end_to_end["p50_ms"] <= end_to_end["p99_ms"] < 60_000


@pytest.mark.kafka
def test_a_share_group_after_the_producers_reads_the_backlog_from_the_start(prefect_api, lab_env, kafka_dist):
    # A new share group would start at the latest offset and read nothing of the backlog; the
    # generator sets share.auto.offset.reset=earliest on the group before subscribing.
    run_id = run_experiment(share_group_spec("it-share-after", "after"))
    assert_every_record_read(run_id)


def test_share_groups_before_kafka_4_2_are_refused_naming_the_field():
    data = share_group_spec("share-on-4-1", "after")
    with pytest.raises(SpecError) as refused:
        parse_spec({**data, "kafka_version": "4.1.0"}, source="spec.yaml")
    message = str(refused.value)
    assert "\n" not in message and message.startswith("spec.yaml: ")
    assert "consumer.share_group" in message and "4.1.0" in message
    parse_spec({**data, "kafka_version": "4.2.0"})  # from 4.2 on, accepted
