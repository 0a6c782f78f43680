-- Capacity per sweep cell (a sweep with capacity:): what more brokers buy at the objective,
-- against the smallest broker count of the same settings.
CREATE VIEW v_capacity_scaling AS
SELECT
    g.sweep_id,
    g.sweep,
    g.cell_index,
    g.cell,
    g.slo,
    g.kind,
    g.brokers,
    g.partitions,
    g.producer_instances,
    g.record_size,
    g.profile,
    g.acks,
    g.finding,
    g.max_sustainable_records_per_sec,
    g.ci95_low_max_sustainable_records_per_sec,
    g.ci95_high_max_sustainable_records_per_sec,
    first_value(g.brokers) OVER w AS baseline_brokers,
    first_value(g.max_sustainable_records_per_sec) OVER w AS baseline_max_sustainable_records_per_sec,
    g.max_sustainable_records_per_sec / nullif(first_value(g.max_sustainable_records_per_sec) OVER w, 0) AS capacity_gain,
    g.max_sustainable_records_per_sec / nullif(g.brokers::double precision / first_value(g.brokers) OVER w
                                               * first_value(g.max_sustainable_records_per_sec) OVER w, 0)
        AS scaling_efficiency,
    g.study_id
FROM (
    SELECT
        c.sweep_id,
        sw.name AS sweep,
        c.cell_index,
        c.cell,
        c.slo,
        c.kind,
        c.finding,
        c.max_sustainable_records_per_sec,
        c.ci95_low_max_sustainable_records_per_sec,
        c.ci95_high_max_sustainable_records_per_sec,
        c.id AS study_id,
        max(r.brokers) AS brokers,
        max(r.partitions) AS partitions,
        max(r.producer_instances) AS producer_instances,
        max(r.record_size) AS record_size,
        coalesce(max(r.profile), '') AS profile,
        max(r.acks) AS acks
    FROM capacity_studies c
    JOIN sweeps sw ON sw.id = c.sweep_id
    JOIN capacity_step_runs l ON l.study_id = c.id
    JOIN runs r ON r.id = l.run_id
    WHERE c.status = 'completed'
    GROUP BY c.id, sw.name
) g
WINDOW w AS (PARTITION BY g.sweep_id, g.slo, g.kind, g.partitions, g.producer_instances, g.record_size, g.profile,
                          g.acks
             ORDER BY g.brokers);

COMMENT ON VIEW v_capacity_scaling IS
    'Per sweep cell that ran a capacity study: the maximum sustainable throughput at the objective, and what it is against the smallest broker count of the same objective, partitions, producers, record size, profile and acks: "what 6, 9 and 15 brokers buy over 3 at p99<50ms".';
COMMENT ON COLUMN v_capacity_scaling.capacity_gain IS 'Max sustainable throughput at N brokers / at the baseline count N0 (same settings): 2 means twice the capacity.';
COMMENT ON COLUMN v_capacity_scaling.scaling_efficiency IS 'capacity_gain / (N / N0): 1 is linear.';
