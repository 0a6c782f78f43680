-- Revision 0003: the same view with columns appended (CREATE OR REPLACE keeps the views that
-- depend on it): source ('measured' | 'reference'), profile, sweep_id, cell_index, attempt.
-- One row per producer instance per run, with the run's cluster and producer settings.
-- Failed instances are rows too (status <> 'ok', metrics NULL when the tool printed none).
CREATE OR REPLACE VIEW v_producer_results AS
SELECT
    r.id AS run_id,
    e.name AS experiment,
    r.started_at,
    r.platform,
    r.kafka_version,
    r.brokers,
    r.partitions,
    r.replication_factor,
    r.record_size,
    r.producer_instances,
    p.instance,
    r.acks,
    r.batch_size,
    r.linger_ms,
    r.compression_type,
    p.records,
    p.records_per_sec,
    p.mb_per_sec,
    p.avg_latency_ms,
    p.max_latency_ms,
    p.p50_ms,
    p.p95_ms,
    p.p99_ms,
    p.p999_ms,
    p.status,
    p.client_id,
    p.exit_code,
    p.records_requested,
    p.error,
    p.started_at AS instance_started_at,
    p.finished_at AS instance_finished_at,
    p.steady_state_records,
    p.steady_state_records_per_sec,
    p.steady_state_mb_per_sec,
    p.steady_state_avg_latency_ms,
    p.steady_state_max_latency_ms,
    p.steady_state_p50_ms,
    p.steady_state_p95_ms,
    p.steady_state_p99_ms,
    p.steady_state_p999_ms,
    r.repetition,
    r.status AS run_status,
    r.topic,
    r.num_records,
    r.throughput,
    r.experiment_id,
    p.id AS producer_result_id,
    r.source,
    r.profile,
    r.sweep_id,
    r.cell_index,
    r.attempt
FROM producer_results p
JOIN runs r ON r.id = p.run_id
JOIN experiments e ON e.id = r.experiment_id;

COMMENT ON VIEW v_producer_results IS
    'One row per producer instance (ProducerPerformance) per run, with the run''s cluster and producer settings. status says whether this instance succeeded; started_at is the run''s start.';
COMMENT ON COLUMN v_producer_results.started_at IS 'When the run started (instance_started_at: this instance).';
COMMENT ON COLUMN v_producer_results.acks IS 'producer acks; Kafka''s default "all" when the spec did not set it (-1 is shown as all).';
COMMENT ON COLUMN v_producer_results.batch_size IS 'producer batch.size in bytes; Kafka''s default 16384 when not set.';
COMMENT ON COLUMN v_producer_results.linger_ms IS 'producer linger.ms; Kafka 4''s default 5 when not set.';
COMMENT ON COLUMN v_producer_results.compression_type IS 'producer compression.type; Kafka''s default "none" when not set.';
COMMENT ON COLUMN v_producer_results.avg_latency_ms IS 'Mean send-to-acknowledgement latency of this instance over all its records, ms (the tool''s "avg latency").';
COMMENT ON COLUMN v_producer_results.max_latency_ms IS 'Largest latency of any record of this instance, ms (the tool''s "max latency").';
COMMENT ON COLUMN v_producer_results.p50_ms IS 'Median latency of this instance, ms.';
COMMENT ON COLUMN v_producer_results.p95_ms IS '95th percentile latency of this instance, ms.';
COMMENT ON COLUMN v_producer_results.p99_ms IS '99th percentile latency of this instance, ms.';
COMMENT ON COLUMN v_producer_results.p999_ms IS '99.9th percentile latency of this instance, ms.';
COMMENT ON COLUMN v_producer_results.source IS 'measured: a kafkalab run; reference: published results loaded by `kafkalab reference load` (the guide''s, with runs.hardware saying where they were measured).';
