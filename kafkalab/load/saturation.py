"""When a run did not offer its target rate: the two bounds the figures (kafkalab.results.figures)
use to label a run saturated, and the bottleneck rules (kafkalab.metrics.bottleneck) to call it
generator-bound. One place, so the two never disagree."""

KEPT_RATE_SHARE = 0.95  # achieved below this share of the target: saturated
# The generator fell behind its schedule: a client on that schedule would have waited this
# long (p99) before it could even send. Beyond it the target rate was not really offered, and
# the corrected latency holds the generator's own stalls (a busy 2-core machine shows ~10 ms
# of scheduling noise, hence not less).
SCHEDULE_DELAY_P99_BOUND_MS = 50.0
