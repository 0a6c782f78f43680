package dev.kafkalab.loadgen;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.header.Header;

/**
 * `consume`: reads the topic and measures end-to-end latency, the receive time against the
 * send time the producer stamped in its `kl.sent.us` header (ProduceCommand.SENT_HEADER; both
 * wall clocks, so producer and consumer should share a host or a well-synchronised clock).
 */
final class ConsumeCommand {
    private static final String[] KINDS = {"end_to_end"};
    private static final int END_TO_END = 0;
    private static final String[] COUNTERS = {"received", "bytes"};
    private static final int RECEIVED = 0, BYTES = 1;
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(120);

    private ConsumeCommand() {
    }

    static int run(String[] args, Output out) throws Exception {
        Options o = Options.parse(args, 1,
                Set.of("--topic", "--config", "--group", "--num-records", "--idle-timeout-ms", "--duration-s",
                        "--reporting-interval-ms", "--acknowledge-mode", "--raw-latencies"),
                Set.of("--barrier", "--share", "--join-first"));
        String topic = o.text("--topic");
        Properties props = ClientConfig.load(o.text("--config"));
        String group = o.text("--group");
        long numRecords = o.positiveLong("--num-records", -1);
        long idleTimeoutMs = o.positiveLong("--idle-timeout-ms", 10_000);
        double durationS = o.number("--duration-s", 0);
        long intervalMs = o.positiveLong("--reporting-interval-ms", 5000);
        boolean share = o.flag("--share");
        String acknowledgeMode = o.text("--acknowledge-mode", null);
        if (acknowledgeMode != null && !(share && Set.of("implicit", "explicit").contains(acknowledgeMode))) {
            throw new Options.UsageError("--acknowledge-mode must be implicit or explicit, with --share");
        }

        try (RecordSource source = RecordSource.of(props, group, share, acknowledgeMode);
             RawLatencies raw = RawLatencies.open(o.text("--raw-latencies", null))) {
            source.checkTopic(topic);
            long subscribedNs = System.nanoTime();
            long[] assignedNs = {-1};
            // --join-first (consumers alongside the producers): join the group and get the
            // partitions before the barrier, so that the first records are read as they come
            // rather than after a rebalance. A share group tells no assignment: it joins as it reads.
            boolean joinFirst = o.flag("--join-first") && !share;
            ConsumerRecords<byte[], byte[]> early = ConsumerRecords.empty();
            if (joinFirst) {
                source.subscribe(topic, () -> assignedNs[0] = System.nanoTime());
                long joinDeadline = subscribedNs + JOIN_TIMEOUT.toNanos();
                while (assignedNs[0] < 0 && early.isEmpty() && System.nanoTime() < joinDeadline) {
                    early = source.poll(POLL);
                }
            }
            if (o.flag("--barrier")) {
                Barrier.await(out);
            }
            long goNs = System.nanoTime();  // idle time never counts the wait at the barrier
            Intervals intervals = new Intervals(KINDS, COUNTERS, out);
            intervals.clientMetrics(new ClientMetrics(source.metrics(), ClientMetrics.CONSUMER));
            intervals.start(intervalMs);
            if (!joinFirst) {
                subscribedNs = System.nanoTime();
                source.subscribe(topic, () -> assignedNs[0] = System.nanoTime());
            }
            long deadline = durationS > 0 ? subscribedNs + (long) (durationS * 1e9) : Long.MAX_VALUE;
            // Idle time counts from the last record, or from the assignment before the first one
            // (a share group tells no assignment: from the subscription).
            long lastActivityNs = share ? subscribedNs : -1;
            long received = 0, bytes = 0, withoutHeader = 0;
            Long firstMs = null, lastMs = null;
            String stoppedBy;
            while (true) {
                ConsumerRecords<byte[], byte[]> records = early.isEmpty() ? source.poll(POLL) : early;
                early = ConsumerRecords.empty();
                long nowNs = System.nanoTime();
                if (lastActivityNs < 0 && assignedNs[0] >= 0) {
                    lastActivityNs = Math.max(assignedNs[0], goNs);
                }
                if (!records.isEmpty()) {
                    long receivedUs = Clock.epochMicros();
                    long token = intervals.enter();
                    try {
                        Window window = intervals.window();
                        for (ConsumerRecord<byte[], byte[]> record : records) {
                            Header header = record.headers().lastHeader(ProduceCommand.SENT_HEADER);
                            long sentUs;
                            if (header != null && header.value() != null && header.value().length == Long.BYTES) {
                                sentUs = ByteBuffer.wrap(header.value()).getLong();
                            } else {
                                sentUs = record.timestamp() * 1000;
                                withoutHeader++;
                            }
                            long endToEndUs = receivedUs - sentUs;
                            int size = record.value() == null ? 0 : record.value().length;
                            window.record(END_TO_END, endToEndUs);
                            window.add(RECEIVED, 1);
                            window.add(BYTES, size);
                            bytes += size;
                            if (raw != null) {
                                raw.write(endToEndUs);
                            }
                        }
                    } finally {
                        intervals.exit(token);
                    }
                    source.acknowledge(records);
                    received += records.count();
                    lastMs = receivedUs / 1000;
                    if (firstMs == null) {
                        firstMs = lastMs;
                    }
                    lastActivityNs = nowNs;
                    if (numRecords > 0 && received >= numRecords) {
                        stoppedBy = "records";
                        break;
                    }
                }
                if (lastActivityNs >= 0 && nowNs - lastActivityNs >= idleTimeoutMs * 1_000_000) {
                    stoppedBy = "idle";
                    break;
                }
                if (nowNs >= deadline) {
                    stoppedBy = "duration";
                    break;
                }
            }
            intervals.finish();
            Double rebalanceMs = assignedNs[0] < 0 ? null : (assignedNs[0] - subscribedNs) / 1e6;
            Json summary = new Json().put("role", "consumer").put("received", received).put("bytes", bytes)
                    .put("start_ms", firstMs).put("end_ms", lastMs).put("rebalance_ms", rebalanceMs)
                    .put("stopped_by", stoppedBy).put("without_header", withoutHeader).put("group", group)
                    .put("share", share);
            out.line(Output.SUMMARY + summary);
        }
        return 0;
    }
}
