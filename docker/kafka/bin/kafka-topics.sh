#!/bin/sh
# Kafka's topic tool, for looking at a cluster from inside a pod.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
