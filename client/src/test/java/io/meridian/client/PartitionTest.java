package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.node.DevCluster;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client cut off from a live cluster (a proxy that stops carrying bytes, longer than the TTL):
 * its lock is reported lost before the cluster could grant the lock to anyone else.
 */
class PartitionTest {
  @TempDir Path dir;

  @Test
  void aPartitionedHolderLearnsItLostTheLockBeforeAnotherClientIsGrantedIt() throws Exception {
    DevCluster cluster = LocalCluster.start(dir);
    List<TcpProxy> proxies = new ArrayList<>();
    try {
      for (NodeConfig c : cluster.configs()) {
        proxies.add(new TcpProxy(new InetSocketAddress("127.0.0.1", c.client().port())));
      }
      try (MeridianClient cutOff =
              MeridianClient.builder()
                  .endpoints(proxies.stream().map(TcpProxy::url).toList())
                  .attemptTimeout(Duration.ofMillis(500))
                  .build();
          MeridianClient other =
              MeridianClient.builder().endpoints(LocalCluster.urls(cluster)).build()) {
        Session session = cutOff.leases().session("jobs", Duration.ofSeconds(3));
        LockHandle held = cutOff.locks().lock(session, "/jobs/locks/report", Duration.ofSeconds(5));
        AtomicLong lostAt = new AtomicLong();
        held.onLost(loss -> lostAt.set(System.nanoTime()));

        proxies.forEach(p -> p.drop(true));
        CompletableFuture<LockHandle> next =
            other.locks().lockAsync("/jobs/locks/report", Duration.ofSeconds(30));
        LockHandle taken = next.get(30, TimeUnit.SECONDS);
        long grantedAt = System.nanoTime();

        assertThat(held.lost()).isDone();
        assertThat(lostAt.get()).isPositive().isLessThan(grantedAt);
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
