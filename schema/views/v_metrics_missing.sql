-- One row per run and thing its samplers could not see, in words.
CREATE VIEW v_metrics_missing AS
SELECT
    rm.run_id,
    e.name AS experiment,
    rm.interval_s,
    reason
FROM run_metrics rm
JOIN runs r ON r.id = rm.run_id
JOIN experiments e ON e.id = r.experiment_id
CROSS JOIN LATERAL unnest(rm.missing) AS reason;

COMMENT ON VIEW v_metrics_missing IS
    'What a run''s samplers could not see, e.g. "broker-1: JMX did not answer for 3 of 12 samples (...)", "broker metrics: platform kubernetes offers no broker JMX yet", "metrics collection is off". A run without a row here had every series.';
