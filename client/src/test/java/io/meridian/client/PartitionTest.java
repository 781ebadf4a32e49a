package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.FencingToken;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.LocalRegion;
import io.meridian.testing.TcpProxy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client cut off from a live cluster (a proxy that stops carrying bytes, longer than the TTL):
 * its lock is reported lost before the cluster could grant the lock to anyone else.
 */
@Tag("cluster")
class PartitionTest {
  @TempDir Path dir;

  @Test
  void aPartitionedHolderLearnsItLostTheLockBeforeAnotherClientIsGrantedIt() throws Exception {
    LocalRegion cluster = LocalCluster.start(dir);
    List<TcpProxy> proxies = new ArrayList<>();
    try {
      for (NodeConfig c : cluster.cluster().configs()) {
        proxies.add(new TcpProxy(new InetSocketAddress("127.0.0.1", c.client().port())));
      }
      try (MeridianClient cutOff =
              MeridianClient.builder()
                  .endpoints(proxies.stream().map(TcpProxy::url).toList())
                  .attemptTimeout(Duration.ofMillis(500))
                  .build();
          MeridianClient other = MeridianClient.builder().endpoints(cluster.urls()).build()) {
        Session session = cutOff.leases().session("jobs", Duration.ofSeconds(3));
        LockHandle held = cutOff.locks().lock(session, "/jobs/locks/report", Duration.ofSeconds(5));
        // Wall time, as the leader stamps it into commands (one machine, one clock).
        AtomicLong lostAtMs = new AtomicLong();
        held.onLost(loss -> lostAtMs.set(System.currentTimeMillis()));

        proxies.forEach(p -> p.drop(true));
        CompletableFuture<LockHandle> next =
            other.locks().lockAsync("/jobs/locks/report", Duration.ofSeconds(30));
        LockHandle taken = next.get(30, TimeUnit.SECONDS);

        // When the grant was committed, not when the other client heard of it: the leader stamped
        // its time into the revision that granted the lock.
        long grantRevision = FencingToken.revisionOf(taken.fencingToken());
        int leader = cluster.awaitReady();
        long committedAtMs =
            cluster
                .node(leader)
                .replicas()
                .get(0)
                .read(s -> s.changeBatches(0, grantRevision - 1, 1).get(0).getCommitTimeMs());
        assertThat(held.lost()).isDone();
        assertThat(lostAtMs.get()).isPositive().isLessThan(committedAtMs);
        assertThat(held.isValid()).isFalse();
        assertThat(taken.fencingToken()).isGreaterThan(held.fencingToken());
        taken.close();
      }
    } finally {
      for (TcpProxy p : proxies) {
        p.close();
      }
      cluster.close();
    }
  }
}
