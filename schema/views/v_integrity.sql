-- One row per run: records the producers report acknowledged against what the topic holds,
-- beside the settings that decide durability and the broker faults the run went through.
CREATE VIEW v_integrity AS
SELECT
    r.id AS run_id,
    e.name AS experiment,
    r.repetition,
    r.started_at,
    r.status,
    r.profile,
    r.acks,
    CASE WHEN coalesce(r.topic_config ->> 'min.insync.replicas', r.broker_config ->> 'min.insync.replicas') ~ '^[0-9]+$'
         THEN coalesce(r.topic_config ->> 'min.insync.replicas', r.broker_config ->> 'min.insync.replicas')::integer
         ELSE 1 END AS min_insync_replicas,
    r.replication_factor,
    coalesce(r.topic_config ->> 'unclean.leader.election.enable',
             r.broker_config ->> 'unclean.leader.election.enable', 'false') = 'true' AS unclean_leader_election,
    r.brokers,
    r.partitions,
    r.producer_instances,
    coalesce(f.faults, 0) AS faults,
    coalesce(f.faults_injected, 0) AS faults_injected,
    coalesce(f.faults_restarted, 0) AS faults_restarted,
    f.actions AS fault_actions,
    f.max_recovery_s,
    r.integrity_check,
    r.records_acknowledged,
    r.records_in_topic,
    r.records_consumed,
    r.records_lost,
    r.records_lost = 0 AS no_loss,
    r.error
FROM runs r
JOIN experiments e ON e.id = r.experiment_id
LEFT JOIN LATERAL (
    SELECT
        count(*)::integer AS faults,
        (count(*) FILTER (WHERE fe.at_s IS NOT NULL))::integer AS faults_injected,
        (count(*) FILTER (WHERE fe.outcome = 'restarted'))::integer AS faults_restarted,
        string_agg(fe.action || ' broker ' || fe.broker || ' at ' || round(fe.at_s::numeric, 1) || 's', ', '
                   ORDER BY fe.seq) AS actions,
        max(fe.ready_at_s - fe.at_s) AS max_recovery_s
    FROM fault_events fe
    WHERE fe.run_id = r.id
) f ON true;

COMMENT ON VIEW v_integrity IS
    'One row per run: records acknowledged by the producers against records the topic holds (records_lost = acknowledged - held; negative when the topic holds more, e.g. duplicates), with acks, min.insync.replicas, replication factor, unclean leader election and the broker faults injected.';
COMMENT ON COLUMN v_integrity.min_insync_replicas IS 'Effective min.insync.replicas: the topic''s, else the brokers'', else Kafka''s default 1.';
COMMENT ON COLUMN v_integrity.unclean_leader_election IS 'unclean.leader.election.enable of the topic, else the brokers'' (default false).';
COMMENT ON COLUMN v_integrity.faults IS 'Broker faults in the spec of the run (fault_events rows).';
COMMENT ON COLUMN v_integrity.faults_injected IS 'Faults actually injected (not skipped because the producers finished first).';
COMMENT ON COLUMN v_integrity.faults_restarted IS 'Faults whose broker was started again and served within the producer test.';
COMMENT ON COLUMN v_integrity.fault_actions IS 'What happened, e.g. "kill broker 1 at 1.5s".';
COMMENT ON COLUMN v_integrity.max_recovery_s IS 'Longest time from a fault to its broker serving again, s.';
COMMENT ON COLUMN v_integrity.records_acknowledged IS 'Records the producer instances report acknowledged (per acks), failed instances included; NULL when an instance printed no summary.';
COMMENT ON COLUMN v_integrity.records_in_topic IS 'Sum over partitions of end offset - start offset after the producers finished.';
COMMENT ON COLUMN v_integrity.records_consumed IS 'Records read back by the verifying consumer (integrity check consume), else NULL.';
COMMENT ON COLUMN v_integrity.records_lost IS 'records_acknowledged minus records_in_topic (or records_consumed with the consume check): > 0 acknowledged records lost, < 0 more held than acknowledged.';
COMMENT ON COLUMN v_integrity.no_loss IS 'records_lost = 0.';
