#!/bin/sh
# Starts a KRaft node (broker or controller) from its server.properties, logging INFO to stdout.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 server.properties" >&2
  exit 2
fi
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=${KAFKA_HOME:-/opt/kafka}/config/log4j2-broker.properties}
export KAFKA_HEAP_OPTS KAFKA_LOG4J_OPTS
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
