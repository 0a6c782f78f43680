-- One row per change point kafkalab check found in an experiment's series (Apache Otava).
CREATE VIEW v_change_points AS
SELECT
    e.name AS experiment,
    c.metric,
    c.run_id,
    c.position,
    c.started_at,
    c.mean_before,
    c.mean_after,
    c.stddev_before,
    c.stddev_after,
    100 * c.change_share AS change_percent,
    c.pvalue,
    c.regression,
    c.detected_at
FROM change_points c
JOIN experiments e ON e.id = c.experiment_id;

COMMENT ON VIEW v_change_points IS
    'Change points of each experiment''s series of ok measured runs, oldest first (window_records_per_sec: window throughput, kafka-perf runs their summed averages; p99_ms: merged p99, corrected where measured, else send), found by E-divisive means (Apache Otava) at the last `kafkalab check` of the experiment. run_id is the first run after the change.';
COMMENT ON COLUMN v_change_points.change_percent IS 'mean after / mean before - 1, percent.';
COMMENT ON COLUMN v_change_points.regression IS 'True when the change is for the worse: throughput fell, or p99 rose.';
