package io.meridian.bridge;

import io.meridian.api.MeridianException;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Fences every bridge source of a shard, wherever it runs: a producer with the shard's
 * transactional id calls {@code initTransactions}, which bumps the id's epoch, aborts the open
 * transaction of any older producer and makes that producer's next call fail. Nothing the old
 * primary commits afterwards reaches the change topic; a source that starts later (the new
 * primary's) fences this producer in turn, which holds nothing.
 */
public final class SourceFence {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private SourceFence() {}

  /** The {@code transactional.id} of shard {@code shard}'s source under {@code prefix}. */
  public static String transactionalId(String prefix, int shard) {
    return prefix + "-shard-" + shard;
  }

  /**
   * Fences shard {@code shard}'s sources on the Kafka cluster at {@code bootstrapServers}.
   *
   * @param transactionalIdPrefix the bridges' {@code kafka.transactional-id-prefix}
   * @param properties passed to the producer as is (security settings, for instance)
   * @throws MeridianException UNAVAILABLE when Kafka does not answer within 30 s
   */
  public static void fence(
      String bootstrapServers,
      String transactionalIdPrefix,
      int shard,
      Map<String, String> properties) {
    BridgeConfig.Kafka kafka =
        new BridgeConfig.Kafka(bootstrapServers, null, null, 900_000, null, null, properties);
    Map<String, Object> props = ChangeTopic.common(kafka);
    props.put(
        ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId(transactionalIdPrefix, shard));
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) TIMEOUT.toMillis());
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
      producer.initTransactions();
    } catch (KafkaException e) {
      throw ChangeTopic.unavailable(
          "fence transactional id " + transactionalId(transactionalIdPrefix, shard), e);
    }
  }
}
