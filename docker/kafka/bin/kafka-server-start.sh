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
# KAFKALAB_JMX_PORT (kafkalab's broker pods): the broker's JMX on the pod's 127.0.0.1 only, on
# that port (kafkalab/java/LoopbackJmx.java), for the flow's sampler run inside the pod.
if [ -n "${KAFKALAB_JMX_PORT:-}" ] && [ -f "${KAFKALAB_HOME:-/opt/kafkalab}/classes/LoopbackJmx.class" ]; then
  exec "$(dirname "$0")/kafka-run-class.sh" LoopbackJmx "$KAFKALAB_JMX_PORT" kafka.Kafka "$@"
fi
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
