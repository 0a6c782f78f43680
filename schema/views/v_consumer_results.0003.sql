-- Revision 0003: the same view with columns appended (CREATE OR REPLACE keeps the views that
-- depend on it): source ('measured' | 'reference'), profile, sweep_id, cell_index, attempt.
-- One row per consumer test (ConsumerPerformance), with the run it measured.
CREATE OR REPLACE VIEW v_consumer_results AS
SELECT
    c.run_id,
    c.messages,
    c.mb,
    c.mb_per_sec,
    c.msgs_per_sec,
    c.rebalance_ms,
    c.fetch_ms,
    c.fetch_mb_per_sec,
    c.fetch_msgs_per_sec,
    e.name AS experiment,
    c.status,
    c.exit_code,
    c.messages_requested,
    c.start_time,
    c.end_time,
    c.error,
    c.started_at AS consumer_started_at,
    c.finished_at AS consumer_finished_at,
    r.started_at,
    r.platform,
    r.kafka_version,
    r.brokers,
    r.partitions,
    r.replication_factor,
    r.record_size,
    r.producer_instances,
    r.repetition,
    r.status AS run_status,
    r.experiment_id,
    c.id AS consumer_result_id,
    r.source,
    r.profile,
    r.sweep_id,
    r.cell_index,
    r.attempt
FROM consumer_results c
JOIN runs r ON r.id = c.run_id
JOIN experiments e ON e.id = r.experiment_id;

COMMENT ON VIEW v_consumer_results IS
    'One row per consumer test (ConsumerPerformance) with the run it measured; started_at is the run''s start.';
COMMENT ON COLUMN v_consumer_results.rebalance_ms IS 'Time the consumer spent joining the group before fetching, ms (the tool''s rebalance.time.ms).';
COMMENT ON COLUMN v_consumer_results.fetch_ms IS 'Time spent fetching, ms (the tool''s fetch.time.ms).';
COMMENT ON COLUMN v_consumer_results.fetch_mb_per_sec IS 'MB/s over fetch time only, rebalance excluded.';
COMMENT ON COLUMN v_consumer_results.fetch_msgs_per_sec IS 'Messages/s over fetch time only, rebalance excluded.';
COMMENT ON COLUMN v_consumer_results.source IS 'measured: a kafkalab run; reference: published results loaded by `kafkalab reference load` (the guide''s, with runs.hardware saying where they were measured).';
