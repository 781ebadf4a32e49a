package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.kafka.KafkaBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker the bridge tests and {@code bin/meridian dev} use is a real Kafka: transactions commit
 * and abort as Kafka's do, a restart keeps committed records, and a second producer with the same
 * transactional id fences the first.
 */
@Tag("cluster")
class KafkaBrokerTest {
  @TempDir Path dir;

  @Test
  void aForkedBrokerKeepsCommittedTransactionsAcrossARestartAndHidesAbortedOnes() throws Exception {
    try (KafkaBroker kafka = KafkaBroker.start(dir)) {
      try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
        admin.createTopics(List.of(new NewTopic("t", 1, (short) 1))).all().get();
      }
      try (KafkaProducer<String, String> p = producer(kafka, "shard-0")) {
        p.initTransactions();
        p.beginTransaction();
        p.send(new ProducerRecord<>("t", "k", "committed-1"));
        p.commitTransaction();
        p.beginTransaction();
        p.send(new ProducerRecord<>("t", "k", "aborted"));
        p.abortTransaction();
      }
      kafka.stop();
      kafka.start();
      try (KafkaProducer<String, String> older = producer(kafka, "shard-0");
          KafkaProducer<String, String> newer = producer(kafka, "shard-0")) {
        older.initTransactions();
        newer.initTransactions();
        // The newer copy's initTransactions fenced the older one.
        assertThatThrownBy(
                () -> {
                  older.beginTransaction();
                  older.send(new ProducerRecord<>("t", "k", "from-a-fenced-copy")).get();
                  older.commitTransaction();
                })
            .satisfies(
                e -> {
                  Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                  // Kafka 4.1 reports a fenced producer's send as InvalidProducerEpochException.
                  assertThat(cause)
                      .isInstanceOfAny(
                          ProducerFencedException.class, InvalidProducerEpochException.class);
                });
        newer.beginTransaction();
        newer.send(new ProducerRecord<>("t", "k", "committed-2"));
        newer.commitTransaction();
      }
      assertThat(readCommitted(kafka, 2)).containsExactly("committed-1", "committed-2");
    }
  }

  private static KafkaProducer<String, String> producer(KafkaBroker kafka, String txId) {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txId);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    return new KafkaProducer<>(props);
  }

  private static List<String> readCommitted(KafkaBroker kafka, int expected) {
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    List<String> values = new ArrayList<>();
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props)) {
      TopicPartition tp = new TopicPartition("t", 0);
      c.assign(Set.of(tp));
      c.seekToBeginning(Set.of(tp));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (values.size() < expected && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
          values.add(r.value());
        }
      }
    }
    return values;
  }
}
