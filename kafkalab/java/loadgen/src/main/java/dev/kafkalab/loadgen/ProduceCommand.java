package dev.kafkalab.loadgen;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * `produce`: an open-loop producer. Record i is due at start + i/rate and is sent then, or at
 * once when the generator is behind (never skipped): the delay shows in `schedule_delay` and in
 * `corrected` (due time to acknowledgement), so a stalled broker cannot hide its backlog.
 *
 * Options: --topic, --config (client properties), --num-records, --record-size, --rate (records/s;
 * absent: unthrottled), --keys, --payload-file, --reporting-interval-ms, --max-bytes, --duration-s,
 * --raw-latencies FILE, --barrier, and --no-histograms: for benchmarks only (bench/loadgen_throughput.py
 * measures what recording costs), records no latency, so every interval's histograms are empty.
 */
final class ProduceCommand {
    /**
     * The header every record carries: the send time, microseconds since the epoch, as an 8-byte
     * big-endian long ("kafkalab sent, µs"; the consumer's end-to-end latency is measured from it).
     * Short because every record carries it: 20 bytes more than a record without headers, 6 fewer
     * than the "kafkalab.sent.us" of earlier versions (whose records a consumer now counts as
     * without_header).
     */
    static final String SENT_HEADER = "kl.sent.us";
    // Histogram kinds and counters, in the order the output protocol lists them.
    private static final String[] KINDS = {"send", "corrected", "schedule_delay"};
    private static final int SEND = 0, CORRECTED = 1, SCHEDULE_DELAY = 2;
    private static final String[] COUNTERS = {"sent", "acked", "failed", "bytes"};
    private static final int SENT = 0, ACKED = 1, FAILED = 2, BYTES = 3;
    private static final Duration CALLBACK_WAIT = Duration.ofSeconds(60);

    private final String topic;
    private final KafkaProducer<byte[], byte[]> producer;
    private final Intervals intervals;
    private final RawLatencies raw;
    private final boolean recordLatency;
    private final AtomicLong acked = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong bytesAcked = new AtomicLong();
    private final AtomicLong lastAckMs = new AtomicLong(-1);
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private volatile Throwable fatal;

    private ProduceCommand(String topic, KafkaProducer<byte[], byte[]> producer, Intervals intervals, RawLatencies raw,
                           boolean recordLatency) {
        this.topic = topic;
        this.producer = producer;
        this.intervals = intervals;
        this.raw = raw;
        this.recordLatency = recordLatency;
    }

