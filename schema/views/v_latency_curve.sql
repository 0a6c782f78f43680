-- One row per step of a capacity study: the latency-throughput curve. Percentiles come from
-- the histogram merged over the step's repetitions (never averaged); their intervals are
-- Student t over the repetitions' own percentiles.
CREATE VIEW v_latency_curve AS
SELECT
    s.study_id,
    c.name AS experiment,
    c.slo,
    c.kind,
    s.seq,
    s.phase,
    s.target_records_per_sec,
    s.achieved_records_per_sec,
    s.ci95_low_achieved_records_per_sec,
    s.ci95_high_achieved_records_per_sec,
    s.p50_ms,
    s.ci95_low_p50_ms,
    s.ci95_high_p50_ms,
    s.p99_ms,
    s.ci95_low_p99_ms,
    s.ci95_high_p99_ms,
    s.p999_ms,
    s.ci95_low_p999_ms,
    s.ci95_high_p999_ms,
    s.objective_ms,
    s.ci95_low_objective_ms,
    s.ci95_high_objective_ms,
    s.verdict,
    s.reason,
    s.n,
    (SELECT array_agg(l.run_id ORDER BY l.repetition, l.run_id)
       FROM capacity_step_runs l WHERE l.study_id = s.study_id AND l.seq = s.seq) AS run_ids
FROM capacity_steps s
JOIN capacity_studies c ON c.id = s.study_id;

COMMENT ON VIEW v_latency_curve IS
    'One row per step of a capacity study (probe, steps, bisections): target and achieved records/s, p50 / p99 / p99.9 of the study''s latency kind and its objective''s percentile, each from the histogram merged over the step''s repetitions with a Student t 95% CI over them, and whether the step met the objective.';
COMMENT ON COLUMN v_latency_curve.objective_ms IS 'The latency at the objective''s percentile (e.g. p99 for p99<20ms), merged over the step''s repetitions.';
COMMENT ON COLUMN v_latency_curve.verdict IS 'probe | pass (met the objective, kept the rate) | breaks (missed the objective) | saturated (did not keep its target rate); NULL while its repetitions run.';
