package dev.kafkalab.loadgen;

/** One JSON object (flat, or with nested objects), keys in the order they are put (the protocol lines stay readable). */
final class Json {
    private final StringBuilder text = new StringBuilder("{");

    Json put(String key, long value) {
        return raw(key, Long.toString(value));
    }

    Json put(String key, boolean value) {
        return raw(key, Boolean.toString(value));
    }

    /** A finite number, or null. */
    Json put(String key, Double value) {
        return raw(key, value == null || value.isNaN() || value.isInfinite() ? "null" : value.toString());
    }

    /** A whole number, or null (e.g. no first send). */
    Json put(String key, Long value) {
        return raw(key, value == null ? "null" : value.toString());
    }

    Json put(String key, String value) {
        return raw(key, value == null ? "null" : quote(value));
    }

    /** A nested object (the client metrics of an interval, a broker's sample). */
    Json put(String key, Json value) {
        return raw(key, value == null ? "null" : value.toString());
    }

    private Json raw(String key, String value) {
        if (text.length() > 1) {
            text.append(',');
        }
        text.append(quote(key)).append(':').append(value);
        return this;
    }

    private static String quote(String value) {
        StringBuilder out = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    @Override
    public String toString() {
        return text + "}";
    }
}
