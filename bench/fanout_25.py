"""The guide's largest fan-out on this machine: 25 producers in parallel against 3 brokers.

    .venv/bin/python bench/fanout_25.py [--records 20000]

Does every instance finish, how far apart do they end (they start together behind the
barrier), and what total does the
machine reach? Small records, no throughput cap, one run, stored like any experiment.
"""

from __future__ import annotations

import argparse

from _timing import newest_id, timed_command

from kafkalab.results.store import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    before = newest_id("runs")
    wall = timed_command([
        "run", "experiments/quickstart.yaml", "--set", "name=bench-fanout-25", "--set", "producer.instances=25",
        "--set", f"producer.num_records={args.records}", "--set", "producer.heap_mb=128",
        "--set", "consumer.enabled=false", "--set", "cluster.heap_mb=512",
    ])
    with Store() as store:
        _, rows = store.query(
            "SELECT t.instances_ok, t.producer_instances, t.total_records, t.total_records_per_sec, "
            "t.total_mb_per_sec, t.avg_latency_ms, t.worst_p99_ms, "
            "extract(epoch FROM max(p.finished_at) - min(p.finished_at)) "
            "FROM v_run_totals t JOIN producer_results p ON p.run_id = t.run_id WHERE t.run_id > :before "
            "GROUP BY 1, 2, 3, 4, 5, 6, 7", {"before": before},
        )
    ok, asked, records, rec_s, mb_s, avg_ms, p99, end_spread = rows[0]
    print(f"25 producers x {args.records} records against 3 brokers: {ok}/{asked} instances finished, "
          f"{records} records, total {float(rec_s):.0f} records/s ({float(mb_s):.2f} MB/s), "
          f"avg latency {float(avg_ms):.0f} ms, worst p99 {p99} ms, instances finished within "
          f"{float(end_spread):.1f} s of each other; wall {wall:.0f} s")


if __name__ == "__main__":
    main()
