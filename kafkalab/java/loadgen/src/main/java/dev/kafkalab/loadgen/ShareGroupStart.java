package dev.kafkalab.loadgen;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;

/**
 * Where a share group starts reading. A new share group starts at the latest offset (KIP-932's
 * group config `share.auto.offset.reset`, default latest), so consumers that run after the
 * producers would read nothing; set to earliest it reads the topic from its start, as a new
 * consumer group of `consume` does. Consumers alongside the producers lose nothing either way
 * (the topic is empty when they subscribe), and instances sharing a group set the same value.
 */
final class ShareGroupStart {
    static final String RESET_CONFIG = "share.auto.offset.reset";
    private static final long TIMEOUT_S = 60;

    private ShareGroupStart() {
    }

    /** Sets the group's `share.auto.offset.reset` to earliest, before any member subscribes. */
    static void fromEarliest(Properties clientProps, String group) throws Fatal {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
        AlterConfigOp earliest = new AlterConfigOp(new ConfigEntry(RESET_CONFIG, "earliest"), AlterConfigOp.OpType.SET);
        try (Admin admin = Admin.create(adminProps(clientProps))) {
            admin.incrementalAlterConfigs(Map.of(resource, List.of(earliest))).all().get(TIMEOUT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new Fatal("cannot set " + RESET_CONFIG + "=earliest on share group " + group + ": "
                    + Fatal.describe(e.getCause()));
        } catch (TimeoutException e) {
            throw new Fatal("cannot set " + RESET_CONFIG + "=earliest on share group " + group + ": no answer in "
                    + TIMEOUT_S + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Fatal(e);
        }
    }

    /** The connection and security settings of the client's properties (an Admin rejects none, but
     * would log every consumer-only one as unused). */
    private static Properties adminProps(Properties clientProps) {
        Properties props = new Properties();
        for (String name : clientProps.stringPropertyNames()) {
            if (AdminClientConfig.configNames().contains(name)) {
                props.put(name, clientProps.getProperty(name));
            }
        }
        String clientId = clientProps.getProperty(AdminClientConfig.CLIENT_ID_CONFIG);
        if (clientId != null) {
            props.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId + "-admin");
        }
        return props;
    }
}
