-- Window stability: how steady each run's producers were, from their per-window throughput.
--
-- Question: which runs had unsteady throughput (stalls, warm-up, a slow instance)? For each
--   run, the spread of the windows' records/s over all its ok instances.
-- Parameters (kafkalab sql --file window_stability --param NAME=VALUE):
--   :experiment   text         (required)   experiment name
--   :since        timestamptz  = NULL       only runs started at or after this time
--   :limit        integer      = 50         the newest this many runs
-- Returns: one row per run with windows, least steady first: windows, mean, min and max
--   window records/s, coefficient of variation (stddev / mean; 0 = perfectly steady), and the
--   slowest window as a share of the mean.
WITH picked AS (
    SELECT r.id, r.started_at
    FROM runs r
    JOIN experiments e ON e.id = r.experiment_id
    WHERE e.name = CAST(:experiment AS text)
      AND r.source = 'measured'
      AND (CAST(:since AS timestamptz) IS NULL OR r.started_at >= CAST(:since AS timestamptz))
    ORDER BY r.started_at DESC, r.id DESC
    LIMIT CAST(:limit AS integer)
)
SELECT
    k.id AS run_id,
    k.started_at,
    count(w.seq)::integer AS windows,
    avg(w.records_per_sec) AS mean_window_records_per_sec,
    min(w.records_per_sec) AS min_window_records_per_sec,
    max(w.records_per_sec) AS max_window_records_per_sec,
    coalesce(stddev_samp(w.records_per_sec), 0) / nullif(avg(w.records_per_sec), 0) AS cv,
    min(w.records_per_sec) / nullif(avg(w.records_per_sec), 0) AS slowest_share
FROM picked k
JOIN producer_results p ON p.run_id = k.id AND p.status = 'ok'
JOIN producer_windows w ON w.producer_result_id = p.id
GROUP BY k.id, k.started_at
ORDER BY cv DESC NULLS LAST, k.id;
