-- One row per broker, metric and sample: the brokers' JMX during the run (kafkalab.metrics.broker_jmx).
CREATE VIEW v_broker_metrics AS
SELECT
    m.run_id,
    e.name AS experiment,
    m.source,
    substring(m.source FROM '^broker-([0-9]+)$')::int AS broker,
    m.metric,
    m.at,
    extract(epoch FROM m.at - rm.started_at)::double precision AS seconds_from_start,
    m.value
FROM broker_metrics m
JOIN runs r ON r.id = m.run_id
JOIN experiments e ON e.id = r.experiment_id
LEFT JOIN run_metrics rm ON rm.run_id = m.run_id;

COMMENT ON VIEW v_broker_metrics IS
    'The brokers'' JMX per sampling interval (the reporting interval): bytes_in_per_sec, bytes_out_per_sec, messages_in_per_sec and isr_shrinks_per_sec from the meters'' Count deltas; request_handler_idle_pct and network_processor_idle_pct over the interval (0..100); under_replicated_partitions; <request>_<part>_p99_ms for produce, fetch_consumer, fetch_follower (Kafka''s own decaying histograms); log_flush_p99_ms; gc_ms_per_sec; process_cpu_pct (of one core). Names: kafkalab/metrics/names.py.';
COMMENT ON COLUMN v_broker_metrics.broker IS 'The broker''s node id, from source "broker-<id>".';
COMMENT ON COLUMN v_broker_metrics.seconds_from_start IS 'Seconds since sampling began, just before the load (run_metrics.started_at).';
COMMENT ON COLUMN v_broker_metrics.value IS 'NULL: the broker did not answer that sample (missing, never zero); v_metrics_missing says why.';
