package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
}
