-- One row per run and kind of latency, merged from every instance's HdrHistograms over the
-- run's window (warm-up excluded). Microsecond precision, in milliseconds.
CREATE VIEW v_run_latency AS
SELECT
    l.run_id,
    l.kind,
    l.count,
    l.mean_ms,
    l.p50_ms,
    l.p90_ms,
    l.p99_ms,
    l.p999_ms,
    l.p9999_ms,
    l.max_ms,
    e.name AS experiment,
    r.started_at,
    r.saturated
FROM run_latency l
JOIN runs r ON r.id = l.run_id
JOIN experiments e ON e.id = r.experiment_id;

COMMENT ON VIEW v_run_latency IS
    'One row per run and kind: send (send() -> acknowledgement), corrected (intended send time -> acknowledgement: what a client on the schedule experiences), schedule_delay (intended -> actual send: how far the generator fell behind), end_to_end (send -> receipt by a consumer). Merged from the histograms of every instance over the run''s window; `kafkalab latency RUN` re-merges any other window or subset.';
COMMENT ON COLUMN v_run_latency.count IS 'Records the merged histogram holds.';
COMMENT ON COLUMN v_run_latency.saturated IS 'The run''s saturation flag (v_run_totals): when true, the latency measures queueing.';
