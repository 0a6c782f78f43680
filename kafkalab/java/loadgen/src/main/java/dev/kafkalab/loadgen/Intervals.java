package dev.kafkalab.loadgen;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.HdrHistogram.WriterReaderPhaser;

/**
 * Interval recording and reporting for one role.
 *
 * Two windows swap at each interval with HdrHistogram's WriterReaderPhaser, the mechanism of its
 * Recorder, but over all of a window's histograms and counters at once: an interval's counts and
 * histogram totals always agree. Writers (the sending thread, the producer's I/O thread, the
 * poll loop) never block; the reporter thread waits for writers still in the old window.
 */
final class Intervals {
    private final String[] kinds;
    private final String[] counterNames;
    private final Output out;
    private final WriterReaderPhaser phaser = new WriterReaderPhaser();
    private volatile Window active;
    private Window spare;
    private final ScheduledExecutorService reporter;
    private long seq;
    private long startMs;
    private volatile Supplier<Json> clientMetrics;

    Intervals(String[] kinds, String[] counterNames, Output out) {
        this.kinds = kinds;
        this.counterNames = counterNames;
        this.out = out;
        this.active = new Window(kinds.length, counterNames.length);
        this.spare = new Window(kinds.length, counterNames.length);
        this.reporter = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "kafkalab-reporter");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Enter a writer's critical section; record into `window()` and then `exit(token)`. */
    long enter() {
        return phaser.writerCriticalSectionEnter();
    }

    Window window() {
        return active;
    }

    void exit(long token) {
        phaser.writerCriticalSectionExit(token);
    }

    /** The client's own metrics (ClientMetrics), added to every interval line as "client". */
    void clientMetrics(Supplier<Json> metrics) {
        clientMetrics = metrics;
    }

    /** Start the clock: the log header now, an interval every `intervalMs` from here. */
    synchronized void start(long intervalMs) {
        startMs = System.currentTimeMillis();
        out.histogramLogHeader(startMs);
        reporter.scheduleAtFixedRate(this::report, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
    }

    /** Stop the reporter and write the last (partial) interval. */
    void finish() throws InterruptedException {
        reporter.shutdown();
        reporter.awaitTermination(30, TimeUnit.SECONDS);
        report();
    }

    private synchronized void report() {
        Window done = swap();
        long endMs = System.currentTimeMillis();
        for (int i = 0; i < kinds.length; i++) {
            out.histogram(kinds[i], done.histograms[i], startMs, endMs);
        }
        Json line = new Json().put("seq", ++seq).put("start_ms", startMs).put("end_ms", endMs);
        for (int i = 0; i < counterNames.length; i++) {
            line.put(counterNames[i], done.counters[i].get());
        }
        Supplier<Json> client = clientMetrics;
        if (client != null) {
            Json values;
            try {
                values = client.get();
            } catch (RuntimeException e) {
                values = null;  // missing for this interval; the interval itself is still reported
            }
            line.put("client", values);
        }
        out.line(Output.INTERVAL + line);
        startMs = endMs;
    }

    /** The window writers used until now; it stays intact until the next swap. */
    private Window swap() {
        phaser.readerLock();
        try {
            Window done = active;
            spare.reset();
            active = spare;
            phaser.flipPhase();  // returns once no writer is still inside `done`
            spare = done;
            return done;
        } finally {
            phaser.readerUnlock();
        }
    }
}
