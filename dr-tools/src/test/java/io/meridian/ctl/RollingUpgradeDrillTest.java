package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.MemberShard;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.ProcessRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/rolling-upgrade.md, run as written: its per-member step for each follower of a 3-member
 * cluster of processes, then its leadership transfer, then the per-member step for the old leader.
 * Every member must end caught up, leadership where it was sent, every key still there.
 */
@Tag("cluster")
@Tag("drill")
class RollingUpgradeDrillTest {
  @TempDir Path dir;

  @Test
  void everyMemberIsRestartedInTurnAndLeadershipMovesOnce() throws Exception {
    List<NodeConfig> configs =
        DevCluster.plan(dir, 3, "east", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
    try (ProcessRegion nodes = new ProcessRegion(dir, configs).startAll();
        RunbookDrill drill = new RunbookDrill("rolling-upgrade.md", dir)) {
      int leader = nodes.awaitLeader();
      Drills.put(nodes, leader, "/drill/k", 20);
      List<Integer> followers = new ArrayList<>(List.of(0, 1, 2));
      followers.remove(Integer.valueOf(leader));

      drill
          .set("ENDPOINTS", Drills.endpoints(nodes))
          .set("SHARD", 0)
          .section("Symptoms")
          .section("Commands");
      for (int f : followers) {
        member(drill, nodes, configs, f).step("member");
      }
      String to = configs.get(followers.get(0)).member();
      drill.assign("TO", to).step("leader");
      member(drill, nodes, configs, leader).step("member");
      RunbookDrill.Run run = drill.section("Verification").runGreen(Duration.ofMinutes(6));

      assertThat(run.symptoms()).containsPattern("(?m)^HEALTHY\\s*$").doesNotContain("UNHEALTHY");
      assertThat(run.output()).containsPattern("(?m)^HEALTHY\\s*$");
      assertThat(nodes.awaitLeader()).isEqualTo(followers.get(0));
      long commit = Drills.ownShardZero(nodes, followers.get(0)).getCommitIndex();
      for (int i = 0; i < 3; i++) {
        MemberShard own = Drills.ownShardZero(nodes, i);
        assertThat(own.getAppliedIndex()).as(configs.get(i).member()).isGreaterThan(commit - 5);
        assertThat(Drills.serializableCount(nodes, i, "/drill/")).isEqualTo(20);
      }
      assertThat(Drills.ownShardZero(nodes, leader).getRole()).isEqualTo("FOLLOWER");
    }
  }

  /** The per-member variables for member {@code i}, as the operator sets them on its host. */
  private static RunbookDrill member(
      RunbookDrill drill, ProcessRegion nodes, List<NodeConfig> configs, int i) {
    String id = configs.get(i).member();
    return drill
        .assign("MEMBER", id)
        .assign("NODE_CONFIG", nodes.log(i).resolveSibling(id + ".yaml"))
        .assign("NODE_PID", nodes.pid(i))
        .assign("NODE_LOG", nodes.log(i));
  }
}
