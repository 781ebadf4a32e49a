package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeRecord;
import io.meridian.api.v1.Error;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * A shard's change topic read as the archive of its history: what revisions it holds, and its
 * batches in order. Reads {@code read_committed} (the source writes each run, and every part of a
 * split batch, in one transaction), with no consumer group and no offset commits: it changes
 * nothing in Kafka. Records are decoded and reassembled as the bridge's sink does.
 *
 * <p>Retention may have deleted the topic's oldest records, possibly in the middle of a split
 * batch: the parts of a batch whose first part is gone are skipped.
 */
public final class ChangeArchive implements AutoCloseable {
  /** How long a read may make no progress before it is given up as UNAVAILABLE. */
  private static final Duration STALL = Duration.ofSeconds(30);

  private static final Duration POLL = Duration.ofMillis(200);

  private final ChangeTopic topic;
  private final KafkaConsumer<String, byte[]> consumer;

  private ChangeArchive(ChangeTopic topic, BridgeConfig.Kafka kafka) {
    this.topic = topic;
    this.consumer = ChangeTopic.consumer(kafka);
    consumer.assign(List.of(topic.partition));
  }

  /**
   * Opens {@code topic} on the Kafka cluster at {@code bootstrapServers}.
   *
   * @param properties passed to the Kafka consumer as is (security settings, for instance)
   * @throws MeridianException NOT_FOUND when the topic does not exist, UNAVAILABLE when Kafka does
   *     not answer
   */
  public static ChangeArchive open(
      String bootstrapServers, String topic, Map<String, String> properties) {
    BridgeConfig.Kafka kafka =
        new BridgeConfig.Kafka(bootstrapServers, null, null, 900_000, null, null, properties);
    try (Admin admin = Admin.create(ChangeTopic.common(kafka))) {
      admin
          .describeTopics(List.of(topic))
          .allTopicNames()
          .get(STALL.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UnknownTopicOrPartitionException) {
        throw MeridianException.of(
            Error.Code.NOT_FOUND,
            "kafka at %s has no topic %s (expected: the shard's change topic, which the bridge"
                + " creates when it first ships)",
            bootstrapServers,
            topic);
      }
      throw ChangeTopic.unavailable("describe topic " + topic, e.getCause());
    } catch (TimeoutException e) {
      throw ChangeTopic.unavailable("describe topic " + topic, null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ChangeTopic.unavailable("describe topic " + topic, e);
    }
    return new ChangeArchive(new ChangeTopic(topic, kafka), kafka);
  }

  /** The topic's name. */
  public String topic() {
    return topic.name;
  }

  /** A batch as the archive holds it: at {@code offset}, the offset of its last record. */
  public record Archived(ChangeBatch batch, long offset) {}

  /** The revisions the topic holds, {@code first..last}, with the offsets of those batches. */
  public record Extent(Archived first, long lastRevision) {}

  /** The position of the topic's last committed batch; empty if it holds none. */
  public Optional<io.meridian.api.v1.Position> last() {
    return topic
        .last()
        .map(
            r ->
                io.meridian.api.v1.Position.newBuilder()
                    .setEpoch(r.getEpoch())
                    .setRevision(r.getRevision())
                    .build());
  }

  /** What the topic holds now; empty if it holds no committed batch. */
  public Optional<Extent> extent() {
    Optional<ChangeRecord> last = topic.last();
    if (last.isEmpty()) {
      return Optional.empty();
    }
    consumer.seekToBeginning(List.of(topic.partition));
    Archived[] first = new Archived[1];
    scan(
        a -> {
          first[0] = a;
          return false;
        });
    if (first[0] == null) {
      return Optional.empty();
    }
    return Optional.of(new Extent(first[0], last.get().getRevision()));
  }

  /** Reads on with each batch until the visitor declines the next one. */
  @FunctionalInterface
  public interface Visitor {
    /** Takes one batch; false to stop reading. */
    boolean visit(Archived batch);
  }

  /**
   * Visits the topic's batches in order, starting at or before the batch of revision {@code after}
   * + 1, until {@code visitor} declines one or the topic's end (as it was when this call began).
   * Batches at or below {@code after} may be visited too.
   *
   * @param commitTimeMs the primary's commit time of revision {@code after}, if known (0 if not):
   *     with it the read starts near that revision (Kafka's time index) instead of the topic's
   *     beginning, when that can be seen to be early enough
   * @throws MeridianException INTERNAL for a record that is not a change record, or parts that do
   *     not make a batch (naming the offset); UNAVAILABLE when Kafka stops answering
   */
  public void read(long after, long commitTimeMs, Visitor visitor) {
    if (commitTimeMs > 0 && seekNear(after, commitTimeMs)) {
      scan(visitor);
      return;
    }
    consumer.seekToBeginning(List.of(topic.partition));
    scan(visitor);
  }

  /**
   * Seeks to the first record stamped at or after {@code commitTimeMs} (a batch is shipped after it
   * was committed, so the batch of {@code after} + 1 is usually there or later), and keeps that
   * position only if the first batch found there is not later than {@code after} + 1.
   */
  private boolean seekNear(long after, long commitTimeMs) {
    Map<org.apache.kafka.common.TopicPartition, OffsetAndTimestamp> found =
        consumer.offsetsForTimes(Map.of(topic.partition, commitTimeMs));
    OffsetAndTimestamp at = found.get(topic.partition);
    if (at == null) {
      return false;
    }
    consumer.seek(topic.partition, at.offset());
    Archived[] first = new Archived[1];
    scan(
        a -> {
          first[0] = a;
          return false;
        });
    if (first[0] == null || first[0].batch().getRevision() > after + 1) {
      return false;
    }
    consumer.seek(topic.partition, at.offset());
    return true;
  }

  /** Reads batches from the consumer's position to the end as it is now. */
  private void scan(Visitor visitor) {
    long end = consumer.endOffsets(List.of(topic.partition)).get(topic.partition);
    ChangeRecords.Assembly assembly = new ChangeRecords.Assembly();
    boolean aligned = false; // whether a batch's first part has been seen
    long deadline = System.nanoTime() + STALL.toNanos();
    while (consumer.position(topic.partition) < end) {
      List<ConsumerRecord<String, byte[]>> records = consumer.poll(POLL).records(topic.partition);
      if (records.isEmpty()) {
        if (System.nanoTime() > deadline) {
          throw ChangeTopic.unavailable("read " + topic.name, null);
        }
        continue;
      }
      deadline = System.nanoTime() + STALL.toNanos();
      for (ConsumerRecord<String, byte[]> r : records) {
        if (r.offset() >= end) {
          return;
        }
        ChangeRecord record = ChangeRecords.parse(r.value(), topic.name, r.offset());
        if (!aligned && record.getPart() != 0) {
          continue; // The rest of a batch whose first part is not read (retention, or a seek).
        }
        aligned = true;
        ChangeBatch batch;
        try {
          batch = assembly.add(record);
        } catch (MeridianException e) {
          throw new MeridianException(
              e.code(), topic.name + " offset " + r.offset() + ": " + e.getMessage(), e.details());
        }
        if (batch != null && !visitor.visit(new Archived(batch, r.offset()))) {
          return;
        }
      }
    }
  }

  @Override
  public void close() {
    consumer.close();
  }
}
