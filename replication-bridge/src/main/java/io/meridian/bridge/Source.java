package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeRecord;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.ReplicationStatusResponse;
import io.meridian.api.v1.ReportShippedRequest;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.client.MeridianClient;
import io.meridian.client.Stubs;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source side of one shard: reads the PRIMARY region's change feed and publishes each batch to
 * the shard's topic, in Kafka transactions, exactly once.
 *
 * <p>Each session starts with {@code initTransactions} under a transactional id derived from the
 * shard, which fences any older copy of this bridge and aborts its open transaction; then it reads
 * the topic's last committed record and opens the feed right after it, so nothing is skipped or
 * shipped twice. Any failure (Kafka, the cluster, the feed) ends the session; the next one starts
 * after a backoff from what the topic holds. A fenced source (a newer copy took over) stops.
 */
final class Source implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Source.class);

  /** Batches per Kafka transaction at most, and how long a transaction waits to fill. */
  private static final int MAX_RUN = 512;

  private static final Duration LINGER = Duration.ofMillis(20);
  private static final long REPORT_INTERVAL_MS = 1000;
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);

  /**
   * How long closing a session's producer may wait for its requests. Kafka's own close waits
   * without bound, so with the broker down a failed session would never end (nor report it).
   */
  private static final Duration PRODUCER_CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final int shard;
  private final MeridianClient primary;
  private final BridgeConfig config;
  private final ChangeTopic topic;
  private final ShardLag lag;
  private final LongSupplier clock;
  private final Counter shippedBatches;
  private final Counter sessions;
  private final Progress progress;
  private volatile boolean closed;
  private volatile Position shipped = Position.getDefaultInstance();

  Source(
      int shard,
      MeridianClient primary,
      BridgeConfig config,
      ShardLag lag,
      LongSupplier clock,
      MeterRegistry metrics,
      Progress progress) {
    this.shard = shard;
    this.primary = primary;
    this.config = config;
    this.topic = new ChangeTopic(shard, config.kafka());
    this.lag = lag;
    this.clock = clock;
    this.progress = progress;
    String tag = Integer.toString(shard);
    this.shippedBatches =
        Counter.builder("meridian.bridge.shipped.batches")
            .description("Change batches shipped from the primary to Kafka")
            .tag("shard", tag)
            .register(metrics);
    this.sessions =
        Counter.builder("meridian.bridge.source.sessions")
            .description("Sessions opened on the primary's change feed")
            .tag("shard", tag)
            .register(metrics);
    Gauge.builder("meridian.bridge.shipped.revision", this, s -> s.shipped.getRevision())
        .description("The last primary revision committed to Kafka")
        .tag("shard", tag)
        .register(metrics);
  }

  /** The last position committed to Kafka by this source. */
  Position shipped() {
    return shipped;
  }

  void close() {
    closed = true;
  }

  @Override
  public void run() {
    SessionLoop.run(config.retry(), () -> closed, this::session, this::failed);
  }

  private SessionLoop.Next failed(RuntimeException e, int attempt) {
    Throwable fence = fencing(e);
    if (fence != null) {
      // A new session would call initTransactions again and fence the copy that fenced us: two
      // copies would take turns. Stop for good instead.
      progress.stopped(
          "fenced by a newer copy of this bridge (or Kafka refused its transactional id): "
              + fence.getClass().getSimpleName());
      log.error(
          "shard={} source stopped at revision {}: fenced: {}",
          shard,
          shipped.getRevision(),
          fence.toString());
      return SessionLoop.Next.STOP;
    }
    String why = e instanceof MeridianException m ? m.getMessage() : e.toString();
    boolean compacted = e instanceof MeridianException m && m.code() == Error.Code.COMPACTED;
    progress.failing(
        compacted
            ? "the primary compacted past the topic's end: seed standbys from a snapshot"
            : why);
    log.warn(
        "shard={} source session {} failed at revision {}, retrying: {}",
        shard,
        attempt,
        shipped.getRevision(),
        why);
    return SessionLoop.Next.RETRY;
  }

  /**
   * The exception, in {@code e}'s cause chain, by which Kafka says this producer was fenced or may
   * not use its transactional id; null if there is none. Kafka 4 transactions say it in several
   * ways: when a newer copy's {@code initTransactions} aborts our open transaction, our next call
   * fails with {@link InvalidTxnStateException}, later ones with {@link ProducerFencedException} or
   * {@link InvalidProducerEpochException}.
   */
  static Throwable fencing(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof ProducerFencedException
          || c instanceof InvalidProducerEpochException
          || c instanceof InvalidTxnStateException
          || c instanceof OutOfOrderSequenceException
          || c instanceof AuthorizationException) {
        return c;
      }
    }
    return null;
  }

  private void session() throws InterruptedException {
    sessions.increment();
    KafkaProducer<String, byte[]> producer = producer();
    try {
      producer.initTransactions();
      topic.ensure();
      Position after = resumePosition();
      shipped = after;
      log.info(
          "shard={} source resumes after revision {} (epoch {}) into {}",
          shard,
          after.getRevision(),
          after.getEpoch(),
          topic.name);
      long lastReport = 0;
      boolean published = false;
      try (FeedReader feed = FeedReader.open(primary.stubs().feed(), after)) {
        progress.running();
        while (!closed) {
          List<ChangeBatch> run = feed.take(MAX_RUN, LINGER);
          if (!run.isEmpty()) {
            publish(producer, run);
            published = true;
          }
          long now = clock.getAsLong();
          if (now - lastReport >= REPORT_INTERVAL_MS) {
            lastReport = now;
            probeHead();
            // Every report follows a transaction this producer committed since the last one: the
            // primary keeps its write authority only while such reports come (a fenced or cut-off
            // source fails here and stops reporting).
            if (!published) {
              heartbeat(producer);
            }
            published = false;
            reportShipped();
          }
        }
      }
    } finally {
      producer.close(PRODUCER_CLOSE_TIMEOUT);
    }
  }

  private void publish(KafkaProducer<String, byte[]> producer, List<ChangeBatch> run)
      throws InterruptedException {
    producer.beginTransaction();
    String key = Integer.toString(shard);
    for (ChangeBatch batch : run) {
      lag.seen(batch.getRevision(), batch.getCommitTimeMs());
      for (ChangeRecord record : ChangeRecords.encode(batch, config.kafka().maxRecordBytes())) {
        Future<RecordMetadata> sent =
            producer.send(new ProducerRecord<>(topic.name, 0, key, record.toByteArray()));
        // Other failures surface in commitTransaction. A send that failed at once (no metadata
        // within max.block.ms: the broker is gone) ends the session now; otherwise every later
        // send of the run would wait max.block.ms again, and the source look healthy meanwhile.
        if (sent.isDone()) {
          try {
            sent.get();
          } catch (ExecutionException e) {
            throw new KafkaException("send to " + topic.name + " failed", e.getCause());
          }
        }
      }
    }
    producer.commitTransaction();
    ChangeBatch last = run.get(run.size() - 1);
    shipped =
        Position.newBuilder().setEpoch(last.getEpoch()).setRevision(last.getRevision()).build();
    shippedBatches.increment(run.size());
  }

  /**
   * A transaction with no record that still goes through Kafka's transaction coordinator (an offset
   * commit of a group of its own), so it fails if this producer was fenced or Kafka is out of
   * reach. An empty transaction would not reach the coordinator at all.
   */
  private void heartbeat(KafkaProducer<String, byte[]> producer) {
    producer.beginTransaction();
    producer.sendOffsetsToTransaction(
        Map.of(topic.partition, new OffsetAndMetadata(0)),
        new ConsumerGroupMetadata(config.kafka().transactionalIdPrefix() + "-heartbeat-" + shard));
    producer.commitTransaction();
  }

  /** After the topic's last record; an empty topic starts after the primary's compaction. */
  private Position resumePosition() {
    Optional<ChangeRecord> last = topic.last();
    if (last.isPresent()) {
      return Position.newBuilder()
          .setEpoch(last.get().getEpoch())
          .setRevision(last.get().getRevision())
          .build();
    }
    StatusResponse status =
        Progress.await(
            Stubs.call(
                primary.stubs().cluster().withDeadlineAfter(10, TimeUnit.SECONDS)::status,
                StatusRequest.getDefaultInstance(),
                true));
    long compacted =
        status.getShardsList().stream()
            .filter(s -> s.getHeader().getShard() == shard)
            .mapToLong(s -> s.getCompactRevision())
            .findFirst()
            .orElse(0);
    return Position.newBuilder().setRevision(compacted).build();
  }

  /** The primary's revision now, for lag, even while Kafka holds shipping back. */
  private void probeHead() {
    try {
      ReplicationStatusResponse status =
          Progress.await(
              Stubs.call(
                  primary
                          .stubs()
                          .replication()
                          .withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                      ::replicationStatus,
                  ReplicationStatusRequest.getDefaultInstance(),
                  true));
      lag.seen(status.getState().getRevision(), status.getState().getCommitTimeMs());
    } catch (RuntimeException e) {
      log.debug("shard={} primary status probe failed: {}", shard, e.toString());
    }
  }

  /** Tells the primary how far it may compact; a failure only delays that. */
  private void reportShipped() {
    Position position = shipped;
    Stubs.call(
            primary
                    .stubs()
                    .replication()
                    .withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                ::reportShipped,
            ReportShippedRequest.newBuilder().setShipped(position).build(),
            true)
        .whenComplete(
            (r, t) -> {
              if (t != null) {
                log.warn(
                    "shard={} could not report shipped revision {}: {}",
                    shard,
                    position.getRevision(),
                    t.toString());
              }
            });
  }

  private KafkaProducer<String, byte[]> producer() {
    Map<String, Object> props = ChangeTopic.common(config.kafka());
    props.put(
        ProducerConfig.TRANSACTIONAL_ID_CONFIG,
        config.kafka().transactionalIdPrefix() + "-shard-" + shard);
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, config.kafka().transactionTimeoutMs());
    props.put(
        ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
        config.kafka().maxRecordBytes() + ChangeTopic.RECORD_OVERHEAD_BYTES);
    // A blocked send or commit (Kafka down) fails the session instead of hanging it.
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
    props.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    return new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
  }
}
