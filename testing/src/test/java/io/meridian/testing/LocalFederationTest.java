package io.meridian.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.v1.Role;
import io.meridian.cluster.state.ShardState;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("cluster")
class LocalFederationTest {
  @Test
  void thePrimaryRegionIsPrimaryAndTheStandbyStandby(@TempDir Path dir) throws Exception {
    try (LocalFederation f =
        LocalFederation.builder(dir).primary("east").standby("west").shard(3).members(1).start()) {
      f.awaitReady();
      assertThat(role(f.region("east"))).isEqualTo(Role.PRIMARY);
      assertThat(role(f.region("west"))).isEqualTo(Role.STANDBY);
      assertThat(f.region("east").urls()).hasSize(1);
      assertThatThrownBy(() -> f.region("north"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("expected: one of [east, west]");
    }
  }

  @Test
  void aKilledMemberComesBackFromItsData(@TempDir Path dir) throws Exception {
    try (LocalRegion region = LocalRegion.builder(dir).members(3).start()) {
      int leader = region.awaitReady();
      region.kill(leader);
      assertThat(region.node(leader)).isNull();
      int next = region.awaitReady();
      assertThat(next).isNotEqualTo(leader);
      region.restart(leader);
      assertThat(region.node(leader)).isNotNull();
    }
  }

  private static Role role(LocalRegion region) {
    int leader = region.readyLeader();
    return region.node(leader).replicas().get(0).read(ShardState::role);
  }
}
