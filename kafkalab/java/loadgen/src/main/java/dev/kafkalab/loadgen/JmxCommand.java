package dev.kafkalab.loadgen;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * `jmx`: one JVM sampling the JMX of every broker of a run, once per interval (instead of one
 * Kafka JmxTool per broker: one JVM's memory and CPU, whatever the broker count).
 *
 * Options: --targets NAME=HOST:PORT,... (e.g. broker-0=127.0.0.1:40001), --interval-ms.
 * It reads every broker once at the start (the baseline the first rates are counted from),
 * prints `kafkalab-jmx-ready`, then per interval one line per broker when its read is done:
 * `kafkalab-jmx {"source":"broker-0","at_ms":...,"metrics":{...}}`, or with `"error":"..."`
 * instead of metrics when the read failed, or at each interval while a read has been waited
 * for longer than two intervals (at least 3 s): the broker does not answer. Names are those of
 * kafkalab/metrics/names.py; a metric the broker does not have is null. Rates come from the
 * deltas of the meters' Count between two samples (a meter's OneMinuteRate is smoothed over
 * minutes). It runs until its stdin ends: the process that started it going away stops it too.
 */
final class JmxCommand {
    static final String READY = "kafkalab-jmx-ready";
    static final String SAMPLE = "kafkalab-jmx ";
    // Every RMI call gives up after this: a stopped broker must not hold a sampling thread forever.
    private static final String RMI_TIMEOUT_MS = "5000";

    private static final String TOPICS = "kafka.server:type=BrokerTopicMetrics,name=";
    // {MBean, cumulative attribute, kafkalab name}: rates per second from Count deltas.
    private static final String[][] METERS = {
        {TOPICS + "BytesInPerSec", "Count", "bytes_in_per_sec"},
        {TOPICS + "BytesOutPerSec", "Count", "bytes_out_per_sec"},
        {TOPICS + "MessagesInPerSec", "Count", "messages_in_per_sec"},
        {"kafka.server:type=ReplicaManager,name=IsrShrinksPerSec", "Count", "isr_shrinks_per_sec"},
    };
    // {MBean, attribute, kafkalab name}: values as they are at the sample.
    private static final String[][] GAUGES = {
        {"kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions", "Value", "under_replicated_partitions"},
        {"kafka.log:type=LogFlushStats,name=LogFlushRateAndTimeMs", "99thPercentile", "log_flush_p99_ms"},
    };
    // The request handlers' meter is marked with idle nanoseconds / handler count: its Count
    // delta over the elapsed nanoseconds is the pool's average idle share. Marked when a handler
    // stops waiting (every 300 ms at most), so an idle pool may show a little over 100: capped.
    private static final String HANDLER_IDLE = "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent";
    // The network processors' idle share, as NetworkProcessorAvgIdlePercent averages it (their
    // io-wait-ratio), but over the interval: from each processor's cumulative io-wait time.
    private static final String PROCESSORS = "kafka.server:type=socket-server-metrics,*";
    private static final String[][] REQUESTS = {
        {"Produce", "produce"}, {"FetchConsumer", "fetch_consumer"}, {"FetchFollower", "fetch_follower"},
    };
    private static final String[][] PARTS = {
        {"TotalTimeMs", "total"}, {"RequestQueueTimeMs", "request_queue"}, {"LocalTimeMs", "local"},
        {"RemoteTimeMs", "remote"}, {"ResponseQueueTimeMs", "response_queue"}, {"ResponseSendTimeMs", "response_send"},
    };

    private JmxCommand() {
    }

