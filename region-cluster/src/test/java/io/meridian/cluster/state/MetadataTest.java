package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.InitShard;
import org.junit.jupiter.api.Test;

class MetadataTest {
  private static EpochStart start(long epoch, long revision) {
    return EpochStart.newBuilder().setEpoch(epoch).setStartRevision(revision).build();
  }

  @Test
  void writesNeedAnInitializedPrimary() {
    Shard s = new Shard(new ShardState(Shard.SHARD));
    assertThat(s.state.initialized()).isFalse();
    assertThat(s.state.role()).isEqualTo(Role.ROLE_UNSPECIFIED);
    assertThat(code(s.put("/a/k", "v"))).isEqualTo(Error.Code.NOT_INITIALIZED);
    assertThat(code(s.setRole(Role.PRIMARY, 1))).isEqualTo(Error.Code.NOT_INITIALIZED);
    // The wrong shard's init is refused.
    assertThat(
            code(
                s.apply(
                    Command.newBuilder()
                        .setInitShard(
                            InitShard.newBuilder()
                                .setShard(Shard.SHARD + 1)
                                .setRole(Role.PRIMARY)
                                .setEpoch(1)))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    ApplyResult init = s.ok(s.init(Role.STANDBY, 7));
    assertThat(init.revision()).isZero();
    assertThat(s.state.epochHistory()).containsExactly(start(7, 1));
    assertThat(s.state.epoch()).isEqualTo(7);
    assertThat(code(s.put("/a/k", "v"))).isEqualTo(Error.Code.NOT_PRIMARY);
    assertThat(code(s.grantResult("a", 1000, 0))).isEqualTo(Error.Code.NOT_PRIMARY);
    // A second init is acknowledged and ignored.
    s.ok(s.init(Role.PRIMARY, 9));
    assertThat(s.state.role()).isEqualTo(Role.STANDBY);
    assertThat(s.state.epoch()).isEqualTo(7);
  }

  @Test
  void setRoleMovesEpochsForwardOnly() {
    Shard s = Shard.primary();
    s.ok(s.put("/a/k", "v"));
    s.ok(s.put("/a/k", "w"));
    ApplyResult r = s.ok(s.setRole(Role.FENCED, 1));
    assertThat(r.revision()).isEqualTo(2);
    // The result says the role it leaves, so the node tells watchers without reading it back.
    assertThat(r.role()).isEqualTo(Role.FENCED);
    assertThat(s.state.epochHistory()).containsExactly(start(1, 1));
    assertThat(code(s.put("/a/k", "x"))).isEqualTo(Error.Code.FENCED);
    assertThat(code(s.setRole(Role.PRIMARY, 0))).isEqualTo(Error.Code.FENCED);
    assertThat(code(s.setRole(Role.ROLE_UNSPECIFIED, 2))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    // Back to PRIMARY at the same epoch: tokens could repeat after a lossy failover.
    ApplyResult sameEpoch = s.setRole(Role.PRIMARY, 1);
    assertThat(code(sameEpoch)).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(sameEpoch.result().getError().getMessage()).contains("starts a new epoch");
    assertThat(sameEpoch.role()).isEqualTo(Role.FENCED);
    assertThat(s.state.role()).isEqualTo(Role.FENCED);
    s.ok(s.setRole(Role.PRIMARY, 3));
    // A retried promotion (PRIMARY, same epoch) changes nothing.
    s.ok(s.setRole(Role.PRIMARY, 3));
    assertThat(s.state.epochHistory()).containsExactly(start(1, 1), start(3, 3));
    assertThat(s.state.role()).isEqualTo(Role.PRIMARY);
    assertThat(s.ok(s.put("/a/k", "x")).result().getPut().getHeader().getEpoch()).isEqualTo(3);
    ShardState copy = s.reloaded();
    assertThat(copy.epochHistory()).isEqualTo(s.state.epochHistory());
    assertThat(copy.role()).isEqualTo(Role.PRIMARY);
    assertThat(copy.leaderTerm()).isEqualTo(s.state.leaderTerm());
    assertThat(copy.initialized()).isTrue();
  }

  @Test
  void everyWriteIsRefusedOutsidePrimaryAndChangesNothing() {
    for (Role role : new Role[] {Role.STANDBY, Role.FENCED}) {
      Shard s = Shard.primary();
      long lease = s.grant("a");
      s.ok(s.put("/a/k", "v"));
      s.ok(s.acquire("/a/l", lease, io.meridian.api.v1.LockMode.EXCLUSIVE, 0));
      s.ok(s.setRole(role, 2));
      byte[] before = s.hash();
      Error.Code expected = role == Role.STANDBY ? Error.Code.NOT_PRIMARY : Error.Code.FENCED;
      java.util.List<ApplyResult> results =
          java.util.List.of(
              s.put("/a/k", "w"),
              s.delete("/a/k"),
              s.txn(io.meridian.api.v1.TxnRequest.newBuilder().addSuccess(Shard.opGet("/a/k"))),
              s.grantResult("a", 1000, 0),
              s.revoke(lease),
              s.acquire("/a/m", lease, io.meridian.api.v1.LockMode.EXCLUSIVE, 0),
              s.release("/a/l", lease),
              s.cancel("/a/l", lease));
      for (ApplyResult r : results) {
        assertThat(code(r)).as("%s: %s", role, r).isEqualTo(expected);
      }
      // Lease expiry and checkpoints are silently ignored.
      assertThat(s.ok(s.expire(lease)).changes()).isEmpty();
      s.ok(s.checkpoint(lease, 5));
      assertThat(s.hash()).isEqualTo(before);
      assertThat(s.state.revision()).isEqualTo(3);
    }
  }

  @Test
  void leaderStartRecordsTheTerm() {
    Shard s = Shard.primary();
    ApplyResult r = s.ok(s.leaderStart(12));
    assertThat(r.revision()).isZero();
    assertThat(s.state.leaderTerm()).isEqualTo(12);
  }

  @Test
  void emptyCommandIsInvalid() {
    Shard s = Shard.primary();
    assertThat(code(s.apply(Command.newBuilder()))).isEqualTo(Error.Code.INVALID_ARGUMENT);
  }
}
