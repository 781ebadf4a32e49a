package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeRecord;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.ReplicationStatusResponse;
import io.meridian.api.v1.ReportShippedRequest;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
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
import java.util.concurrent.atomic.AtomicLong;
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
 * <p>Each session first checks that its region may ship at all (the epoch guard): the region must
 * be PRIMARY, at an epoch no older than the topic's last record; otherwise the session fails with
 * FENCED before touching the transactional id, so a fenced primary never fences the rightful
 * source. Then {@code initTransactions} under a transactional id derived from the shard fences any
 * older copy of this bridge and aborts its open transaction; the session reads the topic's last
 * committed record and opens the feed right after it, so nothing is skipped or shipped twice. Any
 * failure (Kafka, the cluster, the feed) ends the session; the next one starts after a backoff from
 * what the topic holds. A source fenced by Kafka (a newer copy took over) stops; one refused by the
 * guard stops too when it follows roles (its arrangement decides what comes next), and otherwise
 * retries slowly (the region may be promoted again).
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
  static final Duration PRODUCER_CLOSE_TIMEOUT = Duration.ofSeconds(5);

  /**
   * How long a closed source's thread may take to end on its own: the longest wait of one loop step
   * (a call to the primary, or a send or commit blocked on Kafka: both bounded by {@code
   * CALL_TIMEOUT}) and then the producer's bounded close, with room to spare. Interrupting it
   * sooner lands in the producer's close, which then logs an ERROR and leaves it half-closed.
   */
  static final Duration STOP_GRACE = CALL_TIMEOUT.plus(PRODUCER_CLOSE_TIMEOUT).plusSeconds(3);

  private final int shard;
  private final String region;
  private final boolean followsRoles;
  private final MeridianClient primary;
  private final BridgeConfig config;
  private final ChangeTopic topic;
  private final ShardLag lag;
  private final LongSupplier clock;
  private final Counter shippedBatches;
  private final Counter sessions;
  private final Progress progress;
  private final AtomicLong shippedRevision;
  private volatile boolean closed;
  private volatile Position shipped = Position.getDefaultInstance();

  /**
   * @param region the configured region of a role-following shard, null for a static {@code source}
   * @param followsRoles whether an arrangement owns this source (a refusal then stops it)
   * @param shippedRevision the shard's shipped revision, for its gauge: one holder per shard
   */
  Source(
      int shard,
      String region,
      boolean followsRoles,
      MeridianClient primary,
      BridgeConfig config,
      ShardLag lag,
      LongSupplier clock,
      MeterRegistry metrics,
      AtomicLong shippedRevision,
      Progress progress) {
    this.shard = shard;
    this.region = region;
    this.shippedRevision = shippedRevision;
    this.followsRoles = followsRoles;
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
    // One gauge per shard, on the shard's holder: the successive sources of a role-following shard
    // all report into it (a second registration returns the first gauge).
    Gauge.builder("meridian.bridge.shipped.revision", shippedRevision, AtomicLong::get)
        .description("The last primary revision committed to Kafka")
        .tag("shard", tag)
        .register(metrics);
  }

  /** The last position committed to Kafka by this source. */
  Position shipped() {
    return shipped;
  }

  private void shipped(Position position) {
    shipped = position;
    shippedRevision.set(position.getRevision());
  }

  /** The configured region shipped from; null for a static {@code source}. */
  String region() {
    return region;
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
    if (e instanceof MeridianException m && m.code() == Error.Code.FENCED) {
      // The epoch guard: this region is not the shard's primary (any more). Retrying at once
      // would change nothing; a static source waits for the region to be promoted again.
      progress.stopped(why);
      log.error("shard={} source refused to start: {}", shard, why);
      return followsRoles ? SessionLoop.Next.STOP : SessionLoop.Next.RETRY_SLOWLY;
    }
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
    topic.ensure();
    guard();
    KafkaProducer<String, byte[]> producer = producer();
    try {
      producer.initTransactions();
      Position after = resumePosition();
      shipped(after);
      log.info(
          "shard={} source resumes after revision {} (epoch {}) into {}",
          shard,
          after.getRevision(),
          after.getEpoch(),
          topic.name);
      long lastReport = 0;
      // initTransactions just proved this producer owns the shard's id: the first report needs
      // no heartbeat.
      boolean published = true;
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
    shipped(
        Position.newBuilder().setEpoch(last.getEpoch()).setRevision(last.getRevision()).build());
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

  /**
   * The epoch guard, before {@code initTransactions} (which would fence whichever source holds the
   * transactional id): the region must be PRIMARY at an epoch no older than the topic's last
   * record. A region that was fenced and another promoted at a newer epoch fails both.
   *
   * @throws MeridianException FENCED naming the topic's epoch, the region and its role and epoch
   */
  private void guard() {
    ResponseHeader header =
        Progress.await(
                Stubs.call(
                    primary
                            .stubs()
                            .replication()
                            .withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                        ::replicationStatus,
                    ReplicationStatusRequest.getDefaultInstance(),
                    true))
            .getHeader();
    Optional<ChangeRecord> last = topic.last();
    if (last.isPresent() && last.get().getFencedBelowEpoch() > header.getEpoch()) {
      throw MeridianException.of(
          Error.Code.FENCED,
          "topic %s was fenced by a failover to epoch %d; region %s at epoch %d may not ship"
              + " (rejoin it as a standby)",
          topic.name,
          last.get().getFencedBelowEpoch(),
          header.getRegion(),
          header.getEpoch());
    }
    if (last.isPresent() && last.get().getEpoch() > header.getEpoch()) {
      throw MeridianException.of(
          Error.Code.FENCED,
          "topic %s is at epoch %d; region %s at epoch %d is no longer the shard's primary",
          topic.name,
          last.get().getEpoch(),
          header.getRegion(),
          header.getEpoch());
    }
    if (header.getRole() != Role.PRIMARY) {
      throw MeridianException.of(
          Error.Code.FENCED,
          "region %s is %s at epoch %d (expected: PRIMARY): a source there would fence the"
              + " shard's rightful source",
          header.getRegion(),
          header.getRole(),
          header.getEpoch());
    }
  }

  /** After the topic's last record; an empty topic starts after the primary's compaction. */
  private Position resumePosition() {
    // A topic holding only a fence marker holds no batch: it starts as an empty one.
    Optional<ChangeRecord> last = topic.last().filter(r -> r.getRevision() > 0);
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
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) CALL_TIMEOUT.toMillis());
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
    props.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    return new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
  }
}
