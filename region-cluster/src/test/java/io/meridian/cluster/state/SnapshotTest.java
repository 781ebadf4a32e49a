package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.proto.SnapshotHeader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class SnapshotTest {
  private static Shard build(Consumer<Shard> extra) {
    Shard s = Shard.primary();
    long lease = s.grant("a");
    s.ok(s.put("/a/k", "1", lease));
    s.ok(s.put("/a/k", "2"));
    s.ok(s.put("/b/j", "x"));
    s.ok(s.acquire("/a/l", lease, LockMode.EXCLUSIVE, 0));
    s.ok(s.checkpoint(lease, 777));
    extra.accept(s);
    return s;
  }

  private static byte[] bytes(ShardState state) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    state.writeSnapshot(out);
    return out.toByteArray();
  }

  @Test
  void equalHistoriesHaveEqualHashesAndDifferentOnesDiffer() {
    assertThat(build(s -> {}).hash()).isEqualTo(build(s -> {}).hash());
    assertThat(build(s -> s.ok(s.put("/a/z", "1"))).hash()).isNotEqualTo(build(s -> {}).hash());
    // Metadata is state too, although it does not bump the revision.
    assertThat(build(s -> s.ok(s.leaderStart(9))).hash()).isNotEqualTo(build(s -> {}).hash());
  }

  @Test
  void roundTripKeepsEverything() throws IOException {
    Shard s = build(s0 -> s0.ok(s0.compact(2)));
    byte[] snapshot = bytes(s.state);
    ShardState copy = ShardState.readSnapshot(new ByteArrayInputStream(snapshot));
    assertThat(bytes(copy)).isEqualTo(snapshot);
    assertThat(copy.revision()).isEqualTo(s.state.revision());
    assertThat(copy.compactRevision()).isEqualTo(2);
    assertThat(copy.leases("")).isEqualTo(s.state.leases(""));
    assertThat(copy.stats()).isEqualTo(s.state.stats());
    RangeRequest past = RangeRequest.newBuilder().setKey("/a/k").setRevision(2).build();
    assertThat(copy.range(past)).isEqualTo(s.state.range(past));
    // The next generated lease id continues the sequence.
    Shard c = new Shard(copy);
    assertThat(c.grant("a")).isEqualTo(s.grant("a"));
    assertThat(c.hash()).isEqualTo(s.hash());
  }

  @Test
  void aFrozenStateIsUnchangedByEverythingAppliedAfterIt() throws IOException {
    Shard s = build(s0 -> s0.ok(s0.putOnce("req-1", "/a/once", "1")));
    byte[] before = bytes(s.state);
    ShardState.Frozen frozen = s.state.freeze();
    assertThat(frozen.revision()).isEqualTo(s.state.revision());
    // Every table the snapshot holds changes: key histories (new versions, a deletion, compaction
    // dropping versions), leases (grant, checkpoint, revoke), remembered request ids and the change
    // journal (appends, then a trim by compaction).
    long lease = s.grant("a");
    s.ok(s.put("/a/k", "3", lease));
    s.ok(s.delete("/b/j"));
    s.ok(s.putOnce("req-2", "/a/twice", "2"));
    s.ok(s.checkpoint(lease, 555));
    s.ok(s.revoke(lease));
    s.ok(s.compact(s.state.revision() - 1));
    s.ok(s.setSettings(1L << 30, 1));
    assertThat(bytes(s.state)).isNotEqualTo(before);

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    frozen.writeTo(out);
    assertThat(out.toByteArray()).isEqualTo(before);
    // And it loads as the state it was.
    assertThat(bytes(ShardState.readSnapshot(new ByteArrayInputStream(before)))).isEqualTo(before);
  }

  @Test
  void damagedSnapshotsAreRefused() throws IOException {
    byte[] snapshot = bytes(build(s -> {}).state);
    assertThatThrownBy(
            () ->
                ShardState.readSnapshot(
                    new ByteArrayInputStream(Arrays.copyOf(snapshot, snapshot.length - 3))))
        .isInstanceOf(IOException.class);
    ByteArrayOutputStream future = new ByteArrayOutputStream();
    SnapshotHeader.newBuilder().setFormatVersion(99).build().writeDelimitedTo(future);
    assertThatThrownBy(
            () -> ShardState.readSnapshot(new ByteArrayInputStream(future.toByteArray())))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("format");
    assertThatThrownBy(() -> ShardState.readSnapshot(new ByteArrayInputStream(new byte[0])))
        .isInstanceOf(IOException.class);
  }
}
