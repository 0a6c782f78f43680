"""Kafka client quotas on a cluster kafkalab deploys (cluster.client_quotas).

One experiment flow run on a real 1-broker cluster with a producer quota: an unthrottled
producer is held at the quota by the broker, and its own metrics show the throttling. The
capacity tests build on this: a quota gives a cluster a known capacity on any machine.
"""

from __future__ import annotations

import pytest

from kafkalab.plan import Cell
from kafkalab.results.store import Store
from kafkalab.spec import parse_spec

pytestmark = pytest.mark.kafka

QUOTA_B_S = 400_000
RECORD_SIZE = 200


def _spec(**quotas: float) -> dict:
    return {
        "name": "it-client-quotas",
        # Kafka measures a client's rate over quota.window.num windows of a second (11 by default),
        # so a fresh client may send that long's worth in a burst: 2 windows hold it within a second.
        "cluster": {"brokers": 1, "heap_mb": 256, "controller_heap_mb": 192, "client_quotas": quotas,
                    "broker_config": {"quota.window.num": 2}},
        "topic": {"partitions": 2, "replication_factor": 1},
        # unthrottled: some 4 s at the quota, a fraction of a second without it
        "producer": {"tool": "kafkalab", "num_records": 8000, "record_size": RECORD_SIZE, "throughput": -1,
                     "reporting_interval_ms": 1000, "heap_mb": 128, "props": {"acks": 1, "linger.ms": 5}},
        "consumer": {"enabled": False},
        "smoke_test": False,
    }


def test_a_quota_change_needs_another_cluster():
    plain = Cell(0, {}, parse_spec(_spec()))
    held = Cell(1, {}, parse_spec(_spec(producer_byte_rate=QUOTA_B_S)))
    assert plain.cluster_key != held.cluster_key  # a sweep over quotas deploys a cluster per quota


def test_an_unthrottled_producer_is_held_at_the_quota(prefect_api, lab_env, kafka_dist):
    from flows.experiment import experiment

    (run_id,) = experiment(parse_spec(_spec(producer_byte_rate=QUOTA_B_S)))
    with Store() as store:
        totals = store.run_totals([run_id])[run_id]
        _, throttled = store.query(
            "SELECT max(value) FROM v_client_metrics WHERE run_id = :id AND metric = 'produce_throttle_time_avg_ms'",
            {"id": run_id})
    assert totals["status"] == "ok" and totals["records_in_topic"] == 8000
    # The values alone fill 95% of the quota or less: the batches' framing is counted too.
    assert 0.3 * QUOTA_B_S <= totals["achieved_records_per_sec"] * RECORD_SIZE <= 1.05 * QUOTA_B_S, totals
    assert throttled[0][0] is not None and throttled[0][0] > 0  # the broker told the client to back off