    static int run(String[] args, Output out) throws Exception {
        Options o = Options.parse(args, 1, Set.of("--targets", "--interval-ms"), Set.of());
        long intervalMs = o.positiveLong("--interval-ms", 5000);
        List<Broker> brokers = new ArrayList<>();
        for (String target : o.text("--targets").split(",")) {
            String[] parts = target.split("=", 2);
            if (parts.length != 2 || parts[0].isBlank() || !parts[1].contains(":")) {
                throw new Options.UsageError("--targets: expected NAME=HOST:PORT, got " + target);
            }
            brokers.add(new Broker(parts[0], parts[1]));
        }
        System.setProperty("sun.rmi.transport.connectionTimeout", RMI_TIMEOUT_MS);
        System.setProperty("sun.rmi.transport.tcp.responseTimeout", RMI_TIMEOUT_MS);
        stopWhenStdinEnds();
        ExecutorService pool = Executors.newFixedThreadPool(brokers.size(), task -> {
            Thread thread = new Thread(task, "kafkalab-jmx");
            thread.setDaemon(true);
            return thread;
        });
        // A read still running at the next tick is waited for (its rates cover the longer span) and
        // the next read starts when it is done; one running this long is a broker that does not
        // answer: each tick meanwhile is missing.
        long answerMs = Math.max(2 * intervalMs, 3000);
        for (Broker broker : brokers) {
            broker.submit(pool, null, System.currentTimeMillis());  // the baseline: printed as nothing
        }
        long baselineDeadline = System.currentTimeMillis() + answerMs;
        while (brokers.stream().anyMatch(Broker::busy) && System.currentTimeMillis() < baselineDeadline) {
            Thread.sleep(10);
        }
        out.line(READY);
        long start = System.currentTimeMillis();
        for (long tick = 1; ; tick++) {
            long due = start + tick * intervalMs;
            for (long now = System.currentTimeMillis(); now < due; now = System.currentTimeMillis()) {
                Thread.sleep(due - now);
            }
            for (Broker broker : brokers) {
                long busySince = broker.busySinceMs;  // read once: the reading thread may clear it meanwhile
                if (busySince < 0) {
                    broker.submit(pool, out, due);
                } else if (due - busySince >= answerMs) {
                    out.line(SAMPLE + broker.error(due, "JMX did not answer within " + (due - busySince) + " ms"));
                } else {
                    broker.missedTick = true;  // a slow read: the next one starts as soon as it is done
                }
            }
        }
    }

