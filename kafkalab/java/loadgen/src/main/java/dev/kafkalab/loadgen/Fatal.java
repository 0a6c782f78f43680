package dev.kafkalab.loadgen;

/** A failure that ends the run (no connection, no topic, no authorisation): exit code 1. */
final class Fatal extends Exception {
    Fatal(String message) {
        super(message);
    }

    Fatal(Throwable cause) {
        super(describe(cause), cause);
    }

    /** "ExceptionClass: message" on one line, as `kafkalab-error:` and first_error show it. */
    static String describe(Throwable error) {
        String message = String.valueOf(error.getMessage()).replaceAll("\\s+", " ").trim();
        return error.getClass().getSimpleName() + ": " + message;
    }
}