    static int run(String[] args, Output out) throws Exception {
        Options o = Options.parse(args, 1,
                Set.of("--topic", "--config", "--num-records", "--record-size", "--rate", "--keys", "--payload-file",
                        "--reporting-interval-ms", "--max-bytes", "--duration-s", "--raw-latencies"),
                Set.of("--barrier", "--no-histograms"));
        String topic = o.text("--topic");
        Properties props = ClientConfig.load(o.text("--config"));
        long numRecords = o.positiveLong("--num-records");
        int recordSize = (int) o.positiveLong("--record-size", 100);
        double rate = o.number("--rate", 0);
        long intervalMs = o.positiveLong("--reporting-interval-ms", 5000);
        long maxBytes = o.positiveLong("--max-bytes", Long.MAX_VALUE);
        double durationS = o.number("--duration-s", 0);
        Payloads payloads = Payloads.of(o.text("--payload-file", null), recordSize, o.text("--keys", "none"));

        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props);
        try (RawLatencies raw = RawLatencies.open(o.text("--raw-latencies", null))) {
            try {
                producer.partitionsFor(topic);  // connected, authenticated, the topic exists
            } catch (KafkaException e) {
                throw new Fatal(e);
            }
            if (o.flag("--barrier")) {
                Barrier.await(out);
            }
            Intervals intervals = new Intervals(KINDS, COUNTERS, out);
            intervals.clientMetrics(new ClientMetrics(producer.metrics(), ClientMetrics.PRODUCER));
            ProduceCommand command = new ProduceCommand(topic, producer, intervals, raw, !o.flag("--no-histograms"));
            return command.produce(payloads, numRecords, rate, maxBytes, durationS, intervalMs, out);
        } finally {
            producer.close(Duration.ofSeconds(5));  // everything was flushed; a fatal exit sends no more
        }
    }

    private int produce(Payloads payloads, long numRecords, double rate, long maxBytes, double durationS,
                        long intervalMs, Output out) throws Exception {
        boolean throttled = rate > 0;
        double nanosPerRecord = throttled ? 1e9 / rate : 0;
        intervals.start(intervalMs);
        long start = System.nanoTime();
        long deadline = durationS > 0 ? start + (long) (durationS * 1e9) : Long.MAX_VALUE;
        String stoppedBy = "records";
        long sent = 0;
        long bytesSent = 0;
        Long firstSendMs = null;
        while (sent < numRecords) {
            if (bytesSent >= maxBytes) {
                stoppedBy = "bytes";
                break;
            }
            if (fatal != null) {
                break;
            }
            long now = System.nanoTime();
            long due = throttled ? start + (long) (sent * nanosPerRecord) : now;
            if (now >= deadline || due >= deadline) {
                stoppedBy = "duration";
                break;
            }
            for (; now < due; now = System.nanoTime()) {
                LockSupport.parkNanos(due - now);
            }
            byte[] value = payloads.nextValue();
            long sentUs = Clock.epochMicros();
            RecordHeaders headers = new RecordHeaders();
            headers.add(SENT_HEADER, ByteBuffer.allocate(Long.BYTES).putLong(sentUs).array());
            ProducerRecord<byte[], byte[]> record =
                    new ProducerRecord<>(topic, null, sentUs / 1000, payloads.nextKey(), value, headers);
            long token = intervals.enter();
            try {
                intervals.window().add(SENT, 1);
            } finally {
                intervals.exit(token);
            }
            long sendNs = System.nanoTime();
            if (!throttled) {
                due = sendNs;
            }
            Ack ack = new Ack(due, sendNs, value.length);
            try {
                producer.send(record, ack);
            } catch (KafkaException | IllegalStateException e) {
                ack.onCompletion(null, e);  // counted as a failed record
                fatal = e;  // thrown, not called back: the producer itself cannot go on
                sent++;
                break;
            }
            if (firstSendMs == null) {
                firstSendMs = sentUs / 1000;
            }
            sent++;
            bytesSent += value.length;
        }
        if (fatal != null) {
            stoppedBy = "error";
        }
        producer.flush();
        awaitCallbacks(sent);
        intervals.finish();
        Json summary = new Json().put("role", "producer").put("sent", sent).put("acked", acked.get())
                .put("failed", failed.get()).put("bytes", bytesAcked.get()).put("start_ms", firstSendMs)
                .put("end_ms", lastAckMs.get() < 0 ? null : lastAckMs.get())
                .put("target_rate", throttled ? rate : null).put("stopped_by", stoppedBy)
                .put("first_error", firstError.get());
        out.line(Output.SUMMARY + summary);
        if (fatal != null) {
            throw new Fatal(fatal);
        }
        return 0;
    }

    /** flush() returns after the callbacks ran; this bounds the wait should one be late. */
    private void awaitCallbacks(long sent) throws InterruptedException {
        long deadline = System.nanoTime() + CALLBACK_WAIT.toNanos();
        while (acked.get() + failed.get() < sent && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
    }

    /** One record's acknowledgement, on the producer's I/O thread (or the sender's, on failure). */
    private final class Ack implements Callback {
        private final long dueNs;
        private final long sendNs;
        private final int size;

        Ack(long dueNs, long sendNs, int size) {
            this.dueNs = dueNs;
            this.sendNs = sendNs;
            this.size = size;
        }

        @Override
        public void onCompletion(RecordMetadata metadata, Exception error) {
            long ackNs = System.nanoTime();
            long sendUs = (ackNs - sendNs) / 1000;
            long correctedUs = (ackNs - dueNs) / 1000;
            long token = intervals.enter();
            try {
                Window window = intervals.window();
                if (error == null) {
                    if (recordLatency) {
                        window.record(SEND, sendUs);
                        window.record(CORRECTED, correctedUs);
                        window.record(SCHEDULE_DELAY, (sendNs - dueNs) / 1000);
                    }
                    window.add(ACKED, 1);
                    window.add(BYTES, size);
                } else {
                    window.add(FAILED, 1);
                }
            } finally {
                intervals.exit(token);
            }
            if (error == null) {
                bytesAcked.addAndGet(size);
                lastAckMs.accumulateAndGet(System.currentTimeMillis(), Math::max);
                if (raw != null) {
                    raw.write(sendUs, correctedUs);
                }
                acked.incrementAndGet();  // last: awaitCallbacks counts on everything above
                return;
            }
            if (firstError.compareAndSet(null, Fatal.describe(error))) {
                Output.error(firstError.get());
            }
            if (error instanceof AuthenticationException || error instanceof AuthorizationException) {
                fatal = error;  // every further record would fail the same way
            }
            failed.incrementAndGet();
        }
    }
}
