package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.StatusRuntimeException;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A member whose Raft client was closed under it (as Ratis does) keeps serving writes. */
@Tag("cluster")
class RaftClientRecoveryTest {
  @TempDir Path dir;

  @Test
  void aClosedRaftClientIsReplacedAndWritesGoOn() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      MeridianNode node = cluster.node((leader + 1) % 3);
      Clients c = Clients.of(node);
      c.put("/recover/a", "1");
      node.replicas().get(0).closeRaftClientForTest();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                try {
                  c.put("/recover/b", "2");
                  return true;
                } catch (StatusRuntimeException e) {
                  return false; // The write that found the client closed fails: UNAVAILABLE.
                }
              });
      assertThat(c.prefix("/recover/").getKvsCount()).isEqualTo(2);
    }
  }
}
