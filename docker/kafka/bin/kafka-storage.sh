#!/bin/sh
# Formats a node's log directories for a KRaft cluster id (kafka-storage.sh format ...).
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
