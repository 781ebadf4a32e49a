package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeRecord;
import io.meridian.api.v1.Error;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * One shard's change topic: a single partition of {@link ChangeRecord}s, created by the bridge with
 * the configured replication, and read back from its end to find where shipping stopped.
 */
final class ChangeTopic {
  /** Kafka's own framing around a record value (batch headers, key, record headers). */
  static final int RECORD_OVERHEAD_BYTES = 1024;

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  final String name;
  final TopicPartition partition;
  private final BridgeConfig.Kafka kafka;

  ChangeTopic(int shard, BridgeConfig.Kafka kafka) {
    this(BridgeConfig.topic(shard), kafka);
  }

  /** The topic {@code name}: a shard's, or a copy of one under another name (a mirror). */
  ChangeTopic(String name, BridgeConfig.Kafka kafka) {
    this.name = name;
    this.partition = new TopicPartition(name, 0);
    this.kafka = kafka;
  }

  /** Settings every Kafka client of the bridge starts from: the servers and the user's extras. */
  static Map<String, Object> common(BridgeConfig.Kafka kafka) {
    Map<String, Object> props = new HashMap<>(kafka.properties());
    props.put("bootstrap.servers", kafka.bootstrapServers());
    return props;
  }

  /** A {@code read_committed} consumer with no group and no automatic offset commits. */
  static KafkaConsumer<String, byte[]> consumer(BridgeConfig.Kafka kafka) {
    Map<String, Object> props = common(kafka);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
    props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, kafka.maxRecordBytes() * 4);
    props.put(
        ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Math.max(52_428_800, kafka.maxRecordBytes() * 4));
    props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis());
    // Kafka's 500 ms default fetch wait showed in every revision's lag at low rates: a
    // read_committed fetch parked at the broker waits past the commit that makes records
    // visible (bench/run workload 9, p50 at 25 puts/s: 75 ms with the default, 40 ms with 10).
    // Overridable in kafka.properties; the price is an empty fetch per 10 ms per idle sink.
    props.putIfAbsent(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 10);
    return new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
  }

  /** Creates the topic unless it exists. */
  void ensure() throws InterruptedException {
    try (Admin admin = Admin.create(common(kafka))) {
      NewTopic topic =
          new NewTopic(name, 1, kafka.replicationFactor())
              .configs(
                  Map.of(
                      TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG,
                      Integer.toString(kafka.minInsyncReplicas()),
                      TopicConfig.MAX_MESSAGE_BYTES_CONFIG,
                      Integer.toString(kafka.maxRecordBytes() + RECORD_OVERHEAD_BYTES),
                      // The archive point-in-time restore replays: kept until an operator
                      // decides (retention must reach back to the oldest snapshot).
                      TopicConfig.RETENTION_MS_CONFIG,
                      "-1",
                      TopicConfig.CLEANUP_POLICY_CONFIG,
                      TopicConfig.CLEANUP_POLICY_DELETE));
      admin.createTopics(List.of(topic)).all().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) {
        throw unavailable("create topic " + name, e.getCause());
      }
    } catch (TimeoutException e) {
      throw unavailable("create topic " + name, e);
    }
  }

  /**
   * The last committed record of the topic: where shipping stopped. Reads back from the end in
   * growing windows (transaction markers take offsets too).
   */
  Optional<ChangeRecord> last() {
    try (KafkaConsumer<String, byte[]> consumer = consumer(kafka)) {
      consumer.assign(List.of(partition));
      long begin = consumer.beginningOffsets(List.of(partition)).get(partition);
      long end = consumer.endOffsets(List.of(partition)).get(partition);
      for (long window = 16; ; window *= 8) {
        long from = Math.max(begin, end - window);
        consumer.seek(partition, from);
        ChangeRecord last = null;
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (consumer.position(partition) < end) {
          if (System.nanoTime() > deadline) {
            throw unavailable("read the end of " + name, null);
          }
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
            if (r.offset() < end) {
              last = ChangeRecords.parse(r.value(), name, r.offset());
            }
          }
        }
        if (last != null || from == begin) {
          return Optional.ofNullable(last);
        }
      }
    }
  }

  static MeridianException unavailable(String what, Throwable cause) {
    return MeridianException.of(
        Error.Code.UNAVAILABLE,
        "kafka: could not %s%s",
        what,
        cause == null ? " in time" : " (" + cause + ")");
  }
}
