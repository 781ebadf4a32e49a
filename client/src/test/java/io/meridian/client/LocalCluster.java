package io.meridian.client;

import io.meridian.testing.LocalRegion;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** The client tests' region: a real 3-node cluster with fast elections and 1 s minimum TTLs. */
final class LocalCluster {
  private LocalCluster() {}

  /** Starts the region and waits for a ready leader. */
  static LocalRegion start(Path dir) throws IOException {
    LocalRegion region = LocalRegion.builder(dir).set("lease", "min-ttl-seconds", 1).start();
    region.awaitReady();
    return region;
  }

  /**
   * A client of every member, rechecking their health every 200 ms so failover tests stay short.
   */
  static MeridianClient.Builder client(LocalRegion cluster) {
    return MeridianClient.builder()
        .endpoints(cluster.urls())
        .healthCheckInterval(Duration.ofMillis(200));
  }
}
