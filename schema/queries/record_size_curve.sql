-- Record-size curve: throughput in records/s and MB/s against record size.
--
-- Question: how do records/s and MB/s change with the record size, for a given cluster and
--   producer count?  (The guide's Step 7: 250 B, 500 B, 1 kB.)
-- Parameters (kafkalab sql --file record_size_curve --param NAME=VALUE):
--   :experiment   text         = NULL        experiment name; NULL for all
--   :sweep_id     bigint       = NULL        sweep id; NULL for all
--   :brokers      integer      = NULL        broker count; NULL for every count
--   :producers    integer      = NULL        parallel producer instances; NULL for every count
--   :since        timestamptz  = NULL        only runs started at or after this time
--   :source       text         = 'measured'  measured | reference | NULL for both
-- Returns: one row per brokers x producer instances x record size: ok runs, mean total
--   records/s and MB/s, MB/s per producer, mean latency and mean worst-instance p99.
SELECT
    t.brokers,
    t.producer_instances,
    t.record_size,
    count(*)::integer AS runs,
    avg(t.total_records_per_sec) AS mean_records_per_sec,
    avg(t.total_mb_per_sec) AS mean_mb_per_sec,
    avg(t.total_mb_per_sec) / t.producer_instances AS mean_mb_per_sec_per_producer,
    avg(t.avg_latency_ms) AS mean_avg_latency_ms,
    avg(t.worst_p99_ms) AS mean_worst_p99_ms
FROM v_run_totals t
WHERE t.status = 'ok'
  AND t.total_records_per_sec IS NOT NULL
  AND (CAST(:experiment AS text) IS NULL OR t.experiment = CAST(:experiment AS text))
  AND (CAST(:sweep_id AS bigint) IS NULL OR t.sweep_id = CAST(:sweep_id AS bigint))
  AND (CAST(:brokers AS integer) IS NULL OR t.brokers = CAST(:brokers AS integer))
  AND (CAST(:producers AS integer) IS NULL OR t.producer_instances = CAST(:producers AS integer))
  AND (CAST(:since AS timestamptz) IS NULL OR t.started_at >= CAST(:since AS timestamptz))
  AND (CAST(:source AS text) IS NULL OR t.source = CAST(:source AS text))
GROUP BY t.brokers, t.producer_instances, t.record_size
ORDER BY t.brokers, t.producer_instances, t.record_size;
