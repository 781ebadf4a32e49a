package io.meridian.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.v1.Error;
import org.junit.jupiter.api.Test;

/** How a request names its shard: a lease id, or the {@code meridian-shard} header. */
class ShardOfRequestTest {
  @Test
  void aLeaseIdNamesItsShard() {
    assertThat(LeaseId.shardOfRequested(LeaseId.of(7, 42))).isEqualTo(7);
  }

  @Test
  void aLeaseIdNoGrantReturnsIsRefused() {
    for (long id : new long[] {0, -1}) {
      assertThatThrownBy(() -> LeaseId.shardOfRequested(id))
          .isInstanceOfSatisfying(
              MeridianException.class,
              e -> assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT))
          .hasMessageContaining("expected: a positive id from Grant");
    }
  }

  @Test
  void theHeaderNamesAShardNumber() {
    assertThat(ShardHeader.parse(" 3 ")).isEqualTo(3);
    assertThat(ShardHeader.parse("32767")).isEqualTo(LeaseId.MAX_SHARD);
  }

  @Test
  void aHeaderThatIsNoShardNumberIsRefused() {
    for (String value : new String[] {"x", "", "-1", "32768"}) {
      assertThatThrownBy(() -> ShardHeader.parse(value))
          .isInstanceOfSatisfying(
              MeridianException.class,
              e -> assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT))
          .hasMessage("meridian-shard: " + value + " (expected: a shard number 0..32767)");
    }
  }
}
