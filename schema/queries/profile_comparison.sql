-- Profile comparison: which tuning profile gives the best p99 (and throughput)?
--
-- Question: "which profile gives the best p99 at 10 producers?" Runs are grouped by profile
--   and the producer settings they actually used (acks, batch.size, linger.ms, compression).
-- Parameters (kafkalab sql --file profile_comparison --param NAME=VALUE):
--   :producers    integer      = NULL        parallel producer instances; NULL for every count
--   :brokers      integer      = NULL        broker count; NULL for every count
--   :record_size  integer      = NULL        record size in bytes; NULL for every size
--   :experiment   text         = NULL        experiment name; NULL for all
--   :sweep_id     bigint       = NULL        sweep id; NULL for all
--   :since        timestamptz  = NULL        only runs started at or after this time
--   :source       text         = 'measured'  measured | reference | NULL for both
-- Returns: one row per producer count x profile x settings, best p99 first: ok runs, mean
--   worst-instance p99, mean latency, mean total records/s; p99_rank and throughput_rank
--   within the producer count (1 = best).
SELECT
    t.producer_instances,
    coalesce(t.profile, '(none)') AS profile,
    t.acks,
    t.batch_size,
    t.linger_ms,
    t.compression_type,
    count(*)::integer AS runs,
    avg(t.worst_p99_ms) AS mean_worst_p99_ms,
    avg(t.avg_latency_ms) AS mean_avg_latency_ms,
    avg(t.total_records_per_sec) AS mean_records_per_sec,
    avg(t.total_mb_per_sec) AS mean_mb_per_sec,
    rank() OVER (PARTITION BY t.producer_instances ORDER BY avg(t.worst_p99_ms)) AS p99_rank,
    rank() OVER (PARTITION BY t.producer_instances ORDER BY avg(t.total_records_per_sec) DESC) AS throughput_rank
FROM v_run_totals t
WHERE t.status = 'ok'
  AND t.total_records_per_sec IS NOT NULL
  AND (CAST(:producers AS integer) IS NULL OR t.producer_instances = CAST(:producers AS integer))
  AND (CAST(:brokers AS integer) IS NULL OR t.brokers = CAST(:brokers AS integer))
  AND (CAST(:record_size AS integer) IS NULL OR t.record_size = CAST(:record_size AS integer))
  AND (CAST(:experiment AS text) IS NULL OR t.experiment = CAST(:experiment AS text))
  AND (CAST(:sweep_id AS bigint) IS NULL OR t.sweep_id = CAST(:sweep_id AS bigint))
  AND (CAST(:since AS timestamptz) IS NULL OR t.started_at >= CAST(:since AS timestamptz))
  AND (CAST(:source AS text) IS NULL OR t.source = CAST(:source AS text))
GROUP BY t.producer_instances, coalesce(t.profile, '(none)'), t.acks, t.batch_size, t.linger_ms, t.compression_type
ORDER BY t.producer_instances, p99_rank, throughput_rank;
