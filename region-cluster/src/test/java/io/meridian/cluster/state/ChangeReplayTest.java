package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.backup.ChangeReplay;
import io.meridian.cluster.backup.SnapshotFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A snapshot rolled forward with the primary's batches reaches the primary's content. */
class ChangeReplayTest {
  private static final String TOPIC = "meridian.3.changes";
  @TempDir Path dir;
  private final Shard primary = Shard.primary();

  private SnapshotFile.Verified snapshot() throws IOException {
    Path file = dir.resolve("r" + primary.state.revision() + SnapshotFile.SUFFIX);
    SnapshotFile.write(file, primary.state.freeze(), SnapshotManifest.getDefaultInstance());
    return SnapshotFile.verify(file);
  }

  private List<ChangeBatch> after(long revision) {
    return primary.state.changeBatches(0, revision, Integer.MAX_VALUE);
  }

  @Test
  void aPrimarySnapshotReplaysToThePrimarysContentAndKeepsItsRole() throws IOException {
    long lease = primary.grant("app");
    primary.ok(primary.put("/app/k1", "1", lease));
    primary.ok(primary.put("/a/k2", "1"));
    SnapshotFile.Verified snap = snapshot();
    long snapRevision = primary.state.revision();
    primary.ok(primary.put("/app/k1", "2", lease));
    primary.ok(primary.delete("/a/k2"));
    primary.ok(primary.revoke(lease));
    primary.ok(primary.put("/a/k3", "3"));

    ChangeReplay replay = new ChangeReplay(snap);
    long offset = 0;
    for (ChangeBatch b : after(0)) { // from revision 1: those in the snapshot are skipped
      assertThat(replay.apply(b, TOPIC, offset++)).isEqualTo(b.getRevision() > snapRevision);
    }
    ShardState restored = replay.finish();

    assertThat(replay.applied()).isEqualTo(primary.state.revision() - snapRevision);
    assertThat(restored.revision()).isEqualTo(primary.state.revision());
    assertThat(restored.contentHash()).isEqualTo(primary.state.contentHash());
    assertThat(restored.replicationState().getChainHash())
        .isEqualTo(primary.state.replicationState().getChainHash());
    assertThat(restored.role()).isEqualTo(Role.PRIMARY);
    assertThat(restored.epoch()).isEqualTo(primary.state.epoch());
    assertThat(restored.replicationState().getSource().getOffset()).isEqualTo(offset - 1);
  }

  @Test
  void aMissingRevisionIsAGapNamingItsOffsetAndTheStateStaysWhereItWas() throws IOException {
    SnapshotFile.Verified snap = snapshot();
    for (int i = 0; i < 4; i++) {
      primary.ok(primary.put("/a/k", "v" + i));
    }
    List<ChangeBatch> batches = after(0);
    ChangeReplay replay = new ChangeReplay(snap);
    replay.apply(batches.get(0), TOPIC, 10);
    assertThatThrownBy(() -> replay.apply(batches.get(2), TOPIC, 12))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> {
              assertThat(e.code()).isEqualTo(Error.Code.REVISION_GAP);
              assertThat(e.getMessage())
                  .contains("offset 12", "revision 3", "stopped at revision 1");
              assertThat(e.details()).containsEntry("offset", "12");
            });
    assertThat(replay.revision()).isEqualTo(1);
  }

  @Test
  void aBatchThatDoesNotExtendTheChainIsAMismatch() throws IOException {
    primary.ok(primary.put("/a/k", "1"));
    SnapshotFile.Verified snap = snapshot();
    primary.ok(primary.put("/a/k", "2"));
    ChangeBatch real = after(1).get(0);
    ChangeBatch forged =
        real.toBuilder()
            .setOps(
                0,
                real.getOps(0).toBuilder()
                    .setPut(real.getOps(0).getPut().toBuilder().setValue(Shard.bytes("evil"))))
            .build();
    ChangeReplay replay = new ChangeReplay(snap);
    assertThatThrownBy(() -> replay.apply(forged, TOPIC, 5))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> {
              assertThat(e.code()).isEqualTo(Error.Code.CHAIN_MISMATCH);
              assertThat(e.getMessage()).contains("offset 5", "revision 2");
            });
    assertThat(replay.apply(real, TOPIC, 6)).isTrue();
    assertThat(replay.finish().contentHash()).isEqualTo(primary.state.contentHash());
  }

  @Test
  void batchesOfANewerEpochMoveTheEpochAndOlderOnesAreFenced() throws IOException {
    primary.ok(primary.put("/a/k", "1"));
    SnapshotFile.Verified snap = snapshot();
    primary.ok(primary.setRole(Role.STANDBY, 1));
    primary.ok(primary.setRole(Role.PRIMARY, 2)); // a failover: epoch 2 from revision 2
    primary.ok(primary.put("/a/k", "2"));
    ChangeReplay replay = new ChangeReplay(snap);
    replay.apply(after(1).get(0), TOPIC, 1);
    ShardState restored = replay.finish();
    assertThat(restored.epoch()).isEqualTo(2);
    assertThat(restored.epochHistory()).isEqualTo(primary.state.epochHistory());

    ChangeReplay older = new ChangeReplay(snapshotAtEpoch2());
    ChangeBatch stale = after(1).get(0).toBuilder().setEpoch(1).setRevision(3).build();
    assertThatThrownBy(() -> older.apply(stale, TOPIC, 9))
        .isInstanceOfSatisfying(
            MeridianException.class, e -> assertThat(e.code()).isEqualTo(Error.Code.FENCED));
  }

  private SnapshotFile.Verified snapshotAtEpoch2() throws IOException {
    assertThat(primary.state.epoch()).isEqualTo(2);
    return snapshot();
  }
}
