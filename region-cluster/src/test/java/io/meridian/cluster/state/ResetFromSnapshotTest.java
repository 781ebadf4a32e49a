package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.ResetBegin;
import io.meridian.cluster.proto.ResetEnd;
import io.meridian.cluster.proto.ResetPart;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * ResetBegin, ResetPart and ResetEnd: a FENCED or STANDBY shard replaced, through its log, by
 * another region's snapshot.
 */
class ResetFromSnapshotTest {
  /** A snapshot as a stream carries it: manifest, body in parts, SHA-256. */
  record Snapshot(SnapshotManifest manifest, List<ByteString> parts, ByteString sha256, long size) {
    static Snapshot of(ShardState state, int partBytes) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try {
        state.writeSnapshot(out);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      byte[] body = out.toByteArray();
      List<ByteString> parts = new ArrayList<>();
      for (int off = 0; off < body.length; off += partBytes) {
        parts.add(ByteString.copyFrom(body, off, Math.min(partBytes, body.length - off)));
      }
      return new Snapshot(
          state.freeze().describe(), parts, ByteString.copyFrom(digest(body)), body.length);
    }
  }

  private static byte[] digest(byte[] body) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(body);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A failover: {@code old} was the primary at epoch 1, {@code next} its standby, promoted at epoch
   * 2 without {@code old}'s last revision; each then wrote on its own, and {@code old} was fenced.
   */
  private record Failover(Shard old, Shard next) {
    static Failover happened() {
      Shard old = Shard.primary();
      old.put("/a/x", "1");
      long lease = old.grant("a");
      old.put("/a/held", "h", lease);
      Shard next = Shard.standby();
      next.follow(old);
      old.put("/a/tail", "never shipped");
      next.ok(next.setRole(Role.PRIMARY, 2));
      next.put("/a/x", "2");
      next.put("/a/new", "3");
      next.grant("b");
      old.ok(old.setRole(Role.FENCED, 2));
      return new Failover(old, next);
    }
  }

  private static ApplyResult begin(Shard s, String id, SnapshotManifest manifest) {
    return s.apply(
        Command.newBuilder()
            .setResetBegin(ResetBegin.newBuilder().setResetId(id).setManifest(manifest)));
  }

  private static ApplyResult part(Shard s, String id, long seq, ByteString data) {
    return s.apply(
        Command.newBuilder()
            .setResetPart(ResetPart.newBuilder().setResetId(id).setSeq(seq).setData(data)));
  }

  private static ApplyResult end(Shard s, String id, ByteString sha, long size, long epoch) {
    return s.apply(
        Command.newBuilder()
            .setResetEnd(
                ResetEnd.newBuilder()
                    .setResetId(id)
                    .setBodySha256(sha)
                    .setBodyBytes(size)
                    .setRole(Role.STANDBY)
                    .setEpoch(epoch)));
  }

  private static void stage(Shard s, String id, Snapshot snapshot) {
    s.ok(begin(s, id, snapshot.manifest()));
    for (int i = 0; i < snapshot.parts().size(); i++) {
      s.ok(part(s, id, i, snapshot.parts().get(i)));
    }
  }

  private static ApplyResult reset(Shard s, Snapshot snapshot) {
    stage(s, "r1", snapshot);
    return end(s, "r1", snapshot.sha256(), snapshot.size(), snapshot.manifest().getEpoch());
  }

