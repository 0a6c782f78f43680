-- Revision 0006: the same view with columns appended (CREATE OR REPLACE keeps the views that
-- depend on it): n, n_failed, n_saturated, window throughput and corrected p99 with 95%
-- confidence intervals (Student t). Cells whose runs all failed now show too (n = 0).
CREATE OR REPLACE VIEW v_cell_summary AS
SELECT
    a.sweep_id,
    a.sweep,
    a.cell_index,
    a.cell,
    a.brokers,
    a.partitions,
    a.replication_factor,
    a.record_size,
    a.producer_instances,
    a.profile,
    a.repetitions,
    a.mean_records_per_sec,
    CASE WHEN a.n > 0 THEN a.stddev_records_per_sec END AS stddev_records_per_sec,
    a.min_records_per_sec,
    a.max_records_per_sec,
    a.mean_mb_per_sec,
    CASE WHEN a.n > 0 THEN a.stddev_mb_per_sec END AS stddev_mb_per_sec,
    a.min_mb_per_sec,
    a.max_mb_per_sec,
    a.mean_avg_latency_ms,
    CASE WHEN a.n > 0 THEN a.stddev_avg_latency_ms END AS stddev_avg_latency_ms,
    a.min_avg_latency_ms,
    a.max_avg_latency_ms,
    a.mean_avg_max_latency_ms,
    a.mean_worst_p50_ms,
    a.mean_worst_p95_ms,
    a.mean_worst_p99_ms,
    CASE WHEN a.n > 0 THEN a.stddev_worst_p99_ms END AS stddev_worst_p99_ms,
    a.min_worst_p99_ms,
    a.max_worst_p99_ms,
    a.mean_worst_p999_ms,
    a.n,
    a.n_failed,
    a.n_saturated,
    a.mean_window_records_per_sec,
    a.mean_window_records_per_sec - coalesce(tw.t, CASE WHEN a.n_window > 1 THEN 1.959963984540054 END) * a.sd_window_records_per_sec / sqrt(a.n_window) AS ci95_low_window_records_per_sec,
    a.mean_window_records_per_sec + coalesce(tw.t, CASE WHEN a.n_window > 1 THEN 1.959963984540054 END) * a.sd_window_records_per_sec / sqrt(a.n_window) AS ci95_high_window_records_per_sec,
    a.mean_corrected_p99_ms,
    a.mean_corrected_p99_ms - coalesce(tp.t, CASE WHEN a.n_corrected > 1 THEN 1.959963984540054 END) * a.sd_corrected_p99_ms / sqrt(a.n_corrected) AS ci95_low_corrected_p99_ms,
    a.mean_corrected_p99_ms + coalesce(tp.t, CASE WHEN a.n_corrected > 1 THEN 1.959963984540054 END) * a.sd_corrected_p99_ms / sqrt(a.n_corrected) AS ci95_high_corrected_p99_ms
