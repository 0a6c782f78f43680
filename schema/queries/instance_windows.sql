-- Per-window throughput of each producer instance of a run, over time.
--
-- Question: did every producer keep its pace through the run, or did one stall? Each
--   ProducerPerformance progress line (a window, every reporting interval) of each instance.
-- Parameters (kafkalab sql --file instance_windows --param NAME=VALUE):
--   :run_id       bigint       (required)   the run
-- Returns: one row per instance and window, in order: seconds since the instance started
--   (end of the window: (seq + 1) x the reporting interval, 5 s unless the spec set
--   producer.reporting_interval_ms), records in the window, records/s, MB/s, avg and max
--   latency of the window.
SELECT
    p.instance,
    w.seq,
    (w.seq + 1) * coalesce((r.spec -> 'producer' ->> 'reporting_interval_ms')::double precision, 5000) / 1000
        AS seconds,
    w.records,
    w.records_per_sec,
    w.mb_per_sec,
    w.avg_latency_ms,
    w.max_latency_ms
FROM producer_results p
JOIN runs r ON r.id = p.run_id
JOIN producer_windows w ON w.producer_result_id = p.id
WHERE p.run_id = CAST(:run_id AS bigint)
ORDER BY p.instance, w.seq;
