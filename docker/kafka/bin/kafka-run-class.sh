#!/bin/sh
# Runs one Java main class of Kafka (or of kafkalab) on the image's classpath. Kafka's own
# bin/*.sh ship only in its release tarball, not on Maven, so the image carries these small
# equivalents at the same paths as apache/kafka's, reading the same environment:
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS and KAFKA_OPTS.
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 <main class> [arguments...]" >&2
  exit 2
fi
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
KAFKALAB_HOME=${KAFKALAB_HOME:-/opt/kafkalab}
heap=${KAFKA_HEAP_OPTS:--Xmx256m}
performance=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$KAFKA_HOME/config/log4j2-tools.properties}
# The perf tools format numbers with the default locale; kafkalab parses them as en-US.
locale="-Duser.language=en -Duser.country=US"
classpath="$KAFKA_HOME/libs/*:$KAFKALAB_HOME/lib/*:$KAFKALAB_HOME/classes"
# The option variables hold several options each: their word splitting is intended.
# shellcheck disable=SC2086
exec java $heap $performance $locale $log4j ${KAFKA_OPTS:-} -cp "$classpath" "$@"
