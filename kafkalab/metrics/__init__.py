"""Where a run's limit was: samplers of broker JMX, host and process metrics during a run,
the machine's fingerprint, and the bottleneck verdict over those series.

Data flow: the platform names what can be read (`Cluster.metrics_targets`), the samplers
(`broker_jmx`, `host`) fill a `RunMetrics` during the load (`sampling` starts
and stops them around it), `client` turns the load
generator's interval metrics into samples, `bottleneck` judges the series, `fingerprint`
describes the machine and settings. No Prefect here.
"""
