-- Revision 0003: the same view with columns appended (CREATE OR REPLACE keeps the views that
-- depend on it): source ('measured' | 'reference'), profile, sweep_id, cell_index, attempt, hardware, reference_key.
-- One row per run: the producers' numbers added up, as the guide does by hand.
-- Only instances with status 'ok' count; a run without one has NULL totals (not 0), so a
-- failed run never plots as zero throughput.
CREATE OR REPLACE VIEW v_run_totals AS
SELECT
    r.id AS run_id,
    e.name AS experiment,
    r.brokers,
    r.partitions,
    r.record_size,
    r.producer_instances,
    t.total_records,
    t.total_records_per_sec,
    t.total_mb_per_sec,
    t.avg_latency_ms,
    t.weighted_avg_latency_ms,
    t.avg_max_latency_ms,
    t.max_latency_ms,
    t.worst_p50_ms,
    t.worst_p95_ms,
    t.worst_p99_ms,
    t.worst_p999_ms,
    r.status,
    t.instances_ok,
    r.records_in_topic,
    r.repetition,
    r.started_at,
    r.finished_at,
    r.platform,
    r.kafka_version,
    r.replication_factor,
    r.acks,
    r.batch_size,
    r.linger_ms,
    r.compression_type,
    r.num_records,
    r.throughput,
    r.topic,
    r.error,
    r.flow_run_id,
    r.experiment_id,
    r.source,
    r.profile,
    r.sweep_id,
    r.cell_index,
    r.attempt,
    r.hardware,
    r.reference_key
FROM runs r
JOIN experiments e ON e.id = r.experiment_id
CROSS JOIN LATERAL (
    SELECT
        count(*)::integer AS instances_ok,
        sum(p.records)::bigint AS total_records,
        sum(p.records_per_sec) AS total_records_per_sec,
        sum(p.mb_per_sec) AS total_mb_per_sec,
        avg(p.avg_latency_ms) AS avg_latency_ms,
        (sum(p.avg_latency_ms * p.records) / nullif(sum(p.records), 0))::double precision
            AS weighted_avg_latency_ms,
        avg(p.max_latency_ms) AS avg_max_latency_ms,
        max(p.max_latency_ms) AS max_latency_ms,
        max(p.p50_ms) AS worst_p50_ms,
        max(p.p95_ms) AS worst_p95_ms,
        max(p.p99_ms) AS worst_p99_ms,
        max(p.p999_ms) AS worst_p999_ms
    FROM producer_results p
    WHERE p.run_id = r.id AND p.status = 'ok'
) t;

COMMENT ON VIEW v_run_totals IS
    'One row per run: the producer instances added up as the guide does (sums over instances with status ok; NULL when none is ok). Per-instance percentiles cannot be combined into run percentiles, so the worst_* columns give the worst instance.';
COMMENT ON COLUMN v_run_totals.total_records IS 'Records sent, summed over ok instances.';
COMMENT ON COLUMN v_run_totals.total_records_per_sec IS 'Sum of the ok instances'' records/s (the guide''s total throughput; assumes the instances ran at the same time).';
COMMENT ON COLUMN v_run_totals.total_mb_per_sec IS 'Sum of the ok instances'' MB/s.';
COMMENT ON COLUMN v_run_totals.avg_latency_ms IS 'Mean of the ok instances'' average latencies, ms, each instance weighing the same (the guide''s "avg latency").';
COMMENT ON COLUMN v_run_totals.weighted_avg_latency_ms IS 'Average latency over all records of the ok instances, ms (instance averages weighted by their record counts).';
COMMENT ON COLUMN v_run_totals.avg_max_latency_ms IS 'Mean of the ok instances'' maximum latencies, ms (the guide''s "avg max latency").';
COMMENT ON COLUMN v_run_totals.max_latency_ms IS 'Largest latency of any record of any ok instance, ms.';
COMMENT ON COLUMN v_run_totals.worst_p50_ms IS 'Highest median latency among the ok instances, ms (not the run''s median).';
COMMENT ON COLUMN v_run_totals.worst_p95_ms IS 'Highest 95th percentile latency among the ok instances, ms.';
COMMENT ON COLUMN v_run_totals.worst_p99_ms IS 'Highest 99th percentile latency among the ok instances, ms.';
COMMENT ON COLUMN v_run_totals.worst_p999_ms IS 'Highest 99.9th percentile latency among the ok instances, ms.';
COMMENT ON COLUMN v_run_totals.status IS 'The run''s status (ok, failed, cancelled).';
COMMENT ON COLUMN v_run_totals.instances_ok IS 'Producer instances with status ok (of producer_instances asked).';
COMMENT ON COLUMN v_run_totals.records_in_topic IS 'Records found in the topic after the producers finished, when measured.';
COMMENT ON COLUMN v_run_totals.source IS 'measured: a kafkalab run; reference: published results loaded by `kafkalab reference load` (the guide''s, with runs.hardware saying where they were measured).';
COMMENT ON COLUMN v_run_totals.hardware IS 'Where a reference run was measured (platform, instance type, broker resources); NULL for measured runs.';
