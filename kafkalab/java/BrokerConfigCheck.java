import java.io.FileInputStream;
import java.io.InputStream;
import java.util.Properties;

/**
 * Validates broker config files the way a broker does at start-up (KafkaConfig.fromProps),
 * without starting one: kafkalab refuses a setting Kafka would reject before any JVM of the
 * cluster starts. Prints one line per refused file ("path<TAB>reason"); exit 1 if any.
 */
public final class BrokerConfigCheck {
    public static void main(String[] args) throws Exception {
        int refused = 0;
        for (String path : args) {
            Properties props = new Properties();
            try (InputStream in = new FileInputStream(path)) {
                props.load(in);
            }
            try {
                kafka.server.KafkaConfig.fromProps(props, false);
            } catch (Exception e) {
                String reason = String.valueOf(e.getMessage()).replace('\n', ' ').replace('\r', ' ');
                System.out.println(path + "\t" + e.getClass().getSimpleName() + ": " + reason);
                refused++;
            }
        }
        System.exit(refused == 0 ? 0 : 1);
    }
}
