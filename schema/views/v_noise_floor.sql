-- One row per spec and host: the newest noise floor `kafkalab noise` measured there.
CREATE VIEW v_noise_floor AS
SELECT DISTINCT ON (n.spec_name, n.host)
    n.spec_name,
    n.host,
    n.measured_at,
    n.runs,
    n.experiment,
    n.run_ids,
    n.latency_kind,
    n.mean_records_per_sec,
    n.cv_records_per_sec,
    n.mean_p99_ms,
    n.cv_p99_ms,
    n.id AS noise_floor_id
FROM noise_floors n
ORDER BY n.spec_name, n.host, n.measured_at DESC, n.id DESC;

COMMENT ON VIEW v_noise_floor IS
    'The newest run-to-run spread per spec and host (noise_floors keeps every measurement): N identical runs of the spec, the coefficient of variation (stddev / mean) of their window throughput and of their merged p99. kafkalab compare and check call no difference below it a change.';
COMMENT ON COLUMN v_noise_floor.cv_records_per_sec IS 'Sample stddev / mean of the runs'' window throughput, a share (0.03 = 3%).';
COMMENT ON COLUMN v_noise_floor.cv_p99_ms IS 'Sample stddev / mean of the runs'' merged p99 (of latency_kind), a share.';