  @Test
  void aFencedShardTakesTheSnapshotsStateAndBecomesAStandbyAtItsEpoch() {
    Failover f = Failover.happened();
    f.old().leaderStart(9);
    Snapshot snapshot = Snapshot.of(f.next().state, 64);
    assertThat(snapshot.parts()).hasSizeGreaterThan(3);

    ApplyResult r = f.old().ok(reset(f.old(), snapshot));

    ShardState reset = f.old().state;
    ShardState source = f.next().state;
    assertThat(reset.contentHash()).isEqualTo(source.contentHash());
    assertThat(reset.revision()).isEqualTo(source.revision());
    assertThat(reset.compactRevision())
        .as("history before it is compacted")
        .isEqualTo(source.revision());
    assertThat(reset.freeze().describe().getChainHash())
        .isEqualTo(source.freeze().describe().getChainHash());
    assertThat(reset.epochHistory()).isEqualTo(source.epochHistory());
    assertThat(reset.role()).isEqualTo(Role.STANDBY);
    assertThat(reset.epoch()).isEqualTo(2);
    assertThat(reset.leaderTerm()).as("this cluster's Raft terms go on").isEqualTo(9);
    assertThat(reset.stagedReset()).isEmpty();
    assertThat(f.old().value("/a/tail")).as("the divergent tail is gone").isNull();
    assertThat(f.old().value("/a/x")).isEqualTo("2");
    assertThat(r.revision()).isEqualTo(source.revision());
    assertThat(r.committed()).as("no change batch of its own").isEmpty();
    assertThat(r.result().getResetFromSnapshot().getHeader().getRole()).isEqualTo(Role.STANDBY);
    assertThat(r.result().getResetFromSnapshot().getManifest().getBodySha256())
        .isEqualTo(snapshot.sha256());

    // The bridge's sink continues the new primary's chain.
    f.next().put("/a/after", "4");
    f.next().revoke(f.next().state.leases("b").get(0).id());
    f.old().follow(f.next());
    assertThat(reset.contentHash()).isEqualTo(source.contentHash());
    assertThat(reset.revision()).isEqualTo(source.revision());
  }

  @Test
  void aStandbyCanBeResetAtANewerEpoch() {
    Failover f = Failover.happened();
    f.old().ok(f.old().setRole(Role.STANDBY, 2));
    Snapshot snapshot = Snapshot.of(f.next().state, 1 << 20);
    stage(f.old(), "r1", snapshot);

    f.old().ok(end(f.old(), "r1", snapshot.sha256(), snapshot.size(), 3));

    assertThat(f.old().state.epoch()).isEqualTo(3);
    assertThat(f.old().state.epochHistory().get(f.old().state.epochHistory().size() - 1))
        .satisfies(
            e -> {
              assertThat(e.getEpoch()).isEqualTo(3);
              assertThat(e.getStartRevision()).isEqualTo(f.next().state.revision() + 1);
            });
  }

