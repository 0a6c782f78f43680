-- Nightly trend with a regression flag: each run beside the median of the runs before it.
--
-- Question: "did last night's baseline drop against the last thirty nights?" A run is a
--   regression when its total records/s falls more than :drop (a share, 0.1 = 10%) below the
--   median of the :window ok measured runs of the same experiment before it; a failed run is
--   flagged too. Fewer than :min_previous earlier ok runs: no verdict ('no history').
--   `kafkalab check --experiment NAME` applies this query to the newest run and exits 3 on a
--   regression.
-- Parameters (kafkalab sql --file nightly_trend --param NAME=VALUE):
--   :experiment    text       (required)   experiment name
--   :window        integer    = 30         how many earlier ok runs the median is taken over
--   :drop          double     = 0.1        tolerated share below the median (0.1 = 10%)
--   :min_previous  integer    = 3          fewest earlier ok runs needed for a verdict
--   :limit         integer    = 60         the newest this many runs, oldest first
-- Returns: one row per measured run (oldest first): total records/s, the median of the
--   previous runs and how many there were, ratio to the median, verdict (ok | regression |
--   failed | no history) and regression (true for regression or failed).
WITH recent AS (
    SELECT t.run_id, t.experiment_id, t.started_at, t.status, t.total_records_per_sec
    FROM v_run_totals t
    WHERE t.experiment = CAST(:experiment AS text) AND t.source = 'measured'
    ORDER BY t.started_at DESC, t.run_id DESC
    LIMIT CAST(:limit AS integer)
)
SELECT
    r.run_id,
    r.started_at,
    r.status,
    r.total_records_per_sec,
    h.median_records_per_sec,
    h.previous_runs,
    r.total_records_per_sec / nullif(h.median_records_per_sec, 0) AS ratio,
    v.verdict,
    v.verdict IN ('regression', 'failed') AS regression
FROM recent r
CROSS JOIN LATERAL (
    SELECT
        count(*)::integer AS previous_runs,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY p.value) AS median_records_per_sec
    FROM (
        SELECT pt.total_records_per_sec AS value
        FROM runs pr
        JOIN v_run_totals pt ON pt.run_id = pr.id
        WHERE pr.experiment_id = r.experiment_id
          AND pr.source = 'measured'
          AND pr.status = 'ok'
          AND (pr.started_at, pr.id) < (r.started_at, r.run_id)
          AND pt.total_records_per_sec IS NOT NULL
        ORDER BY pr.started_at DESC, pr.id DESC
        LIMIT CAST(:window AS integer)
    ) p
) h
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN r.status <> 'ok' OR r.total_records_per_sec IS NULL THEN 'failed'
        WHEN h.previous_runs < CAST(:min_previous AS integer) THEN 'no history'
        WHEN r.total_records_per_sec < (1 - CAST(:drop AS double precision)) * h.median_records_per_sec
            THEN 'regression'
        ELSE 'ok'
    END AS verdict
) v
ORDER BY r.started_at, r.run_id;
