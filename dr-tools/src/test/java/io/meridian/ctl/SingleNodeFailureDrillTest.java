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
 * runbooks/single-node-failure.md, run as written: the leader of a 3-member cluster of processes is
 * killed, writes go on without it, and the runbook brings it back; it must be a follower again that
 * has applied everything the leader committed.
 */
@Tag("cluster")
@Tag("drill")
class SingleNodeFailureDrillTest {
  @TempDir Path dir;

  @Test
  void theKilledLeaderComesBackAsACaughtUpFollower() throws Exception {
    List<NodeConfig> configs =
        DevCluster.plan(dir, 3, "east", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
    try (ProcessRegion nodes = new ProcessRegion(dir, configs).startAll();
        RunbookDrill drill = new RunbookDrill("single-node-failure.md", dir)) {
      int leader = nodes.awaitLeader();
      Drills.put(nodes, leader, "/drill/before", 20);
      nodes.kill(leader);
      int successor = nodes.awaitLeader(leader);
      // Written while the member is down: it must catch up on them.
      Drills.put(nodes, successor, "/drill/while-down", 20);
      String member = configs.get(leader).member();

      RunbookDrill.Run run =
          drill
              .set("ENDPOINTS", Drills.endpoints(nodes))
              .set("SHARD", 0)
              .set("MEMBER", member)
              .set("NODE_CONFIG", dir.resolve(member + ".yaml"))
              .set("NODE_LOG", nodes.log(leader))
              .section("Symptoms")
              .section("Commands")
              .section("Verification")
              .runGreen(Duration.ofMinutes(4));

      assertThat(run.symptoms()).contains("UNHEALTHY").contains("member " + member + " in east");
      assertThat(run.output()).containsPattern("(?m)^HEALTHY\\s*$");
      MemberShard back = Drills.ownShardZero(nodes, leader);
      MemberShard now = Drills.ownShardZero(nodes, nodes.awaitLeader());
      assertThat(back.getRole()).isEqualTo("FOLLOWER");
      assertThat(back.getAppliedIndex()).isGreaterThanOrEqualTo(now.getCommitIndex() - 5);
      assertThat(Drills.serializableCount(nodes, leader, "/drill/")).isEqualTo(40);
    }
  }
}
