-- The scaling table of a sweep: brokers x producers x record size -> mean total throughput.
CREATE VIEW v_scaling AS
SELECT
    r.sweep_id,
    s.name AS sweep,
    r.brokers,
    r.producer_instances,
    r.record_size,
    count(*)::integer AS runs,
    avg(t.total_records_per_sec) AS mean_total_records_per_sec,
    avg(t.total_mb_per_sec) AS mean_total_mb_per_sec,
    avg(t.avg_latency_ms) AS mean_avg_latency_ms,
    avg(t.worst_p99_ms) AS mean_worst_p99_ms
FROM runs r
JOIN sweeps s ON s.id = r.sweep_id
JOIN v_run_totals t ON t.run_id = r.id
WHERE r.status = 'ok'
GROUP BY r.sweep_id, s.name, r.brokers, r.producer_instances, r.record_size;

COMMENT ON VIEW v_scaling IS
    'Per sweep: brokers x producer instances x record size -> mean over ok runs (all cells with those values, e.g. every partition count and profile) of the total records/s and MB/s summed over producer instances.';
