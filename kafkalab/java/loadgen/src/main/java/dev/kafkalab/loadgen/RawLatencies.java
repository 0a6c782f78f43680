package dev.kafkalab.loadgen;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test mode: every latency as a line of microseconds, to check the histograms against. */
final class RawLatencies implements AutoCloseable {
    private final BufferedWriter writer;

    private RawLatencies(BufferedWriter writer) {
        this.writer = writer;
    }

    /** A writer for `file`, or null without one (the normal case: nothing is written). */
    static RawLatencies open(String file) throws IOException {
        return file == null ? null : new RawLatencies(Files.newBufferedWriter(Path.of(file), StandardCharsets.UTF_8));
    }

    synchronized void write(long... micros) {
        try {
            for (int i = 0; i < micros.length; i++) {
                if (i > 0) {
                    writer.write(' ');
                }
                writer.write(Long.toString(micros[i]));
            }
            writer.write('\n');
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the raw latencies: " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        writer.close();
    }
}
