package dev.kafkalab.loadgen;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** The command line of one role: `--name value` options and bare `--flag`s, checked by name. */
final class Options {
    private final Map<String, String> values = new HashMap<>();

    private Options() {
    }

    static Options parse(String[] args, int from, Set<String> valued, Set<String> flags) {
        Options options = new Options();
        for (int i = from; i < args.length; i++) {
            String name = args[i];
            if (flags.contains(name)) {
                options.values.put(name, "true");
            } else if (valued.contains(name)) {
                if (i + 1 >= args.length) {
                    throw new UsageError(name + " needs a value");
                }
                options.values.put(name, args[++i]);
            } else {
                throw new UsageError("unknown option " + name);
            }
        }
        return options;
    }

    boolean flag(String name) {
        return values.containsKey(name);
    }

    String text(String name) {
        String value = values.get(name);
        if (value == null) {
            throw new UsageError(name + " is required");
        }
        return value;
    }

    String text(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    long positiveLong(String name) {
        long value = parseLong(name, text(name));
        if (value <= 0) {
            throw new UsageError(name + " must be positive, got " + value);
        }
        return value;
    }

    /** A positive whole number, or `fallback` (may be -1: unbounded) when the option is absent. */
    long positiveLong(String name, long fallback) {
        return values.containsKey(name) ? positiveLong(name) : fallback;
    }

    double number(String name, double fallback) {
        if (!values.containsKey(name)) {
            return fallback;
        }
        try {
            double value = Double.parseDouble(values.get(name));
            if (Double.isNaN(value) || Double.isInfinite(value)) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new UsageError(name + " must be a number, got " + values.get(name));
        }
    }

    private static long parseLong(String name, String text) {
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new UsageError(name + " must be a whole number, got " + text);
        }
    }

    /** A wrong command line: reported on one line, exit code 2. */
    static final class UsageError extends RuntimeException {
        UsageError(String message) {
            super(message);
        }
    }
}
