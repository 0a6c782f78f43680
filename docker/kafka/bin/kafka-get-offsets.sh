#!/bin/sh
# A topic's end offsets, for counting records from inside a pod.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.GetOffsetShell "$@"
