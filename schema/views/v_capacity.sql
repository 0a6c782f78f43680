-- One row per capacity study: its objective and the maximum sustainable throughput meeting
-- it, with the 95% confidence interval over that step's repetitions, and the curve's knee.
CREATE VIEW v_capacity AS
SELECT
    c.id AS study_id,
    c.name AS experiment,
    c.slo,
    c.kind,
    c.percentile,
    c.bound_ms,
    c.repetitions,
    c.status,
    c.finding,
    c.probe_records_per_sec,
    c.max_sustainable_records_per_sec,
    c.ci95_low_max_sustainable_records_per_sec,
    c.ci95_high_max_sustainable_records_per_sec,
    c.passed_target_records_per_sec,
    c.failed_target_records_per_sec,
    c.knee_records_per_sec,
    c.knee_latency_ms,
    (SELECT count(*) FROM capacity_steps s WHERE s.study_id = c.id AND s.verdict IS NOT NULL)::integer AS steps,
    (SELECT count(*) FROM capacity_step_runs l WHERE l.study_id = c.id)::integer AS runs,
    c.sweep_id,
    c.cell_index,
    c.cell,
    c.created_at,
    c.finished_at,
    c.flow_run_id
FROM capacity_studies c;

COMMENT ON VIEW v_capacity IS
    'One row per capacity study (kafkalab capacity, or a sweep cell with capacity:): the objective, the maximum sustainable throughput meeting it without saturating (the highest passing step''s achieved records/s, mean over its repetitions, with a Student t 95% CI), the bracket the search stopped in, and the knee of the latency-throughput curve (Kneedle).';
COMMENT ON COLUMN v_capacity.finding IS 'found: a passing and a failing step bracket the capacity; below_range: the lowest step already failed; beyond_range: every step passed; NULL while running.';
COMMENT ON COLUMN v_capacity.max_sustainable_records_per_sec IS 'Achieved window throughput (all producers) of the highest step whose merged percentile met the objective and whose runs kept their target rate.';
COMMENT ON COLUMN v_capacity.failed_target_records_per_sec IS 'The lowest target above the sustainable one that broke the objective or saturated: the capacity lies between the two targets.';
COMMENT ON COLUMN v_capacity.knee_records_per_sec IS 'Where latency starts to climb: the curve point farthest below the chord from its first to its last point, both axes scaled to [0, 1].';
