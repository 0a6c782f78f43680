package dev.kafkalab.loadgen;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * The start barrier of kafkalab/java/StartBarrier.java, here after the client is built and has
 * metadata: N instances start measuring together when kafkalab says "go" on stdin.
 */
final class Barrier {
    static final String READY = "kafkalab-barrier: ready";
    static final int GAVE_UP_EXIT_CODE = 3;

    private Barrier() {
    }

    /** Announce readiness and block until "go"; any other line (or end of input) exits with 3. */
    static void await(Output out) throws IOException {
        out.line(READY);
        String go = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        if (!"go".equals(go)) {
            System.exit(GAVE_UP_EXIT_CODE);  // kafkalab gave up on the run before it started
        }
    }
}
