package dev.kafkalab.loadgen;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;

/**
 * The client's own metrics, added to each `kafkalab-interval` line as `"client": {...}` under
 * the names of kafkalab/metrics/names.py. They are the client's windowed values at the end of
 * the interval (Kafka's metrics.sample.window.ms, 30 s by default, in 2 samples), not exact
 * per-interval figures; a metric the client has no value for yet is null.
 *
 * The map is taken once, on the thread that owns the client: it is a live view of the client's
 * registry, and reading a metric's value is thread-safe where calling the client is not.
 */
final class ClientMetrics implements Supplier<Json> {
    // {Kafka metric group, Kafka metric name, kafkalab name}
    static final String[][] PRODUCER = {
        {"producer-metrics", "record-queue-time-avg", "record_queue_time_avg_ms"},
        {"producer-metrics", "request-latency-avg", "request_latency_avg_ms"},
        {"producer-metrics", "batch-size-avg", "batch_size_avg_bytes"},
        {"producer-metrics", "records-per-request-avg", "records_per_request_avg"},
        {"producer-metrics", "buffer-available-bytes", "buffer_available_bytes"},
        {"producer-metrics", "produce-throttle-time-avg", "produce_throttle_time_avg_ms"},
    };
    static final String[][] CONSUMER = {
        {"consumer-fetch-manager-metrics", "fetch-latency-avg", "fetch_latency_avg_ms"},
        {"consumer-fetch-manager-metrics", "records-lag-max", "records_lag_max"},
        {"consumer-share-fetch-manager-metrics", "fetch-latency-avg", "fetch_latency_avg_ms"},
    };

    private final Map<MetricName, ? extends Metric> registry;
    private final String[][] wanted;

    ClientMetrics(Map<MetricName, ? extends Metric> registry, String[][] wanted) {
        this.registry = registry;
        this.wanted = wanted;
    }

    @Override
    public Json get() {
        // One kafkalab name may come from either of two groups (a consumer or a share consumer).
        Map<String, Double> values = new LinkedHashMap<>();
        for (String[] metric : wanted) {
            Double value = value(metric[0], metric[1]);
            if (value != null || !values.containsKey(metric[2])) {
                values.put(metric[2], value);
            }
        }
        Json json = new Json();
        values.forEach(json::put);
        return json;
    }

    /** The client-wide metric (tagged with the client id only, not per topic or node), or null. */
    private Double value(String group, String name) {
        for (Map.Entry<MetricName, ? extends Metric> entry : registry.entrySet()) {
            MetricName key = entry.getKey();
            if (key.name().equals(name) && key.group().equals(group) && key.tags().size() <= 1) {
                Object value = entry.getValue().metricValue();
                return value instanceof Number number ? number.doubleValue() : null;
            }
        }
        return null;
    }
}
