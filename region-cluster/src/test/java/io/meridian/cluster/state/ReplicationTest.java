package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ApplyReplicatedResponse;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeOp;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.ReportShippedRequest;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.ChangeJournal;
import io.meridian.cluster.proto.Command;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Change batches from a primary's journal applied to a standby with ApplyReplicated. */
class ReplicationTest {
  private final Shard primary = Shard.primary();
  private final Shard standby = Shard.standby();

  private List<ChangeBatch> batchesAfter(long revision) {
    return primary.state.changeBatches(0, revision, Integer.MAX_VALUE);
  }

  @Test
  void batchesCarryEveryChangeOfTheirRevisionInCanonicalOrder() {
    long lease = primary.grant("a");
    primary.ok(primary.put("/a/k2", "v", lease));
    primary.ok(primary.put("/a/k1", "v", lease));
    primary.ok(primary.revoke(lease));

    List<ChangeBatch> batches = batchesAfter(0);
    assertThat(batches).extracting(ChangeBatch::getRevision).containsExactly(1L, 2L, 3L, 4L);
    assertThat(batches.get(0).getOps(0).getLeaseGrant().getId()).isEqualTo(lease);
    assertThat(batches.get(1).getOps(0).getPut().getKey()).isEqualTo("/a/k2");
    // The revoke deletes both keys (in key order) before it ends the lease.
    assertThat(batches.get(3).getOpsList())
        .extracting(ChangeOp::getOpCase)
        .containsExactly(ChangeOp.OpCase.DELETE, ChangeOp.OpCase.DELETE, ChangeOp.OpCase.LEASE_END);
    assertThat(batches.get(3).getOps(0).getDelete()).isEqualTo("/a/k1");
    assertThat(batches).allSatisfy(b -> assertThat(b.getShard()).isEqualTo(Shard.SHARD));
    assertThat(batches).allSatisfy(b -> assertThat(b.getCommitTimeMs()).isEqualTo(primary.now));
    // Each hash chains the previous one.
    ByteString previous = ChangeJournal.GENESIS;
    for (ChangeBatch b : batches) {
      assertThat(b.getChainHash())
          .isEqualTo(ChangeJournal.chain(previous, b.getRevision(), b.getOpsList()));
      previous = b.getChainHash();
    }
    assertThat(primary.state.replicationState().getChainHash()).isEqualTo(previous);
  }

  @Test
  void aStandbyAppliesAtTheSameRevisionsAndSkipsDuplicates() {
    primary.ok(primary.put("/a/k", "1"));
    long lease = primary.grant("a");
    primary.ok(primary.acquire("/a/lock", lease, LockMode.EXCLUSIVE, 0));
    primary.ok(primary.put("/a/k", "2"));

    ApplyReplicatedResponse first =
        standby.ok(standby.applyReplicated(batchesAfter(0), 7)).result().getApplyReplicated();
    assertThat(first.getApplied()).isEqualTo(4);
    assertThat(first.getState().getSource().getOffset()).isEqualTo(7);
    assertThat(standby.state.revision()).isEqualTo(primary.state.revision());
    assertThat(standby.get("/a/k")).isEqualTo(primary.get("/a/k"));
    assertThat(standby.state.inspectLock("/a/lock").getHoldersList())
        .isEqualTo(primary.state.inspectLock("/a/lock").getHoldersList());

    // A bridge that resends after a restart: skipped, nothing changes but the recorded source.
    primary.ok(primary.put("/a/k", "3"));
    ApplyReplicatedResponse again =
        standby.ok(standby.applyReplicated(batchesAfter(2), 9)).result().getApplyReplicated();
    assertThat(again.getSkipped()).isEqualTo(2);
    assertThat(again.getApplied()).isEqualTo(1);
    assertThat(standby.value("/a/k")).isEqualTo("3");
    assertThat(standby.get("/a/k").getVersion()).isEqualTo(3);
    assertThat(standby.state.replicationState().getChainHash())
        .isEqualTo(primary.state.replicationState().getChainHash());
  }

  @Test
  void aGapAppliesNothing() {
    primary.ok(primary.put("/a/k", "1"));
    primary.ok(primary.put("/a/k", "2"));
    primary.ok(primary.put("/a/k", "3"));

    ApplyResult r = standby.applyReplicated(batchesAfter(1), 1);
    assertThat(Shard.code(r)).isEqualTo(Error.Code.REVISION_GAP);
    assertThat(r.result().getError().getDetailsMap()).containsEntry("applied_revision", "0");
    // Out of order within a run, too.
    List<ChangeBatch> swapped = new ArrayList<>(batchesAfter(0));
    swapped.add(1, swapped.remove(2));
    assertThat(Shard.code(standby.applyReplicated(swapped, 1))).isEqualTo(Error.Code.REVISION_GAP);
    assertThat(standby.state.revision()).isZero();
    assertThat(standby.get("/a/k")).isNull();
  }

