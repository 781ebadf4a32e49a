package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.Error;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.DedupTable;
import io.meridian.cluster.proto.Command;
import org.junit.jupiter.api.Test;

class DedupTest {
  private static Command.Builder put(String requestId, String key, String value) {
    return Command.newBuilder().setRequestId(requestId).setPut(Shard.putReq(key, value, 0));
  }

  @Test
  void aRetriedRequestAppliesOnce() {
    Shard s = Shard.primary();
    ApplyResult first = s.ok(s.apply(put("r1", "/a/k", "v1")));
    s.ok(s.put("/a/k", "v2"));
    ApplyResult again = s.apply(put("r1", "/a/k", "v1"));
    assertThat(again.duplicate()).isTrue();
    assertThat(again.result()).isEqualTo(first.result());
    assertThat(again.changes()).isEmpty();
    assertThat(again.revision()).isEqualTo(2);
    assertThat(s.value("/a/k")).isEqualTo("v2");
    // Survives a snapshot.
    Shard copy = new Shard(s.reloaded());
    copy.now = s.now;
    assertThat(copy.apply(put("r1", "/a/k", "v1")).duplicate()).isTrue();
  }

  @Test
  void errorsAreNotRemembered() {
    Shard s = Shard.primary();
    assertThat(code(s.apply(put("r1", "/a/.meridian/k", "v")))).isEqualTo(Error.Code.RESERVED_KEY);
    assertThat(code(s.apply(put("r1", "/a/.meridian/k", "v")))).isEqualTo(Error.Code.RESERVED_KEY);
    ApplyResult ok = s.ok(s.apply(put("r1", "/a/k", "v")));
    assertThat(ok.duplicate()).isFalse();
  }

  @Test
  void idsAreForgottenAfterTenMinutesOrWhenOverCapacity() {
    Shard s = Shard.primary(Shard.QUOTA, 2);
    s.ok(s.apply(put("r1", "/a/k", "1")));
    s.ok(s.apply(put("r2", "/a/k", "2")));
    s.ok(s.apply(put("r3", "/a/k", "3")));
    // r1 was evicted (capacity 2, oldest first).
    assertThat(s.apply(put("r1", "/a/k", "1")).duplicate()).isFalse();
    assertThat(s.apply(put("r3", "/a/k", "3")).duplicate()).isTrue();
    s.now += DedupTable.RETENTION_MS;
    assertThat(s.apply(put("r3", "/a/k", "3")).duplicate()).isTrue();
    s.now += 1;
    assertThat(s.apply(put("r3", "/a/k", "3")).duplicate()).isFalse();
  }
}
