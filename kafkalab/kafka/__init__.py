"""The Kafka toolbox several stages share: the distribution (jars from Maven), broker
settings, the admin client, security, the perf tools' command lines and parsers, and
partition reassignment."""
