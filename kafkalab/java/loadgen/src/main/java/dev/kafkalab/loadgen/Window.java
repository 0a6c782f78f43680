package dev.kafkalab.loadgen;

import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.AtomicHistogram;

/** What one reporting interval recorded: a latency histogram per kind and a few counters. */
final class Window {
    // Microseconds, 3 significant digits, up to an hour: a slower value is recorded as an hour.
    static final long HIGHEST_TRACKABLE_US = 3_600_000_000L;

    final AtomicHistogram[] histograms;
    final AtomicLong[] counters;

    Window(int kinds, int counterCount) {
        histograms = new AtomicHistogram[kinds];
        for (int i = 0; i < kinds; i++) {
            histograms[i] = new AtomicHistogram(HIGHEST_TRACKABLE_US, 3);
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
        for (AtomicHistogram histogram : histograms) {
            histogram.reset();
        }
        for (AtomicLong counter : counters) {
            counter.set(0);
        }
    }
}
