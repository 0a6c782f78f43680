-- Scaling curve: total throughput against broker count, one line per producer count.
--
-- Question: how does the throughput of all parallel producers together grow with brokers,
--   for each number of producers (and record size)?  "throughput against broker count for
--   250 B records".
-- Parameters (kafkalab sql --file scaling_curve --param NAME=VALUE; unset ones take the default):
--   :experiment   text         = NULL        experiment name; NULL for all
--   :sweep_id     bigint       = NULL        sweep id; NULL for all
--   :record_size  integer      = NULL        record size in bytes; NULL for every size
--   :since        timestamptz  = NULL        only runs started at or after this time
--   :source       text         = 'measured'  measured | reference (the guide's runs) | NULL for both
-- Returns: one row per record size x producer instances x brokers: ok runs, mean and sample
--   standard deviation of the total records/s (summed over producers), mean total MB/s, mean
--   latency (mean of the instances' averages) and mean worst-instance p99.
SELECT
    t.record_size,
    t.producer_instances,
    t.brokers,
    count(*)::integer AS runs,
    avg(t.total_records_per_sec) AS mean_records_per_sec,
    coalesce(stddev_samp(t.total_records_per_sec), 0) AS stddev_records_per_sec,
    avg(t.total_mb_per_sec) AS mean_mb_per_sec,
    avg(t.avg_latency_ms) AS mean_avg_latency_ms,
    avg(t.worst_p99_ms) AS mean_worst_p99_ms
FROM v_run_totals t
WHERE t.status = 'ok'
  AND t.total_records_per_sec IS NOT NULL
  AND (CAST(:experiment AS text) IS NULL OR t.experiment = CAST(:experiment AS text))
  AND (CAST(:sweep_id AS bigint) IS NULL OR t.sweep_id = CAST(:sweep_id AS bigint))
  AND (CAST(:record_size AS integer) IS NULL OR t.record_size = CAST(:record_size AS integer))
  AND (CAST(:since AS timestamptz) IS NULL OR t.started_at >= CAST(:since AS timestamptz))
  AND (CAST(:source AS text) IS NULL OR t.source = CAST(:source AS text))
GROUP BY t.record_size, t.producer_instances, t.brokers
ORDER BY t.record_size, t.producer_instances, t.brokers;
