package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberShard;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.ProcessRegion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/lost-member-replaced.md, run as written: a follower of a 3-member cluster of processes
 * is killed and its data directory deleted; the runbook adds a fresh node and removes the lost
 * member. The cluster must end with 3 voters, the new one a caught-up follower holding every key.
 */
@Tag("cluster")
@Tag("drill")
class LostMemberReplacedDrillTest {
  @TempDir Path dir;

  @Test
  void aFreshNodeTakesTheLostMembersPlace() throws Exception {
    DevCluster planned = DevCluster.plan(dir, 3, "east", Map.of("raft", DevCluster.FAST_ELECTIONS));
    List<NodeConfig> configs = planned.configs();
    NodeConfig fresh = planned.planJoining("n4");
    try (ProcessRegion nodes = new ProcessRegion(dir, configs).startAll();
        RunbookDrill drill = new RunbookDrill("lost-member-replaced.md", dir)) {
      int leader = nodes.awaitLeader();
      Drills.put(nodes, leader, "/drill/k", 30);
      int lost = (leader + 1) % 3;
      nodes.kill(lost);
      deleteTree(Path.of(configs.get(lost).dataDir()));
      String member = configs.get(lost).member();

      RunbookDrill.Run run =
          drill
              .set("ENDPOINTS", Drills.endpoints(nodes))
              .set("SHARD", 0)
              .set("MEMBER", member)
              .set("NEW_MEMBER", "n4")
              .set("NEW_PEER", fresh.self().peer())
              .set("NEW_CONFIG", Drills.writeConfig(fresh, dir.resolve("n4.yaml")))
              .set("NEW_LOG", dir.resolve("n4.log"))
              .set("NEW_ENDPOINTS", newEndpoints(nodes, lost, fresh))
              .section("Symptoms")
              .section("Commands")
              .section("Verification")
              .runGreen(Duration.ofMinutes(5));

      assertThat(run.symptoms()).contains("UNHEALTHY").contains("member " + member + " in east");
      assertThat(run.output()).containsPattern("(?m)^HEALTHY\\s*$");
      List<Member> members =
          nodes.cluster(leader).memberList(MemberListRequest.getDefaultInstance()).getMembersList();
      assertThat(members).extracting(Member::getId).containsExactlyInAnyOrder(ids(configs, lost));

      String url = fresh.self().client();
      MemberShard own =
          GrpcClients.newClient(url, ClusterGrpc.ClusterBlockingStub.class)
              .memberList(MemberListRequest.getDefaultInstance())
              .getMembersList()
              .stream()
              .filter(m -> m.getId().equals("n4"))
              .findFirst()
              .orElseThrow()
              .getShards(0);
      assertThat(own.getRole()).isEqualTo("FOLLOWER");
      RangeRequest all =
          RangeRequest.newBuilder()
              .setKey("/drill/")
              .setPrefix(true)
              .setCountOnly(true)
              .setConsistency(Consistency.SERIALIZABLE)
              .build();
      assertThat(GrpcClients.newClient(url, KVGrpc.KVBlockingStub.class).range(all).getCount())
          .isEqualTo(30);
    }
  }

  /** The client URLs after the replacement: the lost member's dropped, the new one's added. */
  private static String newEndpoints(ProcessRegion nodes, int lost, NodeConfig fresh) {
    return Stream.concat(
            Stream.of(Drills.endpoints(nodes).split(",")).filter(u -> !u.equals(nodes.url(lost))),
            Stream.of(fresh.self().client()))
        .collect(Collectors.joining(","));
  }

  /** The ids left after the replacement: every planned member but the lost one, and n4. */
  private static String[] ids(List<NodeConfig> configs, int lost) {
    return Stream.concat(
            configs.stream().filter(c -> c != configs.get(lost)).map(NodeConfig::member),
            Stream.of("n4"))
        .toArray(String[]::new);
  }

  private static void deleteTree(Path root) throws Exception {
    try (Stream<Path> all = Files.walk(root)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
