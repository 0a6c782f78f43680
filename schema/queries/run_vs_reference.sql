-- A run against the reference: measured totals beside the guide's for the same cell.
--
-- Question: how does my run compare with the guide's published numbers (DC/OS 1.11, AWS
--   m3.xlarge, 3 CPU / 12 GB brokers) for the same brokers, producers, record size and
--   producer settings? A measured run matches a reference cell on brokers, producer
--   instances, record size, acks, batch.size and compression.type (view v_reference_match).
--   Load the reference first: kafkalab reference load.
-- Parameters (kafkalab sql --file run_vs_reference --param NAME=VALUE):
--   :run_id       bigint       = NULL        one measured run; NULL for the newest matching runs
--   :experiment   text         = NULL        experiment name; NULL for all
--   :limit        integer      = 20          at most this many runs, newest first
-- Returns: one row per matching measured run: its totals, the reference's means, and the
--   ratios measured / reference (1.0 = the guide's figure).
SELECT
    t.run_id,
    t.experiment,
    t.started_at,
    t.brokers,
    t.producer_instances,
    t.record_size,
    t.partitions,
    m.reference_experiment,
    m.reference_partitions,
    t.total_records_per_sec,
    m.reference_records_per_sec,
    t.total_records_per_sec / nullif(m.reference_records_per_sec, 0) AS records_per_sec_ratio,
    t.total_mb_per_sec,
    m.reference_mb_per_sec,
    t.avg_latency_ms,
    m.reference_avg_latency_ms,
    t.worst_p99_ms,
    m.reference_worst_p99_ms,
    m.reference_runs,
    m.reference_hardware ->> 'instances' AS reference_hardware
FROM v_reference_match m
JOIN v_run_totals t ON t.run_id = m.run_id
WHERE (CAST(:run_id AS bigint) IS NULL OR m.run_id = CAST(:run_id AS bigint))
  AND (CAST(:experiment AS text) IS NULL OR t.experiment = CAST(:experiment AS text))
ORDER BY t.started_at DESC, t.run_id DESC
LIMIT CAST(:limit AS integer);
