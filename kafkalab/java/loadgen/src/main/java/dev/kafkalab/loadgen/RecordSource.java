package dev.kafkalab.loadgen;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Where `consume` reads from: a consumer group (KafkaConsumer) or a share group (KIP-932). */
interface RecordSource extends AutoCloseable {
    /** Fails (Fatal) when the topic cannot be seen: no connection, no authorisation, no topic. */
    void checkTopic(String topic) throws Fatal;

    /** Subscribe; `onAssigned` runs once, at the first assignment (never for a share group). */
    void subscribe(String topic, Runnable onAssigned);

    ConsumerRecords<byte[], byte[]> poll(Duration timeout);

    /** Acknowledge what the last poll returned, where the group needs it (explicit share mode). */
    void acknowledge(ConsumerRecords<byte[], byte[]> records);

    /** The client's metric registry (a live view; see ClientMetrics). */
    Map<MetricName, ? extends Metric> metrics();

    @Override
    void close();

    static RecordSource of(Properties props, String group, boolean share, String acknowledgeMode) throws Fatal {
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        if (share) {
            ShareGroupStart.fromEarliest(props, group);
            if (acknowledgeMode != null) {
                props.put(ConsumerConfig.SHARE_ACKNOWLEDGEMENT_MODE_CONFIG, acknowledgeMode);
            }
            return new Share(new KafkaShareConsumer<>(props), "explicit".equals(acknowledgeMode));
        }
        // Like ConsumerPerformance: a new group reads the topic from its beginning.
        props.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return new Group(new KafkaConsumer<>(props));
    }

    final class Group implements RecordSource {
        private final KafkaConsumer<byte[], byte[]> consumer;

        Group(KafkaConsumer<byte[], byte[]> consumer) {
            this.consumer = consumer;
        }

        @Override
        public void checkTopic(String topic) throws Fatal {
            List<?> partitions;
            try {
                partitions = consumer.partitionsFor(topic);
            } catch (RuntimeException e) {
                throw new Fatal(e);
            }
            if (partitions == null || partitions.isEmpty()) {
                throw new Fatal("UnknownTopicOrPartitionException: topic " + topic + " does not exist");
            }
        }

        @Override
        public void subscribe(String topic, Runnable onAssigned) {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                private boolean assigned;

                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    if (!assigned) {
                        assigned = true;
                        onAssigned.run();
                    }
                }
            });
        }

        @Override
        public ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
            return consumer.poll(timeout);
        }

        @Override
        public void acknowledge(ConsumerRecords<byte[], byte[]> records) {
        }

        @Override
        public Map<MetricName, ? extends Metric> metrics() {
            return consumer.metrics();
        }

        @Override
        public void close() {
            consumer.close(Duration.ofSeconds(10));
        }
    }

    final class Share implements RecordSource {
        private final KafkaShareConsumer<byte[], byte[]> consumer;
        private final boolean explicit;

        Share(KafkaShareConsumer<byte[], byte[]> consumer, boolean explicit) {
            this.consumer = consumer;
            this.explicit = explicit;
        }

        @Override
        public void checkTopic(String topic) {
            // A share consumer has no metadata call: a missing topic shows as nothing received.
        }

        @Override
        public void subscribe(String topic, Runnable onAssigned) {
            consumer.subscribe(List.of(topic));
        }

        @Override
        public ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
            return consumer.poll(timeout);
        }

        @Override
        public void acknowledge(ConsumerRecords<byte[], byte[]> records) {
            if (explicit) {
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    consumer.acknowledge(record, AcknowledgeType.ACCEPT);
                }
            }
        }

        @Override
        public Map<MetricName, ? extends Metric> metrics() {
            return consumer.metrics();
        }

        @Override
        public void close() {
            consumer.close(Duration.ofSeconds(10));
        }
    }
}
