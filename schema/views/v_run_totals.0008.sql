-- Revision 0008: the 0006 view with columns appended (CREATE OR REPLACE keeps the views that
-- depend on it): the run's fingerprint id and its bottleneck verdict.
-- From 0006: the tools, throughput over one window, the merged latencies, saturation.
-- total_records_per_sec and total_mb_per_sec keep their pre-0006 meaning under clearer names too.
-- One row per run: the producers' numbers added up, as the guide does by hand.
-- Only instances with status 'ok' count; a run without one has NULL totals (not 0), so a
-- failed run never plots as zero throughput.
CREATE OR REPLACE VIEW v_run_totals AS
SELECT
    r.id AS run_id,
    e.name AS experiment,
    r.brokers,
    r.partitions,
    r.record_size,
    r.producer_instances,
    t.total_records,
    t.total_records_per_sec,
    t.total_mb_per_sec,
    t.avg_latency_ms,
    t.weighted_avg_latency_ms,
    t.avg_max_latency_ms,
    t.max_latency_ms,
    t.worst_p50_ms,
    t.worst_p95_ms,
    t.worst_p99_ms,
    t.worst_p999_ms,
    r.status,
    t.instances_ok,
    r.records_in_topic,
    r.repetition,
    r.started_at,
    r.finished_at,
    r.platform,
    r.kafka_version,
    r.replication_factor,
    r.acks,
    r.batch_size,
    r.linger_ms,
    r.compression_type,
    r.num_records,
    r.throughput,
    r.topic,
    r.error,
    r.flow_run_id,
    r.experiment_id,
    r.source,
    r.profile,
    r.sweep_id,
    r.cell_index,
    r.attempt,
    r.hardware,
    r.reference_key,
    r.producer_tool,
    r.consumer_tool,
    extract(epoch FROM r.window_end - r.window_start)::double precision AS window_s,
    r.window_records,
    (r.window_records / nullif(extract(epoch FROM r.window_end - r.window_start), 0))::double precision
        AS window_records_per_sec,
    (r.window_bytes / 1048576.0 / nullif(extract(epoch FROM r.window_end - r.window_start), 0))::double precision
        AS window_mb_per_sec,
    r.warmup_s,
    t.total_records_per_sec AS sum_of_instance_records_per_sec,
    t.total_mb_per_sec AS sum_of_instance_mb_per_sec,
    r.target_records_per_sec,
    r.achieved_records_per_sec,
    r.saturated,
    r.saturation_reason,
    l.send_p99_ms,
    l.corrected_p99_ms,
    l.end_to_end_p99_ms,
    l.schedule_delay_p99_ms,
    r.fingerprint_id,
    r.bottleneck,
    r.bottleneck_summary
FROM runs r
JOIN experiments e ON e.id = r.experiment_id
CROSS JOIN LATERAL (
    SELECT
        count(*)::integer AS instances_ok,
        sum(p.records)::bigint AS total_records,
        sum(p.records_per_sec) AS total_records_per_sec,
        sum(p.mb_per_sec) AS total_mb_per_sec,
        avg(p.avg_latency_ms) AS avg_latency_ms,
        (sum(p.avg_latency_ms * p.records) / nullif(sum(p.records), 0))::double precision
            AS weighted_avg_latency_ms,
        avg(p.max_latency_ms) AS avg_max_latency_ms,
        max(p.max_latency_ms) AS max_latency_ms,
        max(p.p50_ms) AS worst_p50_ms,
        max(p.p95_ms) AS worst_p95_ms,
        max(p.p99_ms) AS worst_p99_ms,
        max(p.p999_ms) AS worst_p999_ms
    FROM producer_results p
    WHERE p.run_id = r.id AND p.status = 'ok'
) t
CROSS JOIN LATERAL (
    SELECT
        max(rl.p99_ms) FILTER (WHERE rl.kind = 'send') AS send_p99_ms,
        max(rl.p99_ms) FILTER (WHERE rl.kind = 'corrected') AS corrected_p99_ms,
        max(rl.p99_ms) FILTER (WHERE rl.kind = 'end_to_end') AS end_to_end_p99_ms,
        max(rl.p99_ms) FILTER (WHERE rl.kind = 'schedule_delay') AS schedule_delay_p99_ms
    FROM run_latency rl
    WHERE rl.run_id = r.id
) l;

COMMENT ON VIEW v_run_totals IS
    'One row per run. window_*: records and bytes acknowledged while every producer instance measured, after the warm-up, over that window''s length (kafkalab''s load generator only). *_p99_ms: merged from every instance''s histograms over the window (v_run_latency has every percentile). The total_*, avg_* and worst_* columns add up the instances as the guide does (sums over instances with status ok; NULL when none is ok): per-instance percentiles cannot be combined, so worst_* is the worst instance''s, and kafka-perf runs have only these.';
