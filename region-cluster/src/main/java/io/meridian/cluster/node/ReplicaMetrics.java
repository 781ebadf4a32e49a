package io.meridian.cluster.node;

import io.meridian.api.v1.Role;
import io.meridian.cluster.state.ShardState;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.function.ToDoubleFunction;

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
    Gauges g = new Gauges(metrics, tags, replica);
    g.add(
        "meridian.leader.reads.waiting",
        "Leader-bound reads queued for the next Raft read",
        r -> r.leaderReads().waiting());
    g.add(
        "meridian.propose.waiting",
        "Client writes queued for the next Raft entry",
        r -> r.proposals().waiting());
    g.add(
        "meridian.leases",
        "Leases granted and not yet expired or revoked",
        r -> r.read(s -> s.stats().leases()));
    g.add(
        "meridian.lock.waiters",
        "Lock acquires waiting for a holder to release",
        r -> r.read(s -> s.stats().lockWaiters()));
    g.add("meridian.lock.holders", "Locks held", r -> r.read(s -> s.stats().lockHolders()));
    g.add(
        "meridian.revision",
        "The shard's revision in this member's applied state",
        r -> r.read(ShardState::revision));
    g.add(
        "meridian.raft.applied.index",
        "The last Raft log index this member applied",
        r -> r.info().getLastAppliedIndex());
    g.add(
        "meridian.raft.commit.index",
        "The last Raft log index this member knows committed",
        ShardReplica::commitIndex);
    g.add(
        "meridian.state.bytes",
        "Bytes counted against the shard's quota: retained versions and leases",
        r -> r.read(s -> s.stats().stateBytes()));
    g.add("meridian.watch.watches", "Watches open on this member", r -> r.watchHub().watches());
    g.add(
        "meridian.registry.instances",
        "Registered service instances",
        r -> r.read(ShardState::registryInstances));
    g.add(
        "meridian.registry.self.preservation",
        "1 while the registry's self-preservation suspends lease expiry, else 0",
        r -> r.read(s -> s.selfPreservation() ? 1 : 0));
    g.add(
        "meridian.registry.renewal.ratio",
        "Registry heartbeats received over those promised in the last check window",
        r -> r.selfPreservation().lastRatio());
    g.add(
        "meridian.write.authority",
        "1 while this region cluster takes writes: PRIMARY, and its shipping keeps up (see"
            + " replication.write-authority-ms), else 0",
        r -> r.read(s -> s.role() == Role.PRIMARY && s.writeAuthorityLost().isEmpty() ? 1 : 0));
    g.add(
        "meridian.region.operation.open",
        "1 while a failover, switchover or rejoin of the shard is recorded here and not finished",
        r -> r.read(s -> s.openOperation().isPresent() ? 1 : 0));
    g.add(
        "meridian.region.operation.last.finished.seconds",
        "When the last failover, switchover or rejoin recorded here finished (seconds since the"
            + " epoch; 0 if none did)",
        r -> r.read(s -> s.lastFinishedOperationMs() / 1000.0));
    g.add(
        "meridian.feed.feeds",
        "Change feeds (replication sources) open on this member",
        r -> r.changeFeed().feeds());
  }

  private record Gauges(MeterRegistry metrics, Tags tags, ShardReplica replica) {
    void add(String name, String description, ToDoubleFunction<ShardReplica> value) {
      Gauge.builder(name, replica, value).description(description).tags(tags).register(metrics);
    }
  }
}
