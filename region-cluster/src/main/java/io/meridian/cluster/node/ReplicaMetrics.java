package io.meridian.cluster.node;

import io.meridian.cluster.state.ShardState;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

/** The gauges and distributions one shard replica reports, tagged with its shard. */
final class ReplicaMetrics {
  private ReplicaMetrics() {}

  /** A distribution of counts (entries, reads) per event, registered under {@code name}. */
  static DistributionSummary summary(
      MeterRegistry metrics, String name, String description, Tags tags) {
    return DistributionSummary.builder(name).description(description).tags(tags).register(metrics);
  }

  /** Registers the gauges that read {@code replica}'s state and queues when scraped. */
  static void gauges(MeterRegistry metrics, Tags tags, ShardReplica replica) {
    metrics.gauge("meridian.leader.reads.waiting", tags, replica, r -> r.leaderReads().waiting());
    metrics.gauge("meridian.propose.waiting", tags, replica, r -> r.proposals().waiting());
    metrics.gauge("meridian.leases", tags, replica, r -> r.read(s -> s.stats().leases()));
    metrics.gauge(
        "meridian.lock.waiters", tags, replica, r -> r.read(s -> s.stats().lockWaiters()));
    metrics.gauge(
        "meridian.lock.holders", tags, replica, r -> r.read(s -> s.stats().lockHolders()));
    metrics.gauge("meridian.revision", tags, replica, r -> r.read(ShardState::revision));
    metrics.gauge(
        "meridian.raft.applied.index", tags, replica, r -> r.info().getLastAppliedIndex());
    metrics.gauge("meridian.raft.commit.index", tags, replica, ShardReplica::commitIndex);
    metrics.gauge("meridian.state.bytes", tags, replica, r -> r.read(s -> s.stats().stateBytes()));
    metrics.gauge("meridian.watch.watches", tags, replica, r -> r.watchHub().watches());
    metrics.gauge(
        "meridian.registry.instances", tags, replica, r -> r.read(ShardState::registryInstances));
    metrics.gauge(
        "meridian.registry.self.preservation",
        tags,
        replica,
        r -> r.read(s -> s.selfPreservation() ? 1 : 0));
    metrics.gauge(
        "meridian.registry.renewal.ratio", tags, replica, r -> r.selfPreservation().lastRatio());
    metrics.gauge("meridian.feed.feeds", tags, replica, r -> r.changeFeed().feeds());
  }
}
