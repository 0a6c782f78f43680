-- The reference experiments as cells: one row per reference experiment with producers, its
-- cluster and producer settings, and the means over its ok runs of the v_run_totals figures.
-- A measured run matches a reference cell (v_reference_match) on brokers, producer instances,
-- record size, acks, batch.size and compression.type; partitions and linger.ms are shown but
-- not matched (the guide used 10 or 30 partitions and Kafka 1.0's linger.ms default of 0).
CREATE VIEW v_reference_cells AS
SELECT
    r.experiment_id,
    e.name AS experiment,
    r.brokers,
    r.partitions,
    r.record_size,
    r.producer_instances,
    r.acks,
    r.batch_size,
    r.linger_ms,
    r.compression_type,
    r.profile,
    count(*)::integer AS runs,
    avg(t.total_records_per_sec) AS mean_records_per_sec,
    avg(t.total_mb_per_sec) AS mean_mb_per_sec,
    avg(t.avg_latency_ms) AS mean_avg_latency_ms,
    avg(t.avg_max_latency_ms) AS mean_avg_max_latency_ms,
    avg(t.worst_p50_ms) AS mean_worst_p50_ms,
    avg(t.worst_p95_ms) AS mean_worst_p95_ms,
    avg(t.worst_p99_ms) AS mean_worst_p99_ms,
    avg(t.worst_p999_ms) AS mean_worst_p999_ms,
    (array_agg(r.hardware ORDER BY r.id))[1] AS hardware
FROM runs r
JOIN experiments e ON e.id = r.experiment_id
JOIN v_run_totals t ON t.run_id = r.id
WHERE r.source = 'reference' AND r.status = 'ok' AND r.producer_instances > 0
GROUP BY r.experiment_id, e.name, r.brokers, r.partitions, r.record_size, r.producer_instances,
         r.acks, r.batch_size, r.linger_ms, r.compression_type, r.profile;

COMMENT ON VIEW v_reference_cells IS
    'One row per reference experiment with producers: its settings and the means over its ok runs of the v_run_totals figures (throughput summed over parallel producers; latencies as v_run_totals defines them).';

-- Each measured run with the reference cell it matches, if any.
CREATE VIEW v_reference_match AS
SELECT
    m.id AS run_id,
    c.experiment_id AS reference_experiment_id,
    c.experiment AS reference_experiment,
    c.partitions AS reference_partitions,
    c.linger_ms AS reference_linger_ms,
    c.runs AS reference_runs,
    c.mean_records_per_sec AS reference_records_per_sec,
    c.mean_mb_per_sec AS reference_mb_per_sec,
    c.mean_avg_latency_ms AS reference_avg_latency_ms,
    c.mean_worst_p99_ms AS reference_worst_p99_ms,
    c.hardware AS reference_hardware
FROM runs m
JOIN v_reference_cells c
  ON c.brokers = m.brokers
 AND c.producer_instances = m.producer_instances
 AND c.record_size = m.record_size
 AND c.acks = m.acks
 AND c.batch_size IS NOT DISTINCT FROM m.batch_size
 AND c.compression_type = m.compression_type
WHERE m.source = 'measured';

COMMENT ON VIEW v_reference_match IS
    'Measured runs beside the reference cell they match: same brokers, producer instances, record size, acks, batch.size and compression.type (partitions and linger.ms are not matched; reference_partitions and reference_linger_ms show the reference''s).';
