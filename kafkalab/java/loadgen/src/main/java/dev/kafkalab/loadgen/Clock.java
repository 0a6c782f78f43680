package dev.kafkalab.loadgen;

import java.time.Instant;

/** Wall-clock time in epoch microseconds: what a producer stamps and a consumer compares with. */
final class Clock {
    private Clock() {
    }

    static long epochMicros() {
        Instant now = Instant.now();  // microsecond resolution on Linux, unlike currentTimeMillis
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }
}