  @Test
  void aBatchThatDoesNotExtendTheChainIsRefusedWithTheRunBeforeIt() {
    primary.ok(primary.put("/a/k", "1"));
    primary.ok(primary.put("/a/k", "2"));
    List<ChangeBatch> run = new ArrayList<>(batchesAfter(0));
    ChangeBatch second = run.get(1);
    ChangeOp tampered =
        ChangeOp.newBuilder()
            .setPut(second.getOps(0).getPut().toBuilder().setValue(Shard.bytes("evil")))
            .build();
    run.set(1, second.toBuilder().setOps(0, tampered).build());

    ApplyResult r = standby.applyReplicated(run, 1);
    assertThat(Shard.code(r)).isEqualTo(Error.Code.CHAIN_MISMATCH);
    assertThat(standby.state.revision()).isZero();

    // A resent batch that differs from the one applied at its revision is refused too.
    standby.follow(primary);
    assertThat(Shard.code(standby.applyReplicated(List.of(run.get(1)), 2)))
        .isEqualTo(Error.Code.CHAIN_MISMATCH);
  }

  @Test
  void batchesFromAnOlderEpochAreFencedAndNewerEpochsAreFollowed() {
    primary.ok(primary.put("/a/k", "1"));
    standby.ok(standby.setRole(Role.STANDBY, 2));
    assertThat(Shard.code(standby.applyReplicated(batchesAfter(0), 1)))
        .isEqualTo(Error.Code.FENCED);

    Shard follower = Shard.standby();
    follower.follow(primary);
    primary.ok(primary.setRole(Role.PRIMARY, 3));
    primary.ok(primary.put("/a/k", "2"));
    follower.follow(primary);
    assertThat(follower.state.epoch()).isEqualTo(3);
    assertThat(follower.state.epochHistory())
        .extracting(EpochStart::getEpoch, EpochStart::getStartRevision)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(1L, 1L),
            org.assertj.core.groups.Tuple.tuple(3L, 2L));
    assertThat(follower.state.role()).isEqualTo(Role.STANDBY);
  }

  @Test
  void onlyAStandbyTakesBatches() {
    primary.ok(primary.put("/a/k", "1"));
    Shard other = Shard.primary();
    assertThat(Shard.code(other.applyReplicated(batchesAfter(0), 1)))
        .isEqualTo(Error.Code.NOT_STANDBY);
    Shard fresh = new Shard(new ShardState(Shard.SHARD));
    assertThat(Shard.code(fresh.applyReplicated(batchesAfter(0), 1)))
        .isEqualTo(Error.Code.NOT_STANDBY);
    assertThat(
            Shard.code(
                standby.applyReplicated(
                    List.of(
                        ChangeBatch.newBuilder().setShard(Shard.SHARD + 1).setRevision(1).build()),
                    1)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
  }

  @Test
  void aStandbyEndsLeasesOnlyWhenThePrimaryDid() {
    long lease = primary.grant("a");
    primary.ok(primary.put("/a/k", "1", lease));
    standby.follow(primary);

    standby.ok(standby.expire(lease)); // The standby's own leader thinks it ran out: ignored.
    assertThat(standby.state.lease(lease)).isPresent();
    assertThat(standby.value("/a/k")).isEqualTo("1");

    primary.ok(primary.expire(lease));
    standby.follow(primary);
    assertThat(standby.state.lease(lease)).isEmpty();
    assertThat(standby.get("/a/k")).isNull();
  }

  @Test
  void revokingALeaseOfTenThousandKeysReplicatesAsOneBatch() {
    long lease = primary.grant("a");
    for (int i = 0; i < 10_000; i++) {
      primary.ok(primary.put("/a/k" + i, "v", lease));
    }
    standby.follow(primary);
    primary.ok(primary.revoke(lease));
    List<ChangeBatch> revoke = batchesAfter(primary.state.revision() - 1);
    assertThat(revoke).hasSize(1);
    assertThat(revoke.get(0).getOpsCount()).isEqualTo(10_001);

    standby.follow(primary);
    assertThat(standby.prefix("/a/")).isEmpty();
    assertThat(standby.state.lease(lease)).isEmpty();
    assertThat(standby.state.replicationState().getChainHash())
        .isEqualTo(primary.state.replicationState().getChainHash());
  }

  @Test
  void aFeedPositionMustBeRetainedAndOnTheHistory() {
    primary.ok(primary.put("/a/k", "1"));
    primary.ok(primary.put("/a/k", "2"));
    primary.ok(primary.put("/a/k", "3"));
    assertThat(primary.state.changeBatches(1, 3, 10)).isEmpty();
    assertThat(code(() -> primary.state.changeBatches(0, 4, 10)))
        .isEqualTo(Error.Code.FUTURE_REVISION);

    primary.ok(primary.compact(2));
    assertThat(code(() -> primary.state.changeBatches(0, 1, 10))).isEqualTo(Error.Code.COMPACTED);
    assertThat(primary.state.changeBatches(0, 2, 10))
        .extracting(ChangeBatch::getRevision)
        .containsExactly(3L);

    // A failover started epoch 2 at revision 4: a position of epoch 1 at revision 4 never existed.
    primary.ok(primary.setRole(Role.PRIMARY, 2));
    primary.ok(primary.put("/a/k", "4"));
    assertThat(code(() -> primary.state.changeBatches(1, 4, 10)))
        .isEqualTo(Error.Code.HISTORY_DIVERGED);
    assertThat(primary.state.changeBatches(1, 3, 10)).hasSize(1);
  }

  @Test
  void theJournalSurvivesASnapshotAndAPromotedStandbyContinuesTheChain() {
    primary.ok(primary.put("/a/k", "1"));
    long lease = primary.grant("a");
    primary.ok(primary.put("/a/j", "2", lease));
    standby.follow(primary);
    // Same content at the same revision, though their snapshots differ (roles, remembered ids).
    assertThat(standby.state.contentHash()).isEqualTo(primary.state.contentHash());
    assertThat(standby.hash()).isNotEqualTo(primary.hash());
    primary.ok(primary.compact(1));
    assertThat(primary.state.contentHash()).isEqualTo(standby.state.contentHash());
    ShardState copy = primary.reloaded();
    assertThat(copy.changeBatches(0, 1, 10)).isEqualTo(primary.state.changeBatches(0, 1, 10));
    assertThat(copy.replicationState()).isEqualTo(primary.state.replicationState());
    assertThat(copy.stateHash()).isEqualTo(primary.hash());

    ShardState standbyCopy = standby.reloaded();
    assertThat(standbyCopy.replicationState()).isEqualTo(standby.state.replicationState());

    // Failover: the standby becomes the primary of epoch 2 and writes on.
    standby.ok(standby.setRole(Role.PRIMARY, 2));
    standby.ok(standby.put("/a/k", "after failover"));
    // A new standby of the new primary gets one chain: the old primary's revisions, then its own.
    Shard next = Shard.standby();
    next.ok(next.applyReplicated(standby.state.changeBatches(0, 0, Integer.MAX_VALUE), 1));
    assertThat(next.value("/a/k")).isEqualTo("after failover");
    assertThat(next.state.replicationState().getChainHash())
        .isEqualTo(standby.state.replicationState().getChainHash());
  }

  @Test
  void aSnapshotWithoutAJournalStartsTheFeedAtItsRevision() throws Exception {
    primary.ok(primary.put("/a/k", "1"));
    primary.ok(primary.put("/a/k", "2"));
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    primary.state.writeSnapshot(out);
    java.io.ByteArrayInputStream in = new java.io.ByteArrayInputStream(out.toByteArray());
    io.meridian.cluster.proto.SnapshotHeader header =
        io.meridian.cluster.proto.SnapshotHeader.parseDelimitedFrom(in);
    // What format 1 wrote: no journal, no chain hash (its trailing batches are never read).
    java.io.ByteArrayOutputStream v1 = new java.io.ByteArrayOutputStream();
    header.toBuilder()
        .setFormatVersion(SnapshotCodec.FORMAT_VERSION_NO_JOURNAL)
        .clearChainHash()
        .clearJournalCount()
        .clearCommitTimeMs()
        .build()
        .writeDelimitedTo(v1);
    in.transferTo(v1);
    Shard upgraded =
        new Shard(ShardState.readSnapshot(new java.io.ByteArrayInputStream(v1.toByteArray())));

    assertThat(code(() -> upgraded.state.changeBatches(0, 1, 10))).isEqualTo(Error.Code.COMPACTED);
    assertThat(upgraded.state.changeBatches(0, 2, 10)).isEmpty();
    upgraded.ok(upgraded.put("/a/k", "3"));
    ChangeBatch next = upgraded.state.changeBatches(0, 2, 10).get(0);
    assertThat(next.getChainHash())
        .isEqualTo(ChangeJournal.chain(ChangeJournal.GENESIS, 3, next.getOpsList()));
  }

  @Test
  void theShippedPositionOnlyGrowsAndNeverPassesTheRevision() {
    primary.ok(primary.put("/a/k", "1"));
    primary.ok(primary.put("/a/k", "2"));
    primary.ok(shipped(2));
    primary.ok(shipped(1));
    assertThat(primary.state.shipped()).isEqualTo(2);
    assertThat(Shard.code(shipped(3))).isEqualTo(Error.Code.FUTURE_REVISION);
    assertThat(primary.reloaded().shipped()).isEqualTo(2);
  }

  private ApplyResult shipped(long revision) {
    return primary.apply(
        Command.newBuilder()
            .setReportShipped(
                ReportShippedRequest.newBuilder()
                    .setShipped(Position.newBuilder().setEpoch(1).setRevision(revision))));
  }

  private static Error.Code code(Runnable call) {
    try {
      call.run();
    } catch (MeridianException e) {
      return e.code();
    }
    throw new AssertionError("expected a MeridianException");
  }
}
