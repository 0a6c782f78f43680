package dev.kafkalab.loadgen;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/** Client properties come only from a file: bootstrap servers and credentials stay out of `ps`. */
final class ClientConfig {
    private ClientConfig() {
    }

    static Properties load(String file) {
        Properties props = new Properties();
        try (Reader reader = Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8)) {
            props.load(reader);
        } catch (IOException e) {
            throw new Options.UsageError("--config " + file + " cannot be read: " + e.getMessage());
        }
        if (!props.containsKey("bootstrap.servers")) {
            throw new Options.UsageError("--config " + file + " has no bootstrap.servers");
        }
        return props;
    }
}
