package io.meridian.cluster.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.InitShard;
import io.meridian.cluster.proto.LeaderStart;
import io.meridian.cluster.state.ShardState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotFileTest {
  @TempDir Path dir;

  private static ShardState shardWith(int keys) {
    ShardState s = new ShardState(3);
    s.apply(
        Command.newBuilder()
            .setInitShard(InitShard.newBuilder().setShard(3).setRole(Role.PRIMARY).setEpoch(1))
            .build(),
        1);
    s.apply(
        Command.newBuilder().setLeaderStart(LeaderStart.newBuilder().setLeader("n1")).build(), 1);
    for (int i = 0; i < keys; i++) {
      s.apply(
          Command.newBuilder()
              .setPut(
                  PutRequest.newBuilder()
                      .setKey("/a/k" + (i % 7))
                      .setValue(ByteString.copyFromUtf8("v" + i)))
              .build(),
          1);
    }
    return s;
  }

  private static SnapshotManifest origin() {
    return SnapshotManifest.newBuilder()
        .setCreatedMs(1234)
        .setRegion("east")
        .setMember("n1")
        .build();
  }

  @Test
  void aWrittenFileVerifiesAndDescribesItsState() throws IOException {
    ShardState s = shardWith(20);
    Path file = dir.resolve("s" + SnapshotFile.SUFFIX);
    SnapshotManifest written = SnapshotFile.write(file, s.freeze(), origin());

    assertThat(written.getShard()).isEqualTo(3);
    assertThat(written.getRevision()).isEqualTo(20);
    assertThat(written.getKeys()).isEqualTo(7);
    assertThat(written.getRegion()).isEqualTo("east");
    assertThat(written.getStateHash().toByteArray()).isEqualTo(s.contentHash());
    assertThat(SnapshotFile.readManifest(file)).isEqualTo(written);
    SnapshotFile.Verified verified = SnapshotFile.verify(file);
    assertThat(verified.state().stateHash()).isEqualTo(s.stateHash());
    // Nothing is left beside it.
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactly("s.msnap");
    }
  }

  @Test
  void theContentHashFollowsLiveKeysNotHowTheyGotThere() {
    ShardState direct = shardWith(0);
    ShardState rewritten = shardWith(0);
    put(direct, "/a/x", "2");
    put(rewritten, "/a/x", "1");
    // Same live value at the same revision would need the same history; a different value differs.
    assertThat(direct.contentHash()).isNotEqualTo(rewritten.contentHash());
    put(rewritten, "/a/y", "z");
    assertThat(rewritten.contentHash()).isNotEqualTo(shardWith(0).contentHash());
  }

  private static void put(ShardState s, String key, String value) {
    s.apply(
        Command.newBuilder()
            .setPut(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)))
            .build(),
        1);
  }

  @Test
  void aFlippedBodyByteFailsVerification() throws IOException {
    Path file = dir.resolve("s.msnap");
    SnapshotFile.write(file, shardWith(50).freeze(), origin());
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 3] ^= 0x40;
    Files.write(file, bytes);

    assertThat(SnapshotFile.readManifest(file).getRevision()).isEqualTo(50);
    assertThatThrownBy(() -> SnapshotFile.verify(file))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("s.msnap");
  }

  @Test
  void aTruncatedOrForeignFileIsNamedAsSuch() throws IOException {
    Path file = dir.resolve("s.msnap");
    SnapshotFile.write(file, shardWith(5).freeze(), origin());
    byte[] bytes = Files.readAllBytes(file);
    Path truncated = dir.resolve("t.msnap");
    Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 3));
    assertThatThrownBy(() -> SnapshotFile.readManifest(truncated))
        .hasMessageContaining("not a snapshot file");
    Path foreign = dir.resolve("f.msnap");
    Files.writeString(foreign, "hello");
    assertThatThrownBy(() -> SnapshotFile.verify(foreign)).hasMessageContaining("not a snapshot");
    Path manifestFlip = dir.resolve("m.msnap");
    byte[] flipped = bytes.clone();
    flipped[bytes.length - 20] ^= 0x01;
    Files.write(manifestFlip, flipped);
    assertThatThrownBy(() -> SnapshotFile.readManifest(manifestFlip))
        .hasMessageContaining("corrupt snapshot manifest");
  }

  @Test
  void anExistingFileIsNeverOverwrittenAndAnUnfinishedOneLeavesNothing() throws IOException {
    Path file = dir.resolve("s.msnap");
    Files.writeString(file, "keep");
    assertThatThrownBy(() -> SnapshotFile.write(file, shardWith(1).freeze(), origin()))
        .hasMessageContaining("never overwritten");
    assertThat(Files.readString(file)).isEqualTo("keep");

    Path other = dir.resolve("o.msnap");
    try (SnapshotFile.Writer writer = SnapshotFile.create(other)) {
      writer.body().write(new byte[] {1, 2, 3});
    }
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).isEqualTo(List.of("s.msnap"));
    }
  }
}