COMMENT ON COLUMN v_run_totals.total_records IS 'Records sent, summed over ok instances.';
COMMENT ON COLUMN v_run_totals.total_records_per_sec IS 'Sum of the ok instances'' records/s (the guide''s total throughput; assumes the instances ran at the same time).';
COMMENT ON COLUMN v_run_totals.total_mb_per_sec IS 'Sum of the ok instances'' MB/s.';
COMMENT ON COLUMN v_run_totals.avg_latency_ms IS 'Mean of the ok instances'' average latencies, ms, each instance weighing the same (the guide''s "avg latency").';
COMMENT ON COLUMN v_run_totals.weighted_avg_latency_ms IS 'Average latency over all records of the ok instances, ms (instance averages weighted by their record counts).';
COMMENT ON COLUMN v_run_totals.avg_max_latency_ms IS 'Mean of the ok instances'' maximum latencies, ms (the guide''s "avg max latency").';
COMMENT ON COLUMN v_run_totals.max_latency_ms IS 'Largest latency of any record of any ok instance, ms.';
COMMENT ON COLUMN v_run_totals.worst_p50_ms IS 'Highest median latency among the ok instances, ms (not the run''s median).';
COMMENT ON COLUMN v_run_totals.worst_p95_ms IS 'Highest 95th percentile latency among the ok instances, ms.';
COMMENT ON COLUMN v_run_totals.worst_p99_ms IS 'Highest 99th percentile latency among the ok instances, ms.';
COMMENT ON COLUMN v_run_totals.worst_p999_ms IS 'Highest 99.9th percentile latency among the ok instances, ms.';
COMMENT ON COLUMN v_run_totals.status IS 'The run''s status (ok, failed, cancelled).';
COMMENT ON COLUMN v_run_totals.instances_ok IS 'Producer instances with status ok (of producer_instances asked).';
COMMENT ON COLUMN v_run_totals.records_in_topic IS 'Records found in the topic after the producers finished, when measured.';
COMMENT ON COLUMN v_run_totals.source IS 'measured: a kafkalab run; reference: published results loaded by `kafkalab reference load` (the guide''s, with runs.hardware saying where they were measured).';
COMMENT ON COLUMN v_run_totals.hardware IS 'Where a reference run was measured (platform, instance type, broker resources); NULL for measured runs.';
COMMENT ON COLUMN v_run_totals.producer_tool IS 'kafkalab (kafkalab''s load generator) or kafka-perf (Kafka''s ProducerPerformance); NULL before schema 0006.';
COMMENT ON COLUMN v_run_totals.window_s IS 'Length of the window the window_* figures cover: every producer instance measuring, warm-up excluded, s.';
COMMENT ON COLUMN v_run_totals.window_records IS 'Records acknowledged within the window, all instances.';
COMMENT ON COLUMN v_run_totals.window_records_per_sec IS 'window_records / window_s: what the cluster carried while all instances ran.';
COMMENT ON COLUMN v_run_totals.window_mb_per_sec IS 'Value bytes acknowledged in the window / window_s, MB/s (MB = 2^20 bytes, as ProducerPerformance).';
COMMENT ON COLUMN v_run_totals.warmup_s IS 'Seconds after the common start excluded from every figure (its data is stored).';
COMMENT ON COLUMN v_run_totals.sum_of_instance_records_per_sec IS 'Sum of each ok instance''s own average records/s, each over its own time (the guide''s total; total_records_per_sec is the same figure under its pre-0006 name).';
COMMENT ON COLUMN v_run_totals.sum_of_instance_mb_per_sec IS 'Sum of each ok instance''s own average MB/s (total_mb_per_sec under its pre-0006 name).';
COMMENT ON COLUMN v_run_totals.target_records_per_sec IS 'The rate asked of all producer instances together, records/s; NULL when unthrottled.';
COMMENT ON COLUMN v_run_totals.achieved_records_per_sec IS 'The rate achieved: window_records_per_sec (kafka-perf: the sum of the instances'' own averages).';
COMMENT ON COLUMN v_run_totals.saturated IS 'True when the run did not keep its target rate (achieved below 95%, or the generator''s schedule-delay p99 beyond 50 ms) or had none (unthrottled): its latency then measures queueing, not Kafka.';
COMMENT ON COLUMN v_run_totals.saturation_reason IS 'Why the run counts as saturated, in words.';
COMMENT ON COLUMN v_run_totals.send_p99_ms IS '99th percentile of send -> acknowledgement over the window, merged over instances, ms.';
COMMENT ON COLUMN v_run_totals.corrected_p99_ms IS '99th percentile of intended send time -> acknowledgement (what a client on the schedule sees; corrected for coordinated omission), merged, ms.';
COMMENT ON COLUMN v_run_totals.end_to_end_p99_ms IS '99th percentile of send -> receipt by a consumer, merged over consumer instances, ms.';
COMMENT ON COLUMN v_run_totals.schedule_delay_p99_ms IS '99th percentile of how far the generator fell behind its schedule (intended -> actual send), ms.';
COMMENT ON COLUMN v_run_totals.fingerprint_id IS 'Short hash of what the run ran on and with (machine, software, platform, effective settings); runs with the same id are comparable. v_environment has the fingerprint itself.';
COMMENT ON COLUMN v_run_totals.bottleneck IS 'Where the run''s limit was: generator-bound, broker-cpu-bound, network-threads-bound, disk-bound, replication-bound, machine-bound, none (the target rate was met) or unknown (metrics missing, said in bottleneck_summary). The rules: docs/measuring.md, Where the limit was.';
COMMENT ON COLUMN v_run_totals.bottleneck_summary IS 'The verdict in one line, naming the figure and threshold that decided it (runs.bottleneck_evidence has every such figure and when it crossed).';
