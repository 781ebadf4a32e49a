package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.TxnRequest;
import io.meridian.cluster.internal.ApplyResult;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CompactionAndQuotaTest {
  @Test
  void compactionDropsSupersededVersionsOnly() {
    Shard s = Shard.primary();
    s.ok(s.put("/a/k", "1")); // 1
    s.ok(s.put("/a/k", "2")); // 2
    s.ok(s.put("/a/d", "x")); // 3
    s.ok(s.delete("/a/d")); // 4
    s.ok(s.put("/a/k", "3")); // 5
    long bytesBefore = s.state.stats().stateBytes();
    ApplyResult r = s.ok(s.compact(4));
    assertThat(r.revision()).isEqualTo(5);
    assertThat(r.changes()).isEmpty();
    assertThat(s.state.compactRevision()).isEqualTo(4);
    // Version 2 of /a/k stays readable at 4; /a/d's history is gone.
    assertThat(read(s, "/a/k", 4)).isEqualTo("2");
    assertThat(read(s, "/a/k", 5)).isEqualTo("3");
    assertThat(
            s.state
                .range(RangeRequest.newBuilder().setKey("/a/d").setRevision(4).build())
                .getKvsCount())
        .isZero();
    assertThatThrownBy(
            () -> s.state.range(RangeRequest.newBuilder().setKey("/a/k").setRevision(3).build()))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> {
              assertThat(e.code()).isEqualTo(Error.Code.COMPACTED);
              assertThat(e.details()).isEqualTo(Map.of("compact_revision", "4"));
            });
    // /a/k v1, /a/d x and its tombstone: 3 versions of 64 + key + value bytes.
    assertThat(bytesBefore - s.state.stats().stateBytes())
        .isEqualTo((64 + 4 + 1) + (64 + 4 + 1) + (64 + 4));
    assertThat(code(s.compact(4))).isEqualTo(Error.Code.COMPACTED);
    assertThat(code(s.compact(6))).isEqualTo(Error.Code.FUTURE_REVISION);
    assertThat(s.reloaded().stateHash()).isEqualTo(s.hash());
  }

  @Test
  void compactionIsAllowedInAnyRole() {
    Shard s = Shard.primary();
    s.ok(s.put("/a/k", "1"));
    s.ok(s.put("/a/k", "2"));
    s.ok(s.setRole(io.meridian.api.v1.Role.STANDBY, 2));
    s.ok(s.compact(2));
  }

  private static String read(Shard s, String key, long rev) {
    return s.state
        .range(RangeRequest.newBuilder().setKey(key).setRevision(rev).build())
        .getKvs(0)
        .getValue()
        .toStringUtf8();
  }

  @Test
  void quotaRefusesGrowthRaisesAlarmAndClearsAfterFreeing() {
    // Each put of "/a/kN" with a 100-byte value costs 64 + 5 + 100 = 169 bytes.
    Shard s = Shard.primary(1000, 100);
    String value = "v".repeat(100);
    for (int i = 0; i < 5; i++) {
      s.ok(s.put("/a/k" + i, value));
    }
    assertThat(s.state.stats().stateBytes()).isEqualTo(845);
    byte[] before = s.hash();
    ApplyResult refused = s.put("/a/k5", value);
    assertThat(code(refused)).isEqualTo(Error.Code.NO_SPACE);
    assertThat(refused.result().getError().getMessage()).contains("run compaction or delete keys");
    assertThat(s.state.stats().noSpaceAlarm()).isTrue();
    assertThat(s.hash()).isNotEqualTo(before); // the alarm is state
    // With the alarm on, even a small growing write is refused; a lease grant too.
    assertThat(code(s.put("/a/s", ""))).isEqualTo(Error.Code.NO_SPACE);
    assertThat(code(s.grantResult("a", 1000, 0))).isEqualTo(Error.Code.NO_SPACE);
    assertThat(code(s.txn(TxnRequest.newBuilder().addSuccess(Shard.opPut("/a/t", "")))))
        .isEqualTo(Error.Code.NO_SPACE);
    // Deletes are allowed but add tombstones; compaction frees space and clears the alarm.
    s.ok(s.delete("/a/k0"));
    s.ok(s.delete("/a/k1"));
    assertThat(s.state.stats().noSpaceAlarm()).isTrue();
    s.ok(s.compact(s.state.revision()));
    assertThat(s.state.stats().stateBytes()).isEqualTo(3 * 169);
    assertThat(s.state.stats().noSpaceAlarm()).isFalse();
    s.ok(s.put("/a/k5", value));
    assertThat(s.reloaded().stats()).isEqualTo(s.state.stats());
  }

  @Test
  void lockAcquireCountsAgainstTheQuota() {
    Shard s = Shard.primary(300, 100);
    long lease = s.grant("a"); // 128
    assertThat(code(s.put("/a/k", "v".repeat(200)))).isEqualTo(Error.Code.NO_SPACE);
    s.ok(s.compact(s.state.revision()));
    assertThat(s.state.stats().noSpaceAlarm()).isFalse();
    // A lock key is ~ 64 + 45 + value: fits once, not twice.
    s.ok(s.acquire("/a/l1", lease, LockMode.EXCLUSIVE, 0));
    assertThat(code(s.acquire("/a/l2", lease, LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.NO_SPACE);
    // Releases are always allowed.
    s.ok(s.release("/a/l1", lease));
  }

  /**
   * Limits are replicated state: set by InitShard, changed by SetSettings, kept in snapshots. Two
   * replicas of one log apply alike whatever their nodes' configs say.
   */
  @Test
  void settingsComeFromTheLogAndSurviveASnapshot() {
    Shard s = Shard.primary(1L << 20, 50);
    assertThat(s.state.settings().getQuotaBytes()).isEqualTo(1L << 20);
    assertThat(s.state.stats().quotaBytes()).isEqualTo(1L << 20);
    ApplyResult set = s.ok(s.setSettings(2L << 20, 7));
    assertThat(set.revision()).as("metadata: no revision").isZero();
    assertThat(s.state.settings().getDedupCapacity()).isEqualTo(7);
    assertThat(s.reloaded().settings()).isEqualTo(s.state.settings());
    byte[] before = s.hash();
    ApplyResult bad = s.setSettings(0, 7);
    assertThat(code(bad)).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(bad.result().getError().getMessage()).contains("settings.quota_bytes");
    assertThat(code(s.setSettings(1L << 20, -1))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(s.hash()).isEqualTo(before);
  }

  /** What the dedup table remembers is state: it counts toward the quota like keys do. */
  @Test
  void rememberedOutcomesCountTowardTheQuota() {
    Shard plain = Shard.primary(Shard.QUOTA, 1000);
    Shard deduped = Shard.primary(Shard.QUOTA, 1000);
    for (int i = 0; i < 20; i++) {
      plain.ok(plain.put("/a/k" + i, "v"));
      deduped.ok(deduped.putOnce("request-" + i, "/a/k" + i, "v"));
    }
    long remembered = deduped.state.stats().stateBytes() - plain.state.stats().stateBytes();
    assertThat(remembered).as("20 remembered put results").isGreaterThan(20 * 20);
    // Shrinking the table forgets the oldest outcomes, and their bytes.
    deduped.ok(deduped.setSettings(Shard.QUOTA, 5));
    assertThat(deduped.state.stats().stateBytes() - plain.state.stats().stateBytes())
        .isBetween(remembered / 5, remembered / 3);
    // With a quota that the outcomes fill, growing writes are refused.
    Shard small = Shard.primary(plain.state.stats().stateBytes() + remembered / 2, 1000);
    Error.Code last = null;
    for (int i = 0; i < 20 && last == null; i++) {
      ApplyResult r = small.putOnce("request-" + i, "/a/k" + i, "v");
      if (r.result().hasError()) {
        last = r.result().getError().getCode();
      }
    }
    assertThat(last).isEqualTo(Error.Code.NO_SPACE);
  }
}
