-- Before and after a change: an experiment's latency and throughput on either side of a moment.
--
-- Question: "how did p99 change since the broker upgrade?" Splits the experiment's ok
--   measured runs at :at and compares the two sides.
-- Parameters (kafkalab sql --file before_after --param NAME=VALUE):
--   :experiment   text         (required)   experiment name
--   :at           timestamptz  (required)   the moment of the change, e.g. 2026-11-01T00:00Z
-- Returns: two rows, 'before' and 'after': ok runs, first and last run time, median and mean
--   worst-instance p99, mean latency, mean total records/s, and (on 'after') the change of
--   each against 'before' as a share (0.25 = 25% higher).
WITH sides AS (
    SELECT
        CASE WHEN t.started_at < CAST(:at AS timestamptz) THEN 'before' ELSE 'after' END AS side,
        count(*)::integer AS runs,
        min(t.started_at) AS first_run,
        max(t.started_at) AS last_run,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY t.worst_p99_ms) AS median_worst_p99_ms,
        avg(t.worst_p99_ms) AS mean_worst_p99_ms,
        avg(t.avg_latency_ms) AS mean_avg_latency_ms,
        avg(t.total_records_per_sec) AS mean_records_per_sec
    FROM v_run_totals t
    WHERE t.experiment = CAST(:experiment AS text)
      AND t.source = 'measured'
      AND t.status = 'ok'
      AND t.total_records_per_sec IS NOT NULL
    GROUP BY 1
)
SELECT
    a.side,
    a.runs,
    a.first_run,
    a.last_run,
    a.median_worst_p99_ms,
    a.mean_worst_p99_ms,
    a.mean_avg_latency_ms,
    a.mean_records_per_sec,
    CASE WHEN a.side = 'after' THEN a.median_worst_p99_ms / nullif(b.median_worst_p99_ms, 0) - 1 END
        AS median_worst_p99_change,
    CASE WHEN a.side = 'after' THEN a.mean_records_per_sec / nullif(b.mean_records_per_sec, 0) - 1 END
        AS records_per_sec_change
FROM sides a
LEFT JOIN sides b ON b.side = 'before'
ORDER BY a.side DESC;
