package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meridian.cluster.node.DevCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sessions against a real 3-node cluster. */
class SessionTest {
  @TempDir Path dir;

  private static MeridianClient client(DevCluster cluster) {
    return LocalCluster.client(cluster).attemptTimeout(Duration.ofSeconds(1)).build();
  }

  @Test
  void aSessionOutlivesALeaderKillAndItsLeaseStaysAlive() throws Exception {
    try (DevCluster cluster = LocalCluster.start(dir);
        MeridianClient client = client(cluster);
        Session session = client.leases().session("jobs", Duration.ofSeconds(3))) {
      int leader = LocalCluster.awaitLeader(cluster);
      cluster.stop(leader);
      LocalCluster.awaitLeader(cluster);
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
    try (DevCluster cluster = LocalCluster.start(dir);
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
   * With no member reachable, the loss is reported by (send time of the last acknowledged
   * keep-alive) + TTL − margin: before the server could have expired the lease.
   */
  @Test
  void withNoMemberReachableTheLossIsReportedBeforeTheServerCouldExpireTheLease() throws Exception {
    DevCluster cluster = LocalCluster.start(dir);
    try (MeridianClient client = client(cluster);
        Session session = client.leases().session("jobs", Duration.ofSeconds(2))) {
      AtomicLong reportedAt = new AtomicLong();
      session.onLost(loss -> reportedAt.set(System.nanoTime()));
      cluster.close();

      Session.Loss loss = session.lost().get(10, TimeUnit.SECONDS);
      assertThat(loss.reason()).contains("no keep-alive was acknowledged");
      // The margin for a 2 s TTL is 200 ms: the report came before the deadline plus it, that is
      // before the earliest moment the leader could expire the lease.
      assertThat(reportedAt.get() - loss.deadlineNanos())
          .isLessThan(TimeUnit.MILLISECONDS.toNanos(200));
      assertThat(session.isAlive()).isFalse();
    }
  }
}
