"""The names of the sampled metrics: one place, so samplers, rules, views and reports agree.

Rates are per second over the sampling interval; `_pct` values are 0..100; times are
milliseconds. A broker's request-time percentiles are Kafka's own (its Yammer histograms,
which decay over minutes): they say where time went, not the run's latency, which comes from
the load generator's merged HdrHistograms.
"""

from __future__ import annotations

# -- broker JMX, source "broker-<id>" -------------------------------------------------------
BYTES_IN = "bytes_in_per_sec"
BYTES_OUT = "bytes_out_per_sec"
MESSAGES_IN = "messages_in_per_sec"
REQUEST_HANDLER_IDLE = "request_handler_idle_pct"
NETWORK_PROCESSOR_IDLE = "network_processor_idle_pct"
UNDER_REPLICATED = "under_replicated_partitions"
ISR_SHRINKS = "isr_shrinks_per_sec"
LOG_FLUSH_P99 = "log_flush_p99_ms"
GC_TIME = "gc_ms_per_sec"
BROKER_PROCESS_CPU = "process_cpu_pct"  # of one core; 200 = two cores busy

# Request time p99 per request kind and part: f"{request}_{part}_p99_ms"
REQUESTS = ("produce", "fetch_consumer", "fetch_follower")
REQUEST_PARTS = ("total", "request_queue", "local", "remote", "response_queue", "response_send")


def request_p99(request: str, part: str = "total") -> str:
    """e.g. request_p99("produce") == "produce_total_p99_ms"."""
    return f"{request}_{part}_p99_ms"


# -- host (psutil), sources "host", "cpu<N>", "disk:<dev>", "net:<if>", "process:<name>" ----
CPU_USER = "cpu_user_pct"
CPU_SYSTEM = "cpu_system_pct"
CPU_IOWAIT = "cpu_iowait_pct"
CPU_STEAL = "cpu_steal_pct"
CPU_BUSY = "cpu_busy_pct"  # 100 - idle - iowait: what the rules read
LOAD_1M = "load_1m"
MEMORY_USED = "memory_used_bytes"
MEMORY_AVAILABLE = "memory_available_bytes"
DISK_READ = "disk_read_bytes_per_sec"
DISK_WRITE = "disk_write_bytes_per_sec"
DISK_BUSY = "disk_busy_pct"
NET_RX = "net_rx_bytes_per_sec"
NET_TX = "net_tx_bytes_per_sec"
PROCESS_CPU = "process_cpu_pct"  # source "process:broker-1", "process:loadgen-0": of one core

# -- load generator client metrics, sources "producer-<i>", "consumer-<i>" ------------------
RECORD_QUEUE_TIME = "record_queue_time_avg_ms"
REQUEST_LATENCY = "request_latency_avg_ms"
BATCH_SIZE = "batch_size_avg_bytes"
RECORDS_PER_REQUEST = "records_per_request_avg"
BUFFER_AVAILABLE = "buffer_available_bytes"
PRODUCE_THROTTLE = "produce_throttle_time_avg_ms"
FETCH_LATENCY = "fetch_latency_avg_ms"
RECORDS_LAG_MAX = "records_lag_max"

# -- the verdicts -----------------------------------------------------------------------------
VERDICTS = (
    "generator-bound", "broker-cpu-bound", "network-threads-bound", "disk-bound",
    "replication-bound", "machine-bound", "none", "unknown",
)
