package io.meridian.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes as separate processes started with {@code bin/meridian node}; the leader is killed
 * with SIGKILL three times at seeded points under write load, and no acknowledged write is lost.
 * The seed is printed; set {@code -Dmeridian.seed=N} to replay a run.
 */
@Tag("cluster")
class ProcessClusterTest {
  @TempDir Path dir;

  @Test
  void noAcknowledgedWriteIsLostWhenTheLeaderIsKilledThreeTimes() throws Exception {
    long seed = Long.getLong("meridian.seed", System.nanoTime());
    System.out.println(
        "ProcessClusterTest seed=" + seed + " (replay: -Dmeridian.seed=" + seed + ")");
    Random random = new Random(seed);
    List<NodeConfig> configs =
        DevCluster.plan(dir, 3, "proc", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
    try (ProcessRegion nodes = new ProcessRegion(dir, configs).startAll()) {
      List<String> acked = new ArrayList<>();
      int kills = 0;
      int nextKillAt = 30 + random.nextInt(60);
      long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos();
      for (int i = 0; i < 2_000 && (kills < 3 || acked.size() < nextKillAt + 20); i++) {
        assertThat(System.nanoTime()).as("load deadline").isLessThan(deadline);
        if (kills < 3 && acked.size() >= nextKillAt) {
          int leader = nodes.awaitLeader();
          nodes.kill(leader);
          kills++;
          System.out.println("killed leader n" + (leader + 1) + " after " + acked.size() + " acks");
          nodes.start(leader);
          nextKillAt = acked.size() + 30 + random.nextInt(60);
        }
        String key = "/p/k" + i;
        PutRequest put =
            PutRequest.newBuilder()
                .setKey(key)
                .setValue(ByteString.copyFromUtf8("v" + i))
                .setRequestId("p-" + i)
                .build();
        boolean done = false;
        for (int attempt = 0; attempt < 200 && !done; attempt++) {
          try {
            nodes.kv((i + attempt) % 3).put(put);
            done = true;
          } catch (StatusRuntimeException e) {
            // No leader yet, or the node is down: same request id, next node.
          }
        }
        if (done) {
          acked.add(key);
        }
      }
      assertThat(kills).isEqualTo(3);
      nodes.awaitLeader();
      int[] round = {0};
      Set<String> present =
          await()
              .atMost(Duration.ofSeconds(90))
              .ignoreExceptions()
              .until(
                  // Any node will do: the one killed last may still be starting.
                  () ->
                      nodes
                          .kv(round[0]++ % 3)
                          .range(RangeRequest.newBuilder().setKey("/p/").setPrefix(true).build())
                          .getKvsList()
                          .stream()
                          .map(KeyValue::getKey)
                          .collect(Collectors.toSet()),
                  s -> s.size() >= acked.size());
      assertThat(present).containsAll(acked);
    }
  }
}
