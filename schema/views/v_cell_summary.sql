-- One row per sweep cell: the cell's ok repetitions summarised (mean, spread, range).
CREATE VIEW v_cell_summary AS
SELECT
    r.sweep_id,
    s.name AS sweep,
    r.cell_index,
    (array_agg(r.cell))[1] AS cell,
    max(r.brokers) AS brokers,
    max(r.partitions) AS partitions,
    max(r.replication_factor) AS replication_factor,
    max(r.record_size) AS record_size,
    max(r.producer_instances) AS producer_instances,
    max(r.profile) AS profile,
    count(*)::integer AS repetitions,
    avg(t.total_records_per_sec) AS mean_records_per_sec,
    coalesce(stddev_samp(t.total_records_per_sec), 0) AS stddev_records_per_sec,
    min(t.total_records_per_sec) AS min_records_per_sec,
    max(t.total_records_per_sec) AS max_records_per_sec,
    avg(t.total_mb_per_sec) AS mean_mb_per_sec,
    coalesce(stddev_samp(t.total_mb_per_sec), 0) AS stddev_mb_per_sec,
    min(t.total_mb_per_sec) AS min_mb_per_sec,
    max(t.total_mb_per_sec) AS max_mb_per_sec,
    avg(t.avg_latency_ms) AS mean_avg_latency_ms,
    coalesce(stddev_samp(t.avg_latency_ms), 0) AS stddev_avg_latency_ms,
    min(t.avg_latency_ms) AS min_avg_latency_ms,
    max(t.avg_latency_ms) AS max_avg_latency_ms,
    avg(t.avg_max_latency_ms) AS mean_avg_max_latency_ms,
    avg(t.worst_p50_ms) AS mean_worst_p50_ms,
    avg(t.worst_p95_ms) AS mean_worst_p95_ms,
    avg(t.worst_p99_ms) AS mean_worst_p99_ms,
    coalesce(stddev_samp(t.worst_p99_ms), 0) AS stddev_worst_p99_ms,
    min(t.worst_p99_ms) AS min_worst_p99_ms,
    max(t.worst_p99_ms) AS max_worst_p99_ms,
    avg(t.worst_p999_ms) AS mean_worst_p999_ms
FROM runs r
JOIN sweeps s ON s.id = r.sweep_id
JOIN v_run_totals t ON t.run_id = r.id
WHERE r.status = 'ok'
GROUP BY r.sweep_id, s.name, r.cell_index;

COMMENT ON VIEW v_cell_summary IS
    'One row per sweep and cell over its ok runs: mean, sample standard deviation (0 for one run), min and max of the run totals of v_run_totals (records/s and MB/s summed over producer instances; latencies as v_run_totals defines them).';
COMMENT ON COLUMN v_cell_summary.repetitions IS 'Ok runs of the cell (failed attempts are not counted).';
COMMENT ON COLUMN v_cell_summary.mean_records_per_sec IS 'Mean over the cell''s ok runs of total_records_per_sec (sum over producer instances).';
COMMENT ON COLUMN v_cell_summary.mean_avg_latency_ms IS 'Mean over runs of v_run_totals.avg_latency_ms (mean of instance averages).';
COMMENT ON COLUMN v_cell_summary.mean_worst_p99_ms IS 'Mean over runs of the worst instance''s 99th percentile latency.';