FROM (
    SELECT
        r.sweep_id,
        s.name AS sweep,
        r.cell_index,
        (array_agg(r.cell))[1] AS cell,
        max(r.brokers) FILTER (WHERE r.status = 'ok') AS brokers,
        max(r.partitions) FILTER (WHERE r.status = 'ok') AS partitions,
        max(r.replication_factor) FILTER (WHERE r.status = 'ok') AS replication_factor,
        max(r.record_size) FILTER (WHERE r.status = 'ok') AS record_size,
        max(r.producer_instances) FILTER (WHERE r.status = 'ok') AS producer_instances,
        max(r.profile) FILTER (WHERE r.status = 'ok') AS profile,
        (count(*) FILTER (WHERE r.status = 'ok'))::integer AS repetitions,
        avg(t.total_records_per_sec) FILTER (WHERE r.status = 'ok') AS mean_records_per_sec,
        coalesce(stddev_samp(t.total_records_per_sec) FILTER (WHERE r.status = 'ok'), 0) AS stddev_records_per_sec,
        min(t.total_records_per_sec) FILTER (WHERE r.status = 'ok') AS min_records_per_sec,
        max(t.total_records_per_sec) FILTER (WHERE r.status = 'ok') AS max_records_per_sec,
        avg(t.total_mb_per_sec) FILTER (WHERE r.status = 'ok') AS mean_mb_per_sec,
        coalesce(stddev_samp(t.total_mb_per_sec) FILTER (WHERE r.status = 'ok'), 0) AS stddev_mb_per_sec,
        min(t.total_mb_per_sec) FILTER (WHERE r.status = 'ok') AS min_mb_per_sec,
        max(t.total_mb_per_sec) FILTER (WHERE r.status = 'ok') AS max_mb_per_sec,
        avg(t.avg_latency_ms) FILTER (WHERE r.status = 'ok') AS mean_avg_latency_ms,
        coalesce(stddev_samp(t.avg_latency_ms) FILTER (WHERE r.status = 'ok'), 0) AS stddev_avg_latency_ms,
        min(t.avg_latency_ms) FILTER (WHERE r.status = 'ok') AS min_avg_latency_ms,
        max(t.avg_latency_ms) FILTER (WHERE r.status = 'ok') AS max_avg_latency_ms,
        avg(t.avg_max_latency_ms) FILTER (WHERE r.status = 'ok') AS mean_avg_max_latency_ms,
        avg(t.worst_p50_ms) FILTER (WHERE r.status = 'ok') AS mean_worst_p50_ms,
        avg(t.worst_p95_ms) FILTER (WHERE r.status = 'ok') AS mean_worst_p95_ms,
        avg(t.worst_p99_ms) FILTER (WHERE r.status = 'ok') AS mean_worst_p99_ms,
        coalesce(stddev_samp(t.worst_p99_ms) FILTER (WHERE r.status = 'ok'), 0) AS stddev_worst_p99_ms,
        min(t.worst_p99_ms) FILTER (WHERE r.status = 'ok') AS min_worst_p99_ms,
        max(t.worst_p99_ms) FILTER (WHERE r.status = 'ok') AS max_worst_p99_ms,
        avg(t.worst_p999_ms) FILTER (WHERE r.status = 'ok') AS mean_worst_p999_ms,
        (count(*) FILTER (WHERE r.status = 'ok'))::integer AS n,
        (count(*) FILTER (WHERE r.status = 'failed'))::integer AS n_failed,
        (count(*) FILTER (WHERE r.status = 'ok' AND t.saturated))::integer AS n_saturated,
        avg(t.window_records_per_sec) FILTER (WHERE r.status = 'ok') AS mean_window_records_per_sec,
        stddev_samp(t.window_records_per_sec) FILTER (WHERE r.status = 'ok') AS sd_window_records_per_sec,
        count(t.window_records_per_sec) FILTER (WHERE r.status = 'ok') AS n_window,
        avg(t.corrected_p99_ms) FILTER (WHERE r.status = 'ok') AS mean_corrected_p99_ms,
        stddev_samp(t.corrected_p99_ms) FILTER (WHERE r.status = 'ok') AS sd_corrected_p99_ms,
        count(t.corrected_p99_ms) FILTER (WHERE r.status = 'ok') AS n_corrected
    FROM runs r
    JOIN sweeps s ON s.id = r.sweep_id
    JOIN v_run_totals t ON t.run_id = r.id
    GROUP BY r.sweep_id, s.name, r.cell_index
) a
-- Student's t for n - 1 degrees of freedom (none for n < 2: the interval is NULL, not 0),
-- and beyond the table's 1000 degrees of freedom the normal quantile.
LEFT JOIN student_t_95 tw ON tw.df = a.n_window - 1
LEFT JOIN student_t_95 tp ON tp.df = a.n_corrected - 1;

COMMENT ON VIEW v_cell_summary IS
    'One row per sweep and cell over its ok runs: mean, sample standard deviation (0 for one run), min and max of the run totals of v_run_totals (records/s and MB/s summed over producer instances; latencies as v_run_totals defines them).';
COMMENT ON COLUMN v_cell_summary.repetitions IS 'Ok runs of the cell (failed attempts are not counted).';
COMMENT ON COLUMN v_cell_summary.mean_records_per_sec IS 'Mean over the cell''s ok runs of total_records_per_sec (sum over producer instances).';
COMMENT ON COLUMN v_cell_summary.mean_avg_latency_ms IS 'Mean over runs of v_run_totals.avg_latency_ms (mean of instance averages).';
COMMENT ON COLUMN v_cell_summary.mean_worst_p99_ms IS 'Mean over runs of the worst instance''s 99th percentile latency.';
COMMENT ON COLUMN v_cell_summary.n IS 'Ok runs of the cell (the same as repetitions).';
COMMENT ON COLUMN v_cell_summary.n_failed IS 'Failed runs of the cell (retries included).';
COMMENT ON COLUMN v_cell_summary.n_saturated IS 'Ok runs of the cell that did not keep their target rate (v_run_totals.saturated).';
COMMENT ON COLUMN v_cell_summary.mean_window_records_per_sec IS 'Mean over ok runs of v_run_totals.window_records_per_sec (load generator runs).';
COMMENT ON COLUMN v_cell_summary.ci95_low_window_records_per_sec IS 'Lower end of the 95% confidence interval of the mean window throughput (Student t, n - 1 degrees of freedom); NULL for a single run.';
COMMENT ON COLUMN v_cell_summary.ci95_high_window_records_per_sec IS 'Upper end of that interval; NULL for a single run.';
COMMENT ON COLUMN v_cell_summary.mean_corrected_p99_ms IS 'Mean over ok runs of the merged corrected p99 (v_run_totals.corrected_p99_ms), ms.';
COMMENT ON COLUMN v_cell_summary.ci95_low_corrected_p99_ms IS 'Lower end of the 95% confidence interval of the mean corrected p99 (Student t); NULL for a single run.';
COMMENT ON COLUMN v_cell_summary.ci95_high_corrected_p99_ms IS 'Upper end of that interval; NULL for a single run.';
