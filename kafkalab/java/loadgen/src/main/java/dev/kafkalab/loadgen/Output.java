package dev.kafkalab.loadgen;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.HdrHistogram.AbstractHistogram;
import org.HdrHistogram.HistogramLogWriter;

/**
 * Everything the generator says on stdout, one flushed line at a time so that the task log
 * streams: the barrier line, HdrHistogram's interval log, `kafkalab-interval` and
 * `kafkalab-summary` JSON lines. Anything else that would print to stdout goes to stderr.
 */
final class Output {
    static final String INTERVAL = "kafkalab-interval ";
    static final String SUMMARY = "kafkalab-summary ";
    static final String ERROR = "kafkalab-error: ";
    // The log's max column in milliseconds (values are microseconds), as HdrHistogram's own
    // tools show it; the encoded histograms keep full microsecond precision.
    private static final double MAX_VALUE_UNIT_RATIO = 1000.0;

    // Buffered and flushed per line, so that a line leaves in one write: stderr shares the pipe
    // of a process runner, and a log line must not land inside a protocol line.
    private static final int BUFFER_BYTES = 1 << 20;

    private final PrintStream stdout;
    private final HistogramLogWriter log;

    Output() {
        stdout = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), BUFFER_BYTES),
                false, StandardCharsets.UTF_8);
        System.setOut(System.err);  // a library's stray println must not break the protocol
        log = new HistogramLogWriter(stdout);
    }

    synchronized void line(String text) {
        stdout.print(text + "\n");
        stdout.flush();
    }

    /** HdrHistogram's log header; timestamps in the log are absolute (no base time). */
    synchronized void histogramLogHeader(long startMs) {
        log.outputLogFormatVersion();
        stdout.flush();
        log.outputStartTime(startMs);
        stdout.flush();
        log.outputLegend();
        stdout.flush();
    }

    synchronized void histogram(String kind, AbstractHistogram histogram, long startMs, long endMs) {
        histogram.setTag(kind);
        log.outputIntervalHistogram(startMs / 1000.0, endMs / 1000.0, histogram, MAX_VALUE_UNIT_RATIO);
        stdout.flush();
    }

    static void error(String message) {
        System.err.println(ERROR + message);
        System.err.flush();
    }
}
