#!/bin/sh
# Kafka's consumer perf test (ConsumerPerformance): what kafkalab's consumer Job runs.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConsumerPerformance "$@"
