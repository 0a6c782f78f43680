-- One row per host source, metric and sample: the machine running the flow (kafkalab.metrics.host).
CREATE VIEW v_host_metrics AS
SELECT
    m.run_id,
    e.name AS experiment,
    m.source,
    m.metric,
    m.at,
    extract(epoch FROM m.at - rm.started_at)::double precision AS seconds_from_start,
    m.value
FROM host_metrics m
JOIN runs r ON r.id = m.run_id
JOIN experiments e ON e.id = r.experiment_id
LEFT JOIN run_metrics rm ON rm.run_id = m.run_id;

COMMENT ON VIEW v_host_metrics IS
    'The machine running the flow, per sampling interval (psutil). Sources: host and cpu<N> (cpu_user_pct, cpu_system_pct, cpu_iowait_pct, cpu_steal_pct, cpu_busy_pct; host also load_1m, memory_used_bytes, memory_available_bytes), disk:<device> (disk_read_bytes_per_sec, disk_write_bytes_per_sec, disk_busy_pct), net:<interface> (net_rx_bytes_per_sec, net_tx_bytes_per_sec), process:<name> (process_cpu_pct, of one core: broker-<id>, controller-<id>, loadgen-producer-<i>, loadgen-consumer-<i>, metrics-jmx).';
COMMENT ON COLUMN v_host_metrics.seconds_from_start IS 'Seconds since sampling began, just before the load (run_metrics.started_at).';
