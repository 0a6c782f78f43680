package dev.kafkalab.loadgen;

import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * What one reporting interval recorded: a latency histogram per kind and a few counters.
 *
 * The histograms are plain (not atomic) because each has a single writer thread: the
 * producer's I/O thread, which runs every successful send's callback, or the consumer's poll
 * loop. Intervals' WriterReaderPhaser makes their writes visible to the reporter, as
 * HdrHistogram's SingleWriterRecorder does. The counters have several writers (the sending
 * thread and the I/O thread): atomic.
 */
final class Window {
    // Microseconds, 3 significant digits, up to an hour: a slower value is recorded as an hour.
    static final long HIGHEST_TRACKABLE_US = 3_600_000_000L;

    final Histogram[] histograms;
    final AtomicLong[] counters;

    Window(int kinds, int counterCount) {
        histograms = new Histogram[kinds];
        for (int i = 0; i < kinds; i++) {
            histograms[i] = new Histogram(HIGHEST_TRACKABLE_US, 3);
        }
        counters = new AtomicLong[counterCount];
        for (int i = 0; i < counterCount; i++) {
            counters[i] = new AtomicLong();
        }
    }

    void record(int kind, long micros) {
        histograms[kind].recordValue(Math.max(0, Math.min(micros, HIGHEST_TRACKABLE_US)));
    }

    void add(int counter, long amount) {
        counters[counter].addAndGet(amount);
    }

    void reset() {
        for (Histogram histogram : histograms) {
            histogram.reset();
        }
        for (AtomicLong counter : counters) {
            counter.set(0);
        }
    }
}