  @Test
  void aBadHashOrSizeOrBodyChangesNothingAndDropsTheStaging() {
    Failover f = Failover.happened();
    Snapshot snapshot = Snapshot.of(f.next().state, 100);
    byte[] before = f.old().hash();

    stage(f.old(), "r1", snapshot);
    ByteString wrong = ByteString.copyFrom(new byte[32]);
    assertThat(code(end(f.old(), "r1", wrong, snapshot.size(), 2)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(f.old().hash()).as("state as before the reset began").isEqualTo(before);
    assertThat(f.old().state.stagedReset()).isEmpty();
    assertThat(code(part(f.old(), "r1", snapshot.parts().size(), ByteString.EMPTY)))
        .as("the staging is gone")
        .isEqualTo(Error.Code.FAILED_PRECONDITION);

    stage(f.old(), "r2", snapshot);
    assertThat(code(end(f.old(), "r2", snapshot.sha256(), snapshot.size() + 1, 2)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(f.old().hash()).isEqualTo(before);

    // A body whose checksum matches but that is no snapshot.
    byte[] garbage = "not a snapshot".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    f.old().ok(begin(f.old(), "r3", snapshot.manifest()));
    f.old().ok(part(f.old(), "r3", 0, ByteString.copyFrom(garbage)));
    ApplyResult bad = end(f.old(), "r3", ByteString.copyFrom(digest(garbage)), garbage.length, 2);
    assertThat(code(bad)).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(bad.result().getError().getMessage()).contains("not a snapshot");
    assertThat(f.old().hash()).isEqualTo(before);

    // An epoch below the snapshot's.
    stage(f.old(), "r4", snapshot);
    assertThat(code(end(f.old(), "r4", snapshot.sha256(), snapshot.size(), 1)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(f.old().hash()).isEqualTo(before);
  }

  @Test
  void aPrimaryRefusesWithFailedPrecondition() {
    Failover f = Failover.happened();
    Snapshot snapshot = Snapshot.of(f.old().state, 100);
    ApplyResult r = begin(f.next(), "r1", snapshot.manifest());
    assertThat(code(r)).isEqualTo(Error.Code.FAILED_PRECONDITION);
    assertThat(r.result().getError().getMessage()).contains("fence it first");
    assertThat(f.next().state.stagedReset()).isEmpty();
  }

  @Test
  void partsMustComeInOrderAndANewBeginDropsAnUnfinishedStaging() {
    Failover f = Failover.happened();
    Snapshot snapshot = Snapshot.of(f.next().state, 100);
    f.old().ok(begin(f.old(), "r1", snapshot.manifest()));
    assertThat(code(part(f.old(), "r1", 1, snapshot.parts().get(1))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    f.old().ok(part(f.old(), "r1", 0, snapshot.parts().get(0)));
    assertThat(code(part(f.old(), "other", 1, snapshot.parts().get(1))))
        .isEqualTo(Error.Code.FAILED_PRECONDITION);

    f.old().ok(reset(f.old(), snapshot));
    assertThat(f.old().state.contentHash()).isEqualTo(f.next().state.contentHash());
  }

  @Test
  void theStagingSurvivesASnapshotRoundTripMidReset() {
    Failover f = Failover.happened();
    Snapshot snapshot = Snapshot.of(f.next().state, 64);
    int half = snapshot.parts().size() / 2;
    f.old().ok(begin(f.old(), "r1", snapshot.manifest()));
    for (int i = 0; i < half; i++) {
      f.old().ok(part(f.old(), "r1", i, snapshot.parts().get(i)));
    }
    Shard restarted = new Shard(f.old().reloaded());
    restarted.now = f.old().now;
    restarted.term = f.old().term;
    assertThat(restarted.hash()).isEqualTo(f.old().hash());
    assertThat(restarted.state.stagedReset()).contains("r1");

    for (Shard s : List.of(f.old(), restarted)) {
      for (int i = half; i < snapshot.parts().size(); i++) {
        s.ok(part(s, "r1", i, snapshot.parts().get(i)));
      }
      s.ok(end(s, "r1", snapshot.sha256(), snapshot.size(), 2));
    }
    assertThat(restarted.hash()).isEqualTo(f.old().hash());
    assertThat(restarted.state.contentHash()).isEqualTo(f.next().state.contentHash());
  }

  @Test
  void replicatedBatchesAreRefusedWhileAResetIsStaged() {
    Failover f = Failover.happened();
    f.old().ok(f.old().setRole(Role.STANDBY, 2));
    Snapshot snapshot = Snapshot.of(f.next().state, 100);
    f.old().ok(begin(f.old(), "r1", snapshot.manifest()));

    ApplyResult refused = f.old().applyReplicated(List.of(), 0);
    assertThat(code(refused)).isEqualTo(Error.Code.FAILED_PRECONDITION);
    assertThat(refused.result().getError().getMessage()).contains("reset r1");

    f.old()
        .ok(
            f.old()
                .apply(
                    Command.newBuilder()
                        .setResetEnd(ResetEnd.newBuilder().setResetId("r1").setAbandon(true))));
    assertThat(f.old().state.stagedReset()).isEmpty();
    f.old().ok(f.old().applyReplicated(List.of(), 0));
  }

  @Test
  void thisClustersLimitsStay() {
    Failover f = Failover.happened();
    f.old().ok(f.old().setSettings(1L << 28, 500));
    f.old().ok(reset(f.old(), Snapshot.of(f.next().state, 1 << 20)));
    assertThat(f.old().state.settings().getQuotaBytes()).isEqualTo(1L << 28);
    assertThat(f.old().state.settings().getDedupCapacity()).isEqualTo(500);
  }
}
