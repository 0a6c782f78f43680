-- Revision 0008: what each run ran on and with, its fingerprint (kafkalab.metrics.fingerprint)
-- flattened to columns. Runs stored before 0008, and reference runs, have NULL columns.
CREATE VIEW v_environment AS
SELECT
    r.id AS run_id,
    e.name AS experiment,
    r.started_at,
    r.status,
    r.fingerprint_id,
    r.fingerprint ->> 'settings_hash' AS settings_hash,
    r.fingerprint #>> '{machine,cpu_model}' AS cpu_model,
    (r.fingerprint #>> '{machine,cores}')::integer AS cores,
    (r.fingerprint #>> '{machine,logical_cpus}')::integer AS logical_cpus,
    (r.fingerprint #>> '{machine,memory_bytes}')::bigint AS memory_bytes,
    r.fingerprint #>> '{machine,architecture}' AS architecture,
    r.fingerprint #>> '{machine,kernel}' AS kernel,
    r.fingerprint #>> '{machine,os}' AS os,
    r.fingerprint #>> '{software,java,vendor}' AS java_vendor,
    r.fingerprint #>> '{software,java,version}' AS java_version,
    r.fingerprint #>> '{software,kafka}' AS kafka_version,
    r.fingerprint #>> '{software,kafkalab,version}' AS kafkalab_version,
    r.fingerprint #>> '{software,kafkalab,commit}' AS git_commit,
    (r.fingerprint #>> '{software,kafkalab,dirty}')::boolean AS git_dirty,
    r.fingerprint #>> '{software,python}' AS python_version,
    r.fingerprint #>> '{platform,name}' AS platform,
    r.fingerprint #> '{platform,nodes}' AS nodes,
    r.fingerprint #> '{settings,broker}' AS broker_settings,
    r.fingerprint #> '{settings,topic}' AS topic_settings,
    r.fingerprint #> '{settings,producer}' AS producer_settings,
    r.fingerprint #> '{settings,consumer}' AS consumer_settings,
    (r.fingerprint #>> '{before_run,load_1m}')::double precision AS load_1m_before,
    r.fingerprint -> 'missing' AS missing,
    r.fingerprint
FROM runs r
JOIN experiments e ON e.id = r.experiment_id;

COMMENT ON VIEW v_environment IS
    'One row per run: the machine, software, platform and effective settings it ran on and with (runs.fingerprint, taken before the load), flattened. Runs with the same fingerprint_id ran on the same kind of machine with the same software and settings. A value the run could not read is NULL (missing, never 0), and `missing` says why.';
COMMENT ON COLUMN v_environment.fingerprint_id IS 'Short hash of the machine, software, platform and settings (not of the load before the run).';
COMMENT ON COLUMN v_environment.settings_hash IS 'Short hash of the effective broker, topic and client settings alone.';
COMMENT ON COLUMN v_environment.cores IS 'Physical CPU cores of the machine running the flow (on the local platform also the brokers and the load).';
COMMENT ON COLUMN v_environment.java_version IS 'The Java the brokers run, when they run on this machine; NULL elsewhere (see missing).';
COMMENT ON COLUMN v_environment.git_commit IS 'The commit kafkalab ran from; unknown outside a git checkout. git_dirty: tracked files differed from it.';
COMMENT ON COLUMN v_environment.nodes IS 'Kubernetes: the nodes holding broker pods (instance type, CPU, memory, kernel, OS, runtime); [] elsewhere.';
COMMENT ON COLUMN v_environment.load_1m_before IS 'The machine''s 1-minute load average just before the run (not part of the fingerprint id).';
