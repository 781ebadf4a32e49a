package io.meridian.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.v1.Error;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class KeyPathTest {
  @Test
  void namespaceIsTheFirstSegment() {
    assertThat(KeyPath.namespaceOf("/team-a/db/users")).isEqualTo("team-a");
    assertThat(KeyPath.namespaceOf("/team-a")).isEqualTo("team-a");
  }

  @Test
  void rejectsMalformedKeysWithTheirCode() {
    assertCode(() -> KeyPath.checkWritable(""), Error.Code.INVALID_ARGUMENT);
    assertCode(() -> KeyPath.checkWritable("no-slash"), Error.Code.INVALID_ARGUMENT);
    assertCode(() -> KeyPath.checkWritable("//x"), Error.Code.INVALID_ARGUMENT);
    assertCode(() -> KeyPath.checkWritable("/bad ns/x"), Error.Code.INVALID_ARGUMENT);
    assertCode(() -> KeyPath.checkWritable("/.hidden/x"), Error.Code.INVALID_ARGUMENT);
    assertCode(
        () -> KeyPath.checkWritable("/a/" + "k".repeat(Limits.MAX_KEY_BYTES)),
        Error.Code.KEY_TOO_LARGE);
    assertCode(() -> KeyPath.checkWritable("/a/.meridian/locks/x"), Error.Code.RESERVED_KEY);
    assertCode(() -> KeyPath.checkWritable("/a/.meridian"), Error.Code.RESERVED_KEY);
  }

  @Test
  void reservedSegmentIsOnlyDirectlyUnderTheNamespace() {
    assertThat(KeyPath.isReserved("/a/.meridian/x")).isTrue();
    assertThat(KeyPath.isReserved("/a/.meridianx")).isFalse();
    assertThat(KeyPath.isReserved("/a/b/.meridian/x")).isFalse();
    assertThat(KeyPath.isReserved("/a")).isFalse();
    KeyPath.checkWritable("/a/b/.meridian/x");
  }

  @Test
  void orderIsUtf8ByteOrder() {
    List<String> keys = new ArrayList<>(List.of("/a/\uD83D\uDE00", "/a/\uFFFD", "/a/b", "/a/"));
    keys.sort(KeyPath.ORDER);
    assertThat(keys).containsExactly("/a/", "/a/b", "/a/\uFFFD", "/a/\uD83D\uDE00");
    assertThat(KeyPath.utf8Length("/a/\uD83D\uDE00")).isEqualTo(7);
  }

  @Test
  void leaseIdsEncodeTheirShard() {
    long id = LeaseId.of(7, 42);
    assertThat(LeaseId.shardOf(id)).isEqualTo(7);
    assertThat(LeaseId.sequenceOf(id)).isEqualTo(42);
    LeaseId.check(id, 7);
    assertCode(() -> LeaseId.check(id, 8), Error.Code.INVALID_ARGUMENT);
    assertCode(() -> LeaseId.check(0, 7), Error.Code.INVALID_ARGUMENT);
  }

  @Test
  void fencingTokensOrderByEpochThenRevision() {
    assertThat(FencingToken.of(2, 1)).isGreaterThan(FencingToken.of(1, FencingToken.MAX_REVISION));
    assertThat(FencingToken.epochOf(FencingToken.of(3, 99))).isEqualTo(3);
    assertThat(FencingToken.revisionOf(FencingToken.of(3, 99))).isEqualTo(99);
  }

  @Test
  void everyErrorCodeMapsToStatuses() {
    for (Error.Code code : Error.Code.values()) {
      if (code == Error.Code.UNRECOGNIZED) {
        continue;
      }
      assertThat(ErrorCodes.httpStatus(code)).isBetween(400, 599);
      assertThat(ErrorCodes.grpcStatus(code)).isNotNull();
    }
  }

  private static void assertCode(Runnable r, Error.Code code) {
    assertThatThrownBy(r::run)
        .isInstanceOf(MeridianException.class)
        .satisfies(e -> assertThat(((MeridianException) e).code()).isEqualTo(code));
  }
}
