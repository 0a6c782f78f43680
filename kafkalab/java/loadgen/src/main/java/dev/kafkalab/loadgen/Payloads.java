package dev.kafkalab.loadgen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/** Record values and keys, made before the first send so that making them costs nothing then. */
final class Payloads {
    // Random values are a pool of distinct arrays (incompressible, unlike one repeated array),
    // bounded in memory; sent arrays are copied into the producer's batches, so reuse is safe.
    private static final long POOL_BYTES = 8L << 20;
    private static final int POOL_MAX = 1024;

    private final byte[][] values;
    private final byte[][] keys;
    private final SplittableRandom random = new SplittableRandom();
    private int nextValue;

    private Payloads(byte[][] values, byte[][] keys) {
        this.values = values;
        this.keys = keys;
    }

    /** `payloadFile` (its lines, cycled) or random bytes of `recordSize`; keys per `keySpec`. */
    static Payloads of(String payloadFile, int recordSize, String keySpec) throws IOException {
        return new Payloads(payloadFile != null ? lines(payloadFile) : randomValues(recordSize), keys(keySpec));
    }

    byte[] nextValue() {
        byte[] value = values[nextValue];
        nextValue = (nextValue + 1) % values.length;
        return value;
    }

    /** The next key, or null (the default partitioner then spreads records over partitions). */
    byte[] nextKey() {
        if (keys == null) {
            return null;
        }
        return keys.length == 1 ? keys[0] : keys[random.nextInt(keys.length)];
    }

    private static byte[][] lines(String file) throws IOException {
        List<String> lines = Files.readAllLines(Path.of(file), StandardCharsets.UTF_8);
        byte[][] values = lines.stream().filter(l -> !l.isEmpty()).map(l -> l.getBytes(StandardCharsets.UTF_8))
                .toArray(byte[][]::new);
        if (values.length == 0) {
            throw new Options.UsageError("--payload-file " + file + " has no non-empty line");
        }
        return values;
    }

    private static byte[][] randomValues(int recordSize) {
        if (recordSize < 0) {
            throw new Options.UsageError("--record-size must not be negative, got " + recordSize);
        }
        int count = (int) Math.max(1, Math.min(POOL_MAX, POOL_BYTES / Math.max(1, recordSize)));
        SplittableRandom random = new SplittableRandom();
        byte[][] values = new byte[count][recordSize];
        for (byte[] value : values) {
            for (int i = 0; i < value.length; i++) {
                value[i] = (byte) random.nextInt(256);
            }
        }
        return values;
    }

    /** none | random:N (N distinct keys, picked at random) | fixed:KEY. */
    private static byte[][] keys(String spec) {
        if (spec.equals("none")) {
            return null;
        }
        if (spec.startsWith("fixed:") && spec.length() > "fixed:".length()) {
            return new byte[][] {spec.substring("fixed:".length()).getBytes(StandardCharsets.UTF_8)};
        }
        if (spec.startsWith("random:")) {
            int n;
            try {
                n = Integer.parseInt(spec.substring("random:".length()));
            } catch (NumberFormatException e) {
                n = 0;
            }
            if (n > 0) {
                byte[][] keys = new byte[n][];
                for (int i = 0; i < n; i++) {
                    keys[i] = ("key-" + i).getBytes(StandardCharsets.UTF_8);
                }
                return keys;
            }
        }
        throw new Options.UsageError("--keys must be none, random:N (N > 0) or fixed:KEY, got " + spec);
    }
}
