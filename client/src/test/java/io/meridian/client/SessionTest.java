package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.testing.LocalRegion;
import io.meridian.testing.TcpProxy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sessions against a real 3-node cluster. */
@Tag("cluster")
class SessionTest {
  @TempDir Path dir;

  private static MeridianClient client(LocalRegion cluster) {
    return LocalCluster.client(cluster).attemptTimeout(Duration.ofSeconds(1)).build();
  }

  @Test
  void aSessionOutlivesALeaderKillAndItsLeaseStaysAlive() throws Exception {
    try (LocalRegion cluster = LocalCluster.start(dir);
        MeridianClient client = client(cluster);
        Session session = client.leases().session("jobs", Duration.ofSeconds(3))) {
      int leader = cluster.awaitReady();
      cluster.kill(leader);
      cluster.awaitReady();
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(9); // three TTLs
      await()
          .atMost(Duration.ofSeconds(15))
          .until(
              () -> {
                assertThat(session.lost()).isNotDone();
                return System.nanoTime() > until;
              });
      assertThat(session.isAlive()).isTrue();
      assertThat(client.leases().timeToLive(session.leaseId()).getTtl()).isPositive();
    }
  }

  @Test
  void aRevokedLeaseIsReportedLostAtItsNextKeepAlive() throws Exception {
    try (LocalRegion cluster = LocalCluster.start(dir);
        MeridianClient client = client(cluster);
        Session session = client.leases().session("jobs", Duration.ofSeconds(3))) {
      client.leases().revoke(session.leaseId());

      Session.Loss loss = session.lost().get(10, TimeUnit.SECONDS);
      assertThat(loss.leaseId()).isEqualTo(session.leaseId());
      assertThat(loss.reason()).contains("gone");
      assertThat(session.isAlive()).isFalse();
    }
  }

  /**
   * Cut off from a live cluster (a proxy in front of every member stops carrying bytes), the
   * session reports its loss before the leader could expire the lease: before the deadline the
   * leader itself keeps for it. The cluster stays up and does expire the lease, so a late report
   * fails the test.
   */
  @Test
  void cutOffFromALiveClusterTheLossIsReportedBeforeTheLeaderCanExpireTheLease() throws Exception {
    List<TcpProxy> proxies = new ArrayList<>();
    try (LocalRegion cluster = LocalCluster.start(dir)) {
      for (NodeConfig c : cluster.cluster().configs()) {
        proxies.add(new TcpProxy(new InetSocketAddress("127.0.0.1", c.client().port())));
      }
      try (MeridianClient client =
              MeridianClient.builder()
                  .endpoints(proxies.stream().map(TcpProxy::url).toList())
                  .attemptTimeout(Duration.ofMillis(500))
                  .build();
          Session session = client.leases().session("jobs", Duration.ofSeconds(2))) {
        AtomicLong reportedAt = new AtomicLong();
        session.onLost(loss -> reportedAt.set(System.nanoTime()));
        long lease = session.leaseId();
        proxies.forEach(p -> p.drop(true));

        // The leader's own deadline for the lease: the latest it ever had (a renewal that was
        // already inside the cluster when the proxies stopped may still move it).
        AtomicLong serverDeadline = new AtomicLong();
        await()
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(10))
            .until(
                () -> {
                  int leader = cluster.cluster().readyLeader();
                  if (leader < 0) {
                    return false;
                  }
                  ShardReplica replica = cluster.node(leader).replicas().get(0);
                  if (!replica.read(s -> s.lease(lease).isPresent())) {
                    return true; // expired by the cluster
                  }
                  replica
                      .leaseClock()
                      .remaining(lease)
                      .ifPresent(
                          ms ->
                              serverDeadline.accumulateAndGet(
                                  System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms),
                                  Math::max));
                  return false;
                });

        Session.Loss loss = session.lost().get(10, TimeUnit.SECONDS);
        assertThat(loss.reason()).contains("no keep-alive was acknowledged");
        assertThat(reportedAt.get()).isPositive().isLessThan(serverDeadline.get());
        assertThat(session.isAlive()).isFalse();
      }
    } finally {
      for (TcpProxy p : proxies) {
        p.close();
      }
    }
  }
}
