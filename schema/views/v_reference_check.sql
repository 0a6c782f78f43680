-- Every total and average the guide prints under its results ("Average:" over the 5 runs of
-- a baseline, "Total Throughput:" over parallel producers), beside the same figure computed
-- from the guide's own result lines (the reference runs), and whether the two agree at the
-- precision printed.
CREATE VIEW v_reference_check AS
SELECT
    e.name AS experiment,
    f.statistic,
    f.metric,
    f.printed,
    c.computed,
    round(c.computed::numeric, f.decimals) AS computed_rounded,
    round(c.computed::numeric, f.decimals) = f.printed AS agrees,
    trunc(c.computed::numeric, f.decimals) = f.printed AS truncated_agrees,
    c.computed - f.printed::double precision AS difference,
    f.decimals,
    c.runs,
    c.instances,
    f.printed_text,
    f.line,
    f.experiment_id,
    f.id AS figure_id,
    (SELECT min(r.id) FROM runs r WHERE r.experiment_id = f.experiment_id AND r.source = 'reference')
        AS reference_order,
    array_position(
        ARRAY['total_records_per_sec', 'total_mb_per_sec', 'avg_latency_ms', 'avg_max_latency_ms'], f.metric
    ) AS metric_order
FROM reference_figures f
JOIN experiments e ON e.id = f.experiment_id
CROSS JOIN LATERAL (
    SELECT
        count(*)::integer AS runs,
        sum(t.instances_ok)::integer AS instances,
        CASE f.metric
            WHEN 'total_records_per_sec' THEN avg(t.total_records_per_sec)
            WHEN 'total_mb_per_sec' THEN avg(t.total_mb_per_sec)
            WHEN 'avg_latency_ms' THEN avg(t.avg_latency_ms)
            WHEN 'avg_max_latency_ms' THEN avg(t.avg_max_latency_ms)
        END AS computed
    FROM v_run_totals t
    WHERE t.experiment_id = f.experiment_id AND t.source = 'reference' AND t.status = 'ok'
) c;

COMMENT ON VIEW v_reference_check IS
    'Each figure the guide prints (statistic average: mean over the experiment''s runs; total: over one run''s parallel producers) beside the figure computed from its result lines via v_run_totals. agrees: the computed value rounded half up to the printed decimals equals the printed one.';
COMMENT ON COLUMN v_reference_check.metric IS 'The v_run_totals column the figure corresponds to (averaged over the experiment''s reference runs).';
COMMENT ON COLUMN v_reference_check.printed IS 'The figure as the guide prints it.';
COMMENT ON COLUMN v_reference_check.computed IS 'The same figure computed from the guide''s per-producer lines.';
COMMENT ON COLUMN v_reference_check.agrees IS 'computed rounded (half up) to the printed number of decimals equals printed.';
COMMENT ON COLUMN v_reference_check.truncated_agrees IS 'computed truncated (not rounded) to the printed decimals equals printed.';
