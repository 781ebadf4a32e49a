package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.MemberShard;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.ProcessRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/minority-failure.md, run as written: two followers of a 5-member cluster of processes
 * are killed, writes go on with the quorum of three, and the runbook brings both back one after the
 * other; each must be a follower again holding every key.
 */
@Tag("cluster")
@Tag("drill")
class MinorityFailureDrillTest {
  @TempDir Path dir;

  @Test
  void twoKilledFollowersOfFiveComeBackCaughtUp() throws Exception {
    List<NodeConfig> configs =
        DevCluster.plan(dir, 5, "east", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
    try (ProcessRegion nodes = new ProcessRegion(dir, configs).startAll();
        RunbookDrill drill = new RunbookDrill("minority-failure.md", dir)) {
      int leader = nodes.awaitLeader();
      int first = (leader + 1) % 5;
      int second = (leader + 2) % 5;
      nodes.kill(first);
      nodes.kill(second);
      // Committed by the three left, a quorum of five: the two must catch up on them.
      Drills.put(nodes, leader, "/drill/while-down", 20);
      String down = configs.get(first).member() + " " + configs.get(second).member();

      RunbookDrill.Run run =
          drill
              .set("ENDPOINTS", Drills.endpoints(nodes))
              .set("SHARD", 0)
              .set("DOWN", down)
              .set("CONFIG_DIR", dir)
              .set("LOG_DIR", dir)
              .section("Symptoms")
              .section("Commands")
              .section("Verification")
              .runGreen(Duration.ofMinutes(5));

      assertThat(run.symptoms())
          .contains("UNHEALTHY")
          .contains("member " + configs.get(first).member() + " in east")
          .contains("member " + configs.get(second).member() + " in east");
      assertThat(run.output()).containsPattern("(?m)^HEALTHY\\s*$");
      long commit = Drills.ownShardZero(nodes, nodes.awaitLeader()).getCommitIndex();
      for (int i : new int[] {first, second}) {
        MemberShard own = Drills.ownShardZero(nodes, i);
        assertThat(own.getRole()).isEqualTo("FOLLOWER");
        assertThat(own.getAppliedIndex()).isGreaterThan(commit - 5);
        assertThat(Drills.serializableCount(nodes, i, "/drill/")).isEqualTo(20);
      }
    }
  }
}
