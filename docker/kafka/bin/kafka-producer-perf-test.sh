#!/bin/sh
# Kafka's producer perf test (ProducerPerformance): what kafkalab's producer Jobs run.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ProducerPerformance "$@"
