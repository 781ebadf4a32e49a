package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl member list|transfer-leadership} against a real 3-member region. */
@Tag("cluster")
class MeridianctlMemberTest {
  @TempDir Path dir;

  @Test
  void listShowsEveryMembersRoleAndIndexesAndLeadershipMovesWhereItIsSent() throws Exception {
    try (LocalRegion region = LocalRegion.builder(dir).start()) {
      int leader = region.awaitReady();
      String endpoints = String.join(",", region.urls());

      CtlRun list = CtlRun.ctl(endpoints, "member", "list");
      assertThat(list.code()).as(list.err()).isZero();
      assertThat(list.out().lines().filter(l -> l.contains(" serving ")).count()).isEqualTo(3);
      assertThat(list.out()).contains("LEADER").contains("FOLLOWER");

      // Each member's own indexes, which only it knows.
      JsonNode json =
          new ObjectMapper().readTree(CtlRun.ctl(endpoints, "member", "list", "-o", "json").out());
      assertThat(json.path("members")).hasSize(3);
      for (JsonNode m : json.path("members")) {
        assertThat(m.path("shards").get(0).path("appliedIndex").asLong()).isPositive();
      }

      int next = (leader + 1) % 3;
      String to = region.node(next).config().member();
      CtlRun moved = CtlRun.ctl(endpoints, "member", "transfer-leadership", "--to", to);
      assertThat(moved.code()).as(moved.out() + moved.err()).isZero();
      assertThat(moved.out()).contains(to);
      await().atMost(Duration.ofSeconds(30)).until(() -> region.readyLeader() == next);

      CtlRun unknown = CtlRun.ctl(endpoints, "member", "transfer-leadership", "--to", "n9");
      assertThat(unknown.code()).isEqualTo(1);
      assertThat(unknown.err()).contains("NOT_FOUND").contains("n9 is not a voter");

      CtlRun noTarget = CtlRun.ctl(endpoints, "member", "transfer-leadership");
      assertThat(noTarget.code()).isEqualTo(2);
      assertThat(noTarget.err()).contains("--to");

      CtlRun otherRegion =
          CtlRun.ctl(endpoints, "member", "transfer-leadership", "--to", to, "--region", "mars");
      assertThat(otherRegion.code()).isEqualTo(2);
      assertThat(otherRegion.err()).contains("--region: mars");
    }
  }

  @Test
  void addFollowsTheNewMemberToVoterAndPromoteAndRemoveRefuseWhatWouldBreakTheCluster()
      throws Exception {
    try (LocalRegion region = LocalRegion.builder(dir).start()) {
      region.awaitReady();
      String endpoints = String.join(",", region.urls());
      for (int i = 0; i < 20; i++) {
        assertThat(CtlRun.ctl(endpoints, "kv", "put", "/m/k" + i, "v" + i).code()).isZero();
      }

      CtlRun existing =
          CtlRun.ctl(endpoints, "member", "add", "127.0.0.1:1", "--id", "n2", "--shard", "0");
      assertThat(existing.code()).isEqualTo(1);
      assertThat(existing.err()).startsWith("Error: ALREADY_EXISTS: n2 is a voter of shard 0");
      CtlRun stranger = CtlRun.ctl(endpoints, "member", "promote", "n9", "--shard", "0");
      assertThat(stranger.code()).isEqualTo(1);
      assertThat(stranger.err()).startsWith("Error: NOT_FOUND: id: n9 is not a member");
      CtlRun belowThree = CtlRun.ctl(endpoints, "member", "remove", "n2", "--shard", "0");
      assertThat(belowThree.code()).isEqualTo(1);
      assertThat(belowThree.err())
          .startsWith("Error: FAILED_PRECONDITION: removing voter n2 would leave 2 voters")
          .contains("survives no failure");
      CtlRun noId = CtlRun.ctl(endpoints, "member", "add", "127.0.0.1:1");
      assertThat(noId.code()).isEqualTo(2);
      assertThat(noId.err()).contains("--id");

      // Added as a listener, followed until caught up, then promoted.
      NodeConfig n4 = region.cluster().planJoining("n4");
      region.cluster().startMember(n4);
      CtlRun add =
          CtlRun.ctl(
              endpoints,
              "member",
              "add",
              n4.self().peer(),
              "--id",
              "n4",
              "--shard",
              "0",
              "--wait",
              "60s");
      assertThat(add.code()).as(add.err()).isZero();
      assertThat(add.err()).containsPattern("n4: applied \\d+/\\d+ \\(\\d+%\\)");
      assertThat(add.out().lines().filter(l -> l.contains(" n4 ")).findFirst().orElseThrow())
          .contains("FOLLOWER")
          .contains(n4.self().client());

      NodeConfig n5 = region.cluster().planJoining("n5");
      region.cluster().startMember(n5);
      CtlRun listener =
          CtlRun.ctl(
              endpoints,
              "member",
              "add",
              n5.self().peer(),
              "--id",
              "n5",
              "--shard",
              "0",
              "--listener",
              "-o",
              "json");
      assertThat(listener.code()).as(listener.err()).isZero();
      JsonNode members = new ObjectMapper().readTree(listener.out()).path("members");
      assertThat(members).hasSize(5);
      CtlRun list = CtlRun.ctl(endpoints, "member", "list");
      assertThat(list.out().lines().filter(l -> l.contains(" n5 ")).findFirst().orElseThrow())
          .contains("LISTENER");

      // A listener goes freely; a voter to 3 (odd) without force; below 3 only with --force.
      assertThat(CtlRun.ctl(endpoints, "member", "remove", "n5", "--shard", "0").code()).isZero();
      CtlRun toThree = CtlRun.ctl(endpoints, "member", "remove", "n4", "--shard", "0");
      assertThat(toThree.code()).as(toThree.err()).isZero();
      assertThat(toThree.out()).doesNotContain(" n4 ");
      CtlRun forced = CtlRun.ctl(endpoints, "member", "remove", "n3", "--shard", "0", "--force");
      assertThat(forced.code()).as(forced.err()).isZero();
      assertThat(forced.out()).doesNotContain(" n3 ").contains(" n1 ").contains(" n2 ");
    }
  }
}
