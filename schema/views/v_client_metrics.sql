-- One row per load-generator instance, metric and interval: the clients' own metrics (kafkalab.metrics.client).
CREATE VIEW v_client_metrics AS
SELECT
    m.run_id,
    e.name AS experiment,
    m.source,
    split_part(m.source, '-', 1) AS role,
    substring(m.source FROM '-([0-9]+)$')::int AS instance,
    m.metric,
    m.at,
    extract(epoch FROM m.at - rm.started_at)::double precision AS seconds_from_start,
    m.value
FROM client_metrics m
JOIN runs r ON r.id = m.run_id
JOIN experiments e ON e.id = r.experiment_id
LEFT JOIN run_metrics rm ON rm.run_id = m.run_id;

COMMENT ON VIEW v_client_metrics IS
    'The load generator''s client metrics at the end of each reporting interval (Kafka''s windowed values, metrics.sample.window.ms): producers record_queue_time_avg_ms, request_latency_avg_ms, batch_size_avg_bytes, records_per_request_avg, buffer_available_bytes, produce_throttle_time_avg_ms; consumers fetch_latency_avg_ms, records_lag_max. NULL: the client had no value yet.';
COMMENT ON COLUMN v_client_metrics.role IS 'producer | consumer';
