package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.kv.KeyRange;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** {@link ShardState#restored()}: the first state of a cluster restored from a snapshot. */
class RestoredStateTest {
  private static ShardState copy(ShardState s) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    s.writeSnapshot(out);
    return ShardState.readSnapshot(new ByteArrayInputStream(out.toByteArray()));
  }

  @Test
  void historyBeforeTheRevisionIsCompactedAndTheContentAndChainStay() throws IOException {
    Shard s = Shard.primary();
    s.leaderStart(7);
    s.put("/a/x", "1");
    s.put("/a/x", "2");
    s.put("/a/gone", "1");
    s.delete("/a/gone");
    long lease = s.grant("a");
    s.put("/a/held", "h", lease);
    long revision = s.state.revision();
    byte[] content = s.state.contentHash();
    var chain = s.state.freeze().describe().getChainHash();

    ShardState restored = copy(s.state).restored();

    assertThat(restored.revision()).isEqualTo(revision);
    assertThat(restored.compactRevision()).isEqualTo(revision);
    assertThat(restored.contentHash()).isEqualTo(content);
    assertThat(restored.freeze().describe().getChainHash()).isEqualTo(chain);
    assertThat(restored.leaderTerm()).as("the new cluster's terms start again").isZero();
    assertThat(restored.lease(lease)).isPresent();
    assertThatThrownBy(
            () -> restored.changes(KeyRange.of("/a/", "", true), revision - 1, Long.MAX_VALUE))
        .isInstanceOfSatisfying(
            MeridianException.class, e -> assertThat(e.code()).isEqualTo(Error.Code.COMPACTED));
    assertThatThrownBy(
            () ->
                restored.range(
                    RangeRequest.newBuilder().setKey("/a/x").setRevision(revision - 2).build()))
        .isInstanceOfSatisfying(
            MeridianException.class, e -> assertThat(e.code()).isEqualTo(Error.Code.COMPACTED));
    assertThat(
            restored
                .range(RangeRequest.newBuilder().setKey("/a/x").build())
                .getKvs(0)
                .getValue()
                .toStringUtf8())
        .isEqualTo("2");
    assertThat(restored.changeBatches(0, revision, 10)).isEmpty();

    // Deterministic and idempotent: every member restored from one state is equal.
    ShardState other = copy(s.state).restored();
    assertThat(other.stateHash()).isEqualTo(restored.stateHash());
    assertThat(copy(restored).restored().stateHash()).isEqualTo(restored.stateHash());
  }
}
