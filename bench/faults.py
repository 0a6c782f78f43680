"""Kill a broker mid-test, per profile: faults survived and records lost (issue 6's figure).

    .venv/bin/python bench/faults.py [--reps 3] [--records 24000] [--rate 3000]
    .venv/bin/python bench/faults.py --reps 2 --records 150000 --rate -1    # unthrottled

Per profile one `kafkalab run` on a fresh 3-broker cluster, `--reps` repetitions (one
cluster, a fresh topic each), each with broker 1 SIGKILLed 3 s into the producer test and
started again 3 s later; 2 throttled producers. Profiles: `durability` (acks all, RF 3,
min.insync.replicas 2, no unclean election) and `availability` with acks=1 (RF 3,
min.insync.replicas 1, unclean leader election on). A fault is survived when the run ends ok
and the broker served again. "Kill / restart late by" is the worst lateness against the plan
(from the producers' go): tests/test_faults.py only bounds it loosely, this measures it.
Results go to a database of their own (bench/_db.py), kept for a look with `psql` when
--keep is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _db import bench_database  # noqa: E402
from _timing import timed_command  # noqa: E402

from kafkalab.results.store import Store  # noqa: E402

PROFILES = {
    "durability": {"profile": "durability"},
    "availability-acks1": {"profile": "availability", "producer": {"props": {"acks": 1}}},
}


def spec(name: str, extra: dict, reps: int, records: int, rate: int) -> dict:
    data = {
        "name": name,
        "repetitions": reps,
        "cluster": {"brokers": 3, "heap_mb": 256, "controller_heap_mb": 192},
        "topic": {"name": "faults", "partitions": 6, "replication_factor": 3},
        "producer": {"instances": 2, "num_records": records, "record_size": 200, "throughput": rate,
                     "reporting_interval_ms": 500, "heap_mb": 128, "timeout_s": 600},
        "consumer": {"enabled": False},
        "faults": [{"action": "kill", "broker": 1, "at_s": 3, "restart_after_s": 3}],
    }
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--records", type=int, default=24000, help="per producer instance")
    parser.add_argument("--rate", type=int, default=3000, help="records/s per producer instance; -1: no limit")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    with bench_database("kafkalab_bench_faults", keep=args.keep) as url, tempfile.TemporaryDirectory() as tmp:
        os.environ["DATABASE_URL"] = url
        walls = {}
        for label, extra in PROFILES.items():
            path = Path(tmp) / f"{label}.yaml"
            path.write_text(yaml.safe_dump(spec(f"bench-faults-{label}", extra, args.reps, args.records, args.rate)))
            walls[label] = timed_command(["run", str(path)])
        with Store(url) as store:
            _, rows = store.query(
                "SELECT experiment, count(*), count(*) FILTER (WHERE status = 'ok'), sum(faults_injected), "
                "count(*) FILTER (WHERE status = 'ok' AND faults_restarted = faults), "
                "sum(records_acknowledged), sum(records_lost), max(records_lost), max(max_recovery_s), "
                "min(acks), min(min_insync_replicas), bool_or(unclean_leader_election) "
                "FROM v_integrity GROUP BY experiment ORDER BY experiment"
            )
            _, windows = store.query(
                "SELECT i.experiment, max(w.max_latency_ms), min(w.records_per_sec) FROM v_integrity i "
                "JOIN producer_results p ON p.run_id = i.run_id JOIN producer_windows w ON w.producer_result_id = p.id "
                "GROUP BY 1"
            )
            _, timing = store.query(
                "SELECT i.experiment, max(f.at_s - f.planned_at_s), "
                "max(f.restarted_at_s - f.planned_at_s - f.planned_restart_after_s) "
                "FROM v_integrity i JOIN fault_events f ON f.run_id = i.run_id GROUP BY 1"
            )
    worst = {name: (lat, rps) for name, lat, rps in windows}
    late = {name: (kill, restart) for name, kill, restart in timing}
    rate = "unthrottled" if args.rate < 0 else f"at {args.rate}/s each"
    print(f"kill broker 1 of 3 at 3 s, restart after 3 s; 2 producers x {args.records} records {rate}; "
          f"{args.reps} runs per profile")
    print("| profile | acks | min.insync | unclean election | runs ok | faults survived | records acknowledged "
          "| records lost (total) | worst run | slowest recovery | worst window latency | lowest window rate "
          "| kill / restart late by |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, runs, ok, injected, survived, acked, lost, max_lost, recovery, acks, isr, unclean in rows:
        label = name.removeprefix("bench-faults-")
        lat, rps = worst.get(name, (None, None))
        kill_late, restart_late = late.get(name, (None, None))
        print(f"| {label} | {acks} | {isr} | {'on' if unclean else 'off'} | {ok}/{runs} | {survived}/{injected} "
              f"| {acked:,} | {lost} | {max_lost} | {float(recovery):.1f} s | {float(lat) / 1000:.1f} s "
              f"| {float(rps):.0f} rec/s | {_seconds(kill_late)} / {_seconds(restart_late)} |")
    print("wall: " + ", ".join(f"{label} {seconds:.0f} s" for label, seconds in walls.items()))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{float(value):.2f} s"


if __name__ == "__main__":
    main()
