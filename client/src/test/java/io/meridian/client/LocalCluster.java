package io.meridian.client;

import static org.awaitility.Awaitility.await;

import io.meridian.cluster.node.DevCluster;
import io.meridian.cluster.node.MeridianNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A real in-process 3-node region cluster for client tests, with fast elections and short TTLs. */
final class LocalCluster {
  private LocalCluster() {}

  static DevCluster start(Path dir) throws IOException {
    Map<String, Map<String, Object>> o = new HashMap<>();
    o.put(
        "raft",
        new HashMap<>(Map.of("election-timeout-min-ms", 300, "election-timeout-max-ms", 600)));
    o.put("lease", new HashMap<>(Map.of("min-ttl-seconds", 1)));
    DevCluster cluster = DevCluster.plan(dir, 3, "test", o).start();
    awaitLeader(cluster);
    return cluster;
  }

  static List<String> urls(DevCluster cluster) {
    return cluster.nodes().stream().map(MeridianNode::clientUrl).toList();
  }

  /** The index of the member that leads and has started its term. */
  static int awaitLeader(DevCluster cluster) {
    int[] leader = {-1};
    await().atMost(Duration.ofSeconds(30)).until(() -> (leader[0] = cluster.readyLeader()) >= 0);
    return leader[0];
  }

  /**
   * A client of every member, rechecking their health every 200 ms so failover tests stay short.
   */
  static MeridianClient.Builder client(DevCluster cluster) {
    return MeridianClient.builder()
        .endpoints(urls(cluster))
        .healthCheckInterval(Duration.ofMillis(200));
  }
}
