package io.meridian.cluster.node;

import static org.awaitility.Awaitility.await;

import io.meridian.cluster.DevCluster;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** Test clusters: fast elections so failover tests stay short. */
final class TestClusters {
  private TestClusters() {}

  static Map<String, Map<String, Object>> fast() {
    Map<String, Map<String, Object>> o = new HashMap<>();
    o.put("raft", new HashMap<>(DevCluster.FAST_ELECTIONS));
    return o;
  }

  static DevCluster start(Path dir) throws IOException {
    return start(dir, fast());
  }

  static DevCluster start(Path dir, Map<String, Map<String, Object>> overrides) throws IOException {
    DevCluster cluster = DevCluster.plan(dir, 3, "test", overrides).start();
    awaitReady(cluster);
    return cluster;
  }

  /** Waits for a leader that has started its term and initialized the shard; returns its index. */
  static int awaitReady(DevCluster cluster) {
    int[] leader = {-1};
    await().atMost(Duration.ofSeconds(30)).until(() -> (leader[0] = cluster.readyLeader()) >= 0);
    return leader[0];
  }
}
