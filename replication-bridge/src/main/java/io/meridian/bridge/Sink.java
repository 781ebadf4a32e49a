package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ApplyReplicatedResponse;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.SourcePosition;
import io.meridian.client.MeridianClient;
import io.meridian.client.Stubs;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink side of one shard and standby region: reads the shard's topic ({@code read_committed})
 * and applies its batches to the STANDBY cluster in order with {@code ApplyReplicated}.
 *
 * <p>The standby records the Kafka offset of each applied run in the same committed command, so the
 * sink keeps no state of its own: each session asks the standby where it is and seeks to the
 * recorded offset + 1 (the topic's start for a standby that never applied from it, skipping what a
 * snapshot already gave it). Whatever fails, the next session resumes exactly there.
 */
final class Sink implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Sink.class);

  /** One ApplyReplicated carries at most this many batches, or about this many bytes. */
  private static final int MAX_RUN = 256;

  private static final int MAX_RUN_BYTES = 1 << 20;
  private static final Duration POLL = Duration.ofMillis(100);
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(15);

  private final int shard;
  private final String region;
  private final MeridianClient standby;
  private final BridgeConfig config;
  private final ChangeTopic topic;
  private final ShardLag lag;
  private final Progress progress;
  private final Counter appliedBatches;
  private volatile boolean closed;

  Sink(
      int shard,
      String region,
      MeridianClient standby,
      BridgeConfig config,
      ShardLag lag,
      MeterRegistry metrics,
      Progress progress) {
    this.shard = shard;
    this.region = region;
    this.standby = standby;
    this.config = config;
    this.topic = new ChangeTopic(shard, config.kafka());
    this.lag = lag;
    this.progress = progress;
    this.appliedBatches =
        Counter.builder("meridian.bridge.applied.batches")
            .description("Change batches the standby region applied")
            .tags("shard", Integer.toString(shard), "region", region)
            .register(metrics);
  }

  void close() {
    closed = true;
  }

  @Override
  public void run() {
    SessionLoop.run(config.retry(), () -> closed, this::session, this::failed);
  }

  private SessionLoop.Next failed(RuntimeException e, int attempt) {
    String why = e instanceof MeridianException m ? m.getMessage() : e.toString();
    if (e instanceof MeridianException m && needsOperator(m)) {
      // Retried slowly: an operator may fix the standby (rejoin, reseed) without restarting us.
      progress.stopped(why);
      log.error(
          "shard={} region={} sink halted at revision {}: {}",
          shard,
          region,
          lag.appliedRevision(region),
          why);
      return SessionLoop.Next.RETRY_SLOWLY;
    }
    progress.failing(why);
    log.warn(
        "shard={} region={} sink session {} failed at revision {}, retrying: {}",
        shard,
        region,
        attempt,
        lag.appliedRevision(region),
        why);
    return SessionLoop.Next.RETRY;
  }

  /** Refusals that retrying cannot cure. */
  private static boolean needsOperator(MeridianException e) {
    return switch (e.code()) {
      case CHAIN_MISMATCH, FENCED, NOT_STANDBY, HISTORY_DIVERGED, REVISION_GAP, INTERNAL -> true;
      default -> false;
    };
  }

  private void session() {
    ReplicationState state =
        Progress.await(
                Stubs.call(
                    standby
                            .stubs()
                            .replication()
                            .withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                        ::replicationStatus,
                    ReplicationStatusRequest.getDefaultInstance(),
                    true))
            .getState();
    long applied = state.getRevision();
    lag.applied(region, applied);
    try (KafkaConsumer<String, byte[]> consumer = ChangeTopic.consumer(config.kafka())) {
      consumer.assign(List.of(topic.partition));
      if (state.getSource().getTopic().equals(topic.name)) {
        consumer.seek(topic.partition, state.getSource().getOffset() + 1);
      } else {
        consumer.seekToBeginning(List.of(topic.partition));
      }
      log.info(
          "shard={} region={} sink resumes after revision {} at {} offset {}",
          shard,
          region,
          applied,
          topic.name,
          consumer.position(topic.partition));
      progress.running();
      ChangeRecords.Assembly assembly = new ChangeRecords.Assembly();
      List<ChangeBatch> run = new ArrayList<>();
      long runBytes = 0;
      long runOffset = -1;
      while (!closed) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL)) {
          ChangeBatch batch = assembly.add(ChangeRecords.parse(r.value(), topic.name, r.offset()));
          if (batch == null) {
            continue;
          }
          lag.seen(batch.getRevision(), batch.getCommitTimeMs());
          if (batch.getRevision() <= applied) {
            continue; // The standby has it (from a snapshot, or an earlier run).
          }
          run.add(batch);
          runBytes += batch.getSerializedSize();
          runOffset = r.offset();
          if (run.size() >= MAX_RUN || runBytes >= MAX_RUN_BYTES) {
            applied = apply(run, runOffset);
            run.clear();
            runBytes = 0;
          }
        }
        if (!run.isEmpty()) {
          applied = apply(run, runOffset);
          run.clear();
          runBytes = 0;
        }
      }
    }
  }

  /** Applies one run; returns the standby's revision after it. */
  private long apply(List<ChangeBatch> run, long offset) {
    long last = run.get(run.size() - 1).getRevision();
    ApplyReplicatedResponse response =
        Progress.await(
            Stubs.call(
                standby
                        .stubs()
                        .replication()
                        .withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    ::applyReplicated,
                ApplyReplicatedRequest.newBuilder()
                    .addAllBatches(run)
                    .setSource(
                        SourcePosition.newBuilder()
                            .setTopic(topic.name)
                            .setPartition(topic.partition.partition())
                            .setOffset(offset))
                    .setLag(lag.after(last))
                    .build(),
                true));
    long revision = response.getState().getRevision();
    lag.applied(region, revision);
    appliedBatches.increment(response.getApplied());
    return revision;
  }
}