    private static void stopWhenStdinEnds() {
        Thread watcher = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                while (in.readLine() != null) {
                    // nothing is asked on stdin: it is there to end with its parent
                }
            } catch (IOException e) {
                // the same: the parent is gone
            }
            System.exit(0);
        }, "kafkalab-jmx-stdin");
        watcher.setDaemon(true);
        watcher.start();
    }

    /** One broker's JMX connection and the cumulative values of its previous sample. */
    private static final class Broker {
        final String name;
        final JMXServiceURL url;
        volatile long busySinceMs = -1;  // when the read in progress began; -1: none
        volatile boolean missedTick;  // a tick came while a read was in progress
        private JMXConnector connector;
        private Map<String, Double> previous;  // cumulative values at previousNs; null: no baseline
        private long previousNs;
        private volatile long readAtMs;  // when the last sample's counters were read: the sample's time

        Broker(String name, String address) {
            this.name = name;
            try {
                this.url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + address + "/jmxrmi");
            } catch (java.net.MalformedURLException e) {
                throw new Options.UsageError("--targets: " + address + " is no host:port");
            }
        }

        boolean busy() {
            return busySinceMs >= 0;
        }

        /** Read the broker on `pool`; the sample (or why there is none) goes to `out` when it is done. */
        void submit(ExecutorService pool, Output out, long nowMs) {
            busySinceMs = nowMs;
            pool.execute(() -> {
                String line;
                try {
                    Json metrics = sample();
                    line = new Json().put("source", name).put("at_ms", readAtMs).put("metrics", metrics).toString();
                } catch (Exception e) {
                    line = error(System.currentTimeMillis(), Fatal.describe(e)).toString();
                } finally {
                    busySinceMs = -1;
                }
                if (out != null) {
                    out.line(SAMPLE + line);
                    if (missedTick) {  // catch up, so that no interval goes without a sample
                        missedTick = false;
                        submit(pool, out, System.currentTimeMillis());
                    }
                }
            });
        }

        Json error(long atMs, String reason) {
            return new Json().put("source", name).put("at_ms", atMs).put("error", reason);
        }

        /** The metrics since the previous sample; rates are null right after a (re)connection. */
        synchronized Json sample() throws Exception {
            try {
                if (connector == null) {
                    connector = JMXConnectorFactory.connect(url, null);
                    previous = null;
                }
                return read(connector.getMBeanServerConnection());
            } catch (Exception e) {
                close();  // reconnect next time: the broker may be back (with its counters reset)
                throw e;
            }
        }

        private Json read(MBeanServerConnection c) throws Exception {
            // The sample's time is the middle of the meters' reads: under load a read takes long
            // enough that its start would misplace the bytes counted.
            long beforeNs = System.nanoTime();
            long beforeMs = System.currentTimeMillis();
            Map<String, Double> cumulative = new HashMap<>();
            for (String[] meter : METERS) {
                cumulative.put(meter[2], number(c, meter[0], meter[1]));
            }
            long halfNs = (System.nanoTime() - beforeNs) / 2;
            long nowNs = beforeNs + halfNs;
            readAtMs = beforeMs + halfNs / 1_000_000;
            cumulative.put("request_handler_idle_pct", number(c, HANDLER_IDLE, "Count"));
            cumulative.put("gc_ms_per_sec", gcMillis(c));
            double[] ioWait = ioWaitNanos(c);  // {total, processors}
            cumulative.put("network_processor_idle_pct", ioWait == null ? null : ioWait[0]);
            cumulative.put("process_cpu_pct", number(c, "java.lang:type=OperatingSystem", "ProcessCpuTime"));
            Json metrics = new Json();
            double seconds = previous == null ? 0 : (nowNs - previousNs) / 1e9;
            for (String[] meter : METERS) {
                metrics.put(meter[2], perSecond(cumulative, meter[2], seconds));
            }
            Double idleNsPerSec = perSecond(cumulative, "request_handler_idle_pct", seconds);
            metrics.put("request_handler_idle_pct", idleNsPerSec == null ? null : Math.min(100, idleNsPerSec / 1e7));
            Double ioWaitNsPerSec = perSecond(cumulative, "network_processor_idle_pct", seconds);
            metrics.put("network_processor_idle_pct", ioWaitNsPerSec == null || ioWait == null ? null
                    : Math.min(100, ioWaitNsPerSec / ioWait[1] / 1e7));
            for (String[] gauge : GAUGES) {
                metrics.put(gauge[2], number(c, gauge[0], gauge[1]));
            }
            for (String[] request : REQUESTS) {
                for (String[] part : PARTS) {
                    String bean = "kafka.network:type=RequestMetrics,name=" + part[0] + ",request=" + request[0];
                    metrics.put(request[1] + "_" + part[1] + "_p99_ms", number(c, bean, "99thPercentile"));
                }
            }
            metrics.put("gc_ms_per_sec", perSecond(cumulative, "gc_ms_per_sec", seconds));
            Double cpuNsPerSec = perSecond(cumulative, "process_cpu_pct", seconds);
            metrics.put("process_cpu_pct", cpuNsPerSec == null ? null : cpuNsPerSec / 1e7);
            previous = cumulative;
            previousNs = nowNs;
            return metrics;
        }

        private Double perSecond(Map<String, Double> now, String key, double seconds) {
            Double before = previous == null ? null : previous.get(key);
            Double after = now.get(key);
            if (before == null || after == null || seconds <= 0 || after < before) {
                return null;  // no baseline, or a counter that went back (a restarted broker)
            }
            return (after - before) / seconds;
        }

        private static Double gcMillis(MBeanServerConnection c) throws Exception {
            double total = 0;
            Set<ObjectName> collectors = c.queryNames(new ObjectName("java.lang:type=GarbageCollector,*"), null);
            for (ObjectName collector : collectors) {
                Double millis = number(c, collector.toString(), "CollectionTime");
                total += millis == null ? 0 : millis;
            }
            return collectors.isEmpty() ? null : total;
        }

        /** The network processors' cumulative io-wait nanoseconds, summed, and their count; null: none. */
        private static double[] ioWaitNanos(MBeanServerConnection c) throws Exception {
            double total = 0;
            int processors = 0;
            for (ObjectName bean : c.queryNames(new ObjectName(PROCESSORS), null)) {
                if (bean.getKeyProperty("networkProcessor") == null || bean.getKeyProperty("clientSoftwareName") != null) {
                    continue;  // the per-client-software connection counts
                }
                Double nanos = number(c, bean.toString(), "io-wait-time-ns-total");
                if (nanos != null) {
                    total += nanos;
                    processors++;
                }
            }
            return processors == 0 ? null : new double[] {total, processors};
        }

        /** One numeric attribute, or null when the broker has no such MBean (not every version has all). */
        private static Double number(MBeanServerConnection c, String bean, String attribute) throws Exception {
            AttributeList values;
            try {
                values = c.getAttributes(new ObjectName(bean), new String[] {attribute});
            } catch (InstanceNotFoundException e) {
                return null;
            }
            for (Attribute value : values.asList()) {
                if (value.getValue() instanceof Number number) {
                    return number.doubleValue();
                }
            }
            return null;
        }

        private void close() {
            if (connector != null) {
                try {
                    connector.close();
                } catch (IOException e) {
                    // closing a broken connection: nothing more to do
                }
                connector = null;
            }
            previous = null;
        }
    }
}
