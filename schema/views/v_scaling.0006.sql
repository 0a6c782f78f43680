-- Revision 0006: the same view with columns appended (CREATE OR REPLACE keeps the views that
-- depend on it), and grouped by the settings that change throughput (partitions, profile,
-- acks), so that no row pools different settings: window throughput and the scaling
-- efficiency against the smallest broker count of the same settings.
CREATE OR REPLACE VIEW v_scaling AS
SELECT
    g.sweep_id,
    g.sweep,
    g.brokers,
    g.producer_instances,
    g.record_size,
    g.runs,
    g.mean_total_records_per_sec,
    g.mean_total_mb_per_sec,
    g.mean_avg_latency_ms,
    g.mean_worst_p99_ms,
    g.partitions,
    g.profile,
    g.acks,
    g.mean_window_records_per_sec,
    first_value(g.brokers) OVER w AS baseline_brokers,
    (g.throughput / nullif(g.brokers::double precision / first_value(g.brokers) OVER w
                           * first_value(g.throughput) OVER w, 0)) AS scaling_efficiency,
    g.producer_tool
FROM (
    SELECT
        r.sweep_id,
        s.name AS sweep,
        r.brokers,
        r.producer_instances,
        r.record_size,
        r.partitions,
        coalesce(r.profile, '') AS profile,
        r.acks,
        r.producer_tool,
        count(*)::integer AS runs,
        avg(t.total_records_per_sec) AS mean_total_records_per_sec,
        avg(t.total_mb_per_sec) AS mean_total_mb_per_sec,
        avg(t.avg_latency_ms) AS mean_avg_latency_ms,
        avg(t.worst_p99_ms) AS mean_worst_p99_ms,
        avg(t.window_records_per_sec) AS mean_window_records_per_sec,
        -- The throughput efficiency is computed on: the window's where the generator measured one.
        coalesce(avg(t.window_records_per_sec), avg(t.total_records_per_sec)) AS throughput
    FROM runs r
    JOIN sweeps s ON s.id = r.sweep_id
    JOIN v_run_totals t ON t.run_id = r.id
    WHERE r.status = 'ok'
    GROUP BY r.sweep_id, s.name, r.brokers, r.producer_instances, r.record_size, r.partitions,
             coalesce(r.profile, ''), r.acks, r.producer_tool
) g
WINDOW w AS (PARTITION BY g.sweep_id, g.producer_instances, g.record_size, g.partitions, g.profile, g.acks,
                          g.producer_tool
             ORDER BY g.brokers);

COMMENT ON VIEW v_scaling IS
    'Per sweep: brokers x producer instances x record size x partitions x profile x acks x producer tool -> mean over ok runs of the throughput (window records/s where measured, and the instances'' sum), with the scaling efficiency against the smallest broker count of the same settings.';
COMMENT ON COLUMN v_scaling.profile IS 'The tuning profile; an empty string when none.';
COMMENT ON COLUMN v_scaling.baseline_brokers IS 'The smallest broker count N0 measured with the same settings.';
COMMENT ON COLUMN v_scaling.scaling_efficiency IS 'Throughput at N brokers / ((N / N0) x throughput at N0), same settings only: 1 is linear scaling. Window throughput where measured, else the sum of instance averages.';
