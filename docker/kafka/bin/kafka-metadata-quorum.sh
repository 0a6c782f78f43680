#!/bin/sh
# The KRaft quorum's state (describe --status), for looking at a cluster from inside a pod.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.MetadataQuorumCommand "$@"
