#!/bin/sh
# Kafka's partition reassignment tool.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.reassign.ReassignPartitionsCommand "$@"
