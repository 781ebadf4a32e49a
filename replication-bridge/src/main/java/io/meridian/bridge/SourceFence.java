package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeRecord;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Fences every bridge source of a shard, wherever it runs, for a failover to a new epoch: a
 * producer with the shard's transactional id calls {@code initTransactions}, which bumps the id's
 * epoch, aborts the open transaction of any older producer and makes that producer's next call
 * fail; then it commits a fence marker to the change topic ({@code
 * ChangeRecord.fenced_below_epoch}), so that a source of an older epoch that starts again later
 * (the old primary's bridge retrying, or restarted) finds the marker before its own {@code
 * initTransactions} and refuses to ship. The new primary's source, at the new epoch, resumes after
 * the last batch as before.
 */
public final class SourceFence {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private SourceFence() {}

  /** The {@code transactional.id} of shard {@code shard}'s source under {@code prefix}. */
  public static String transactionalId(String prefix, int shard) {
    return prefix + "-shard-" + shard;
  }

  /**
   * Fences shard {@code shard}'s sources on the Kafka cluster at {@code bootstrapServers} for a
   * failover to {@code epoch}.
   *
   * @param transactionalIdPrefix the bridges' {@code kafka.transactional-id-prefix}
   * @param properties passed to the producer as is (security settings, for instance)
   * @throws MeridianException UNAVAILABLE when Kafka does not answer within 30 s
   */
  public static void fence(
      String bootstrapServers,
      String transactionalIdPrefix,
      int shard,
      long epoch,
      Map<String, String> properties) {
    BridgeConfig.Kafka kafka =
        new BridgeConfig.Kafka(bootstrapServers, null, null, 900_000, null, null, properties);
    Map<String, Object> props = ChangeTopic.common(kafka);
    props.put(
        ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId(transactionalIdPrefix, shard));
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) TIMEOUT.toMillis());
    ChangeTopic topic = new ChangeTopic(shard, kafka);
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
      producer.initTransactions();
      // Read after initTransactions: no older source can add a batch after this point.
      Optional<ChangeRecord> last = topic.last();
      ChangeRecord marker =
          ChangeRecord.newBuilder()
              .setShard(shard)
              .setEpoch(last.map(ChangeRecord::getEpoch).orElse(0L))
              .setRevision(last.map(ChangeRecord::getRevision).orElse(0L))
              .setFencedBelowEpoch(
                  Math.max(epoch, last.map(ChangeRecord::getFencedBelowEpoch).orElse(0L)))
              .build();
      producer.beginTransaction();
      producer.send(
          new ProducerRecord<>(topic.name, 0, Integer.toString(shard), marker.toByteArray()));
      producer.commitTransaction();
    } catch (KafkaException e) {
      throw ChangeTopic.unavailable(
          "fence transactional id " + transactionalId(transactionalIdPrefix, shard), e);
    }
  }
}
