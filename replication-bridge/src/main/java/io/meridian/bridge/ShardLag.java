package io.meridian.bridge;

import io.meridian.api.v1.ReplicationLag;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * How far each standby region of one shard is behind its primary: revisions behind (the primary's
 * revision as last seen minus the standby's applied revision) and milliseconds behind (how long ago
 * the oldest revision the standby lacks was committed on the primary; 0 when it lacks none).
 *
 * <p>The primary's revision and commit times come from whatever this bridge sees: the change feed
 * and status probes of its source, the records its sinks consume. The commit times of revisions
 * every standby has are dropped; at most {@link #MAX_TIMES} are kept, so far behind a standby the
 * milliseconds are a lower bound.
 *
 * <p>The standby regions are fixed for a static shard; a role-following shard starts and stops
 * tracking regions as they become and stop being standbys ({@link #track}, {@link #untrack}).
 */
final class ShardLag {
  static final int MAX_TIMES = 100_000;

  private final int shard;
  private final LongSupplier clock;
  private final AtomicLong head = new AtomicLong();
  private final ConcurrentSkipListMap<Long, Long> commitTimes = new ConcurrentSkipListMap<>();
  private final Map<String, AtomicLong> applied = new ConcurrentHashMap<>();
  private final Map<String, List<Meter>> gauges = new ConcurrentHashMap<>();
  private final MeterRegistry metrics;

  ShardLag(int shard, Iterable<String> regions, LongSupplier clock, MeterRegistry metrics) {
    this.shard = shard;
    this.clock = clock;
    this.metrics = metrics;
    for (String region : regions) {
      track(region);
    }
  }

  /** Starts measuring {@code region} as a standby (from applied revision 0 until it reports). */
  void track(String region) {
    if (applied.putIfAbsent(region, new AtomicLong()) != null) {
      return;
    }
    Gauge revisions =
        Gauge.builder("meridian.bridge.lag.revisions", () -> revisionsBehind(region))
            .description("Revisions the standby region lacks")
            .tags("shard", Integer.toString(shard), "region", region)
            .register(metrics);
    // Seconds, Prometheus's base unit: meridian_bridge_lag_seconds.
    Gauge seconds =
        Gauge.builder("meridian.bridge.lag", () -> msBehind(region) / 1000.0)
            .description("Seconds since the oldest revision the standby lacks was committed")
            .tags("shard", Integer.toString(shard), "region", region)
            .baseUnit("seconds")
            .register(metrics);
    gauges.put(region, List.of(revisions, seconds));
  }

  /** Stops measuring {@code region}: it is no longer a standby. */
  void untrack(String region) {
    List<Meter> meters = gauges.remove(region);
    if (meters != null) {
      meters.forEach(metrics::remove);
    }
    applied.remove(region);
  }

  /**
   * The source moved to another region: forget the old primary's revision and commit times, which a
   * lossy failover may never reach again; the new source's feed and probes report its own.
   */
  void sourceMoved() {
    head.set(0);
    commitTimes.clear();
  }

  int shard() {
    return shard;
  }

  /** The primary committed {@code revision} at {@code commitTimeMs}. */
  void seen(long revision, long commitTimeMs) {
    head.accumulateAndGet(revision, Math::max);
    if (!applied.isEmpty() && revision > lowestApplied() && commitTimeMs > 0) {
      commitTimes.put(revision, commitTimeMs);
      while (commitTimes.size() > MAX_TIMES) {
        commitTimes.pollFirstEntry();
      }
    }
  }

  /** {@code region}'s standby has applied every revision up to {@code revision}. */
  void applied(String region, long revision) {
    AtomicLong a = applied.get(region);
    if (a == null) {
      return; // A sink that is being closed: its region is no longer a standby.
    }
    a.accumulateAndGet(revision, Math::max);
    commitTimes.headMap(lowestApplied(), true).clear();
  }

  /** The primary's revision as last seen. */
  long head() {
    return head.get();
  }

  long appliedRevision(String region) {
    AtomicLong a = applied.get(region);
    return a == null ? 0 : a.get();
  }

  long revisionsBehind(String region) {
    return Math.max(0, head.get() - appliedRevision(region));
  }

  long msBehind(String region) {
    long since = behindSince(appliedRevision(region));
    return since == 0 ? 0 : Math.max(0, clock.getAsLong() - since);
  }

  /** What a sink tells its standby along with batches up to {@code revision}. */
  ReplicationLag after(long revision) {
    return ReplicationLag.newBuilder()
        .setRevisions(Math.max(0, head.get() - revision))
        .setBehindSinceMs(behindSince(revision))
        .build();
  }

  private long behindSince(long appliedRevision) {
    if (head.get() <= appliedRevision) {
      return 0;
    }
    Map.Entry<Long, Long> next = commitTimes.ceilingEntry(appliedRevision + 1);
    return next == null ? 0 : next.getValue();
  }

  private long lowestApplied() {
    long low = Long.MAX_VALUE;
    for (AtomicLong a : applied.values()) {
      low = Math.min(low, a.get());
    }
    return low == Long.MAX_VALUE ? 0 : low;
  }
}
