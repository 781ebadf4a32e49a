package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.PutRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import io.meridian.cluster.config.NodeConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Limits that decide what apply does are the cluster's, not each node's. */
@Tag("cluster")
class ClusterSettingsTest {
  @TempDir Path dir;

  private static NodeConfig withQuota(NodeConfig c, long quotaBytes) {
    NodeConfig.Storage s = c.storage();
    return new NodeConfig(
        c.member(),
        c.region(),
        c.dataDir(),
        c.client(),
        c.peer(),
        c.members(),
        c.shards(),
        c.raft(),
        c.lease(),
        c.lock(),
        new NodeConfig.Storage(
            quotaBytes,
            s.dedupCapacity(),
            s.compactionRetentionRevisions(),
            s.compactionRetentionMs(),
            s.compactionIntervalMs()),
        c.watch(),
        c.registry(),
        c.backup(),
        c.replication(),
        c.clusterToken(),
        c.tls(),
        c.peerTls());
  }

  /**
   * One member's config has a quota the writes exceed, the others' do not. Whichever quota is in
   * force, every member applies the same: same revision, same state hash.
   */
  @Test
  void membersWhoseConfigsDifferStillApplyAlike() throws Exception {
    List<NodeConfig> configs =
        new ArrayList<>(DevCluster.plan(dir, 3, "test", TestClusters.fast()).configs());
    configs.set(0, withQuota(configs.get(0), 1 << 20));
    try (DevCluster cluster = DevCluster.of(dir, configs).start()) {
      int leader = TestClusters.awaitReady(cluster);
      Clients c = Clients.of(cluster.node(leader));
      // 1.5 MiB of values: beyond n1's configured quota, far within the others'.
      for (int i = 0; i < 3; i++) {
        try {
          c.kv()
              .put(
                  PutRequest.newBuilder()
                      .setKey("/q/big" + i)
                      .setValue(ByteString.copyFrom(new byte[512 * 1024]))
                      .build());
        } catch (StatusRuntimeException e) {
          assertThat(Clients.code(e)).isEqualTo(Error.Code.NO_SPACE);
        }
      }
      try {
        c.put("/q/last", "x");
      } catch (StatusRuntimeException e) {
        assertThat(Clients.code(e)).isEqualTo(Error.Code.NO_SPACE); // the alarm is on
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .until(
              () -> {
                Set<String> hashes = new HashSet<>();
                Set<Long> revisions = new HashSet<>();
                for (MeridianNode n : cluster.nodes()) {
                  ShardReplica r = n.replicas().get(0);
                  byte[] hash = r.read(s -> s.stateHash());
                  long revision = r.read(s -> s.revision());
                  hashes.add(Arrays.toString(hash));
                  revisions.add(revision);
                }
                return hashes.size() == 1 && revisions.size() == 1;
              });
      long quota = cluster.node(0).replicas().get(0).read(s -> s.settings().getQuotaBytes());
      for (MeridianNode n : cluster.nodes()) {
        long inForce = n.replicas().get(0).read(s -> s.settings().getQuotaBytes());
        assertThat(inForce).isEqualTo(quota);
      }
    }
  }
}
