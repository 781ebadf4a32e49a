package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.internal.NodeClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a lease's holder was promised holds across leader changes and clock steps. */
@Tag("cluster")
class LeaseSafetyTest {
  @TempDir Path dir;

  private static boolean leaseExists(DevCluster cluster, int member, long lease) {
    return cluster.node(member).replicas().get(0).read(s -> s.lease(lease).isPresent());
  }

  private static long grant(Clients c, long ttlSeconds) {
    return c.lease()
        .grant(LeaseGrantRequest.newBuilder().setNamespace("s").setTtl(ttlSeconds).build())
        .getId();
  }

  /**
   * A checkpoint recorded a short remainder; a keep-alive then renewed the lease to its full TTL,
   * and the leader died before the next checkpoint. The new leader must honour the keep-alive, not
   * the older, shorter remainder.
   */
  @Test
  void aKeepAliveAfterACheckpointIsHonouredByTheNextLeader() throws Exception {
    Map<String, Map<String, Object>> o = TestClusters.fast();
    o.put("lease", new HashMap<>(Map.of("checkpoint-interval-ms", 3000)));
    try (DevCluster cluster = TestClusters.start(dir, o)) {
      int leader = TestClusters.awaitReady(cluster);
      int other = (leader + 1) % 3;
      Clients c = Clients.of(cluster.node(other));
      long ttlMs = 12_000;
      long lease = grant(c, ttlMs / 1000);
      ShardReplica watched = cluster.node(other).replicas().get(0);
      // Unrenewed, the lease is checkpointed every 3 s; wait for a remainder of at most half its
      // TTL (there are at least 3 s left then).
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                long remainder = watched.read(s -> s.checkpointedRemainder(lease));
                return remainder > 0 && remainder <= ttlMs / 2 + 500;
              });
      long sent = System.nanoTime();
      c.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(lease).build());
      cluster.stop(leader);
      TestClusters.awaitReady(cluster);

      // No keep-alive from here on: the lease lives at least until the promise (less a margin).
      long promisedUntil = sent + TimeUnit.MILLISECONDS.toNanos(ttlMs - 1000);
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                assertThat(leaseExists(cluster, other, lease))
                    .as(
                        "lease alive %d ms after its keep-alive",
                        (System.nanoTime() - sent) / 1_000_000)
                    .isTrue();
                return System.nanoTime() >= promisedUntil;
              });
      // And it still expires: TTL + an election timeout after the leader change at most.
      await().atMost(Duration.ofSeconds(20)).until(() -> !leaseExists(cluster, other, lease));
    }
  }

  /**
   * The leader's wall clock steps 60 s forward, then 120 s back. Lease deadlines run on the
   * monotonic clock: a renewed lease stays alive, an abandoned one expires on time.
   */
  @Test
  void aStepOfTheWallClockNeitherExpiresNorExtendsLeases() throws Exception {
    AtomicLong offset = new AtomicLong();
    NodeClock stepped = () -> System.currentTimeMillis() + offset.get();
    try (DevCluster cluster =
        DevCluster.plan(dir, 3, "test", TestClusters.fast()).withClock(stepped).start()) {
      int leader = TestClusters.awaitReady(cluster);
      Clients c = Clients.of(cluster.node(leader));
      long lease = grant(c, 5);

      offset.addAndGet(60_000);
      long renewUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () -> {
                // Throws LEASE_NOT_FOUND if the step expired it.
                c.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(lease).build());
                return System.nanoTime() >= renewUntil;
              });
      assertThat(leaseExists(cluster, leader, lease)).isTrue();

      offset.addAndGet(-120_000);
      long lastRenewal = System.nanoTime();
      c.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(lease).build());
      await()
          .atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> !leaseExists(cluster, leader, lease));
      assertThat(System.nanoTime() - lastRenewal)
          .as("not expired before its TTL")
          .isGreaterThanOrEqualTo(TimeUnit.SECONDS.toNanos(5));
    }
  }
}
