package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import org.junit.jupiter.api.Test;

class VoterCountTest {
  private static void check(int left, int answering, boolean force) {
    VoterCount.check("n2", 0, "east", left, () -> answering, force);
  }

  private static void assertRefused(int left, int answering, String reason) {
    assertThatThrownBy(() -> check(left, answering, false))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e ->
                org.assertj.core.api.Assertions.assertThat(e.code())
                    .isEqualTo(Error.Code.FAILED_PRECONDITION))
        .hasMessageContaining("removing voter n2 would leave " + left + " voter")
        .hasMessageContaining(reason);
  }

  @Test
  void leavesThreeFiveOrSevenAnsweringVotersOnly() {
    assertThatCode(() -> check(3, 3, false)).doesNotThrowAnyException();
    assertThatCode(() -> check(5, 3, false)).doesNotThrowAnyException();
    assertRefused(2, 2, "a cluster of 1 or 2 voters survives no failure");
    assertRefused(1, 1, "a cluster of 1 or 2 voters survives no failure");
    assertRefused(4, 4, "an even count survives no more failures than 3");
    assertRefused(6, 6, "an even count survives no more failures than 5");
    assertRefused(3, 1, "of which 1 answer the leader, fewer than their quorum of 2");
    assertRefused(5, 2, "fewer than their quorum of 3");
  }

  @Test
  void forceAllowsAnyCountButNoneLeft() {
    assertThatCode(() -> check(4, 1, true)).doesNotThrowAnyException();
    assertThatCode(() -> check(1, 0, true)).doesNotThrowAnyException();
    assertThatThrownBy(() -> check(0, 0, true))
        .isInstanceOf(MeridianException.class)
        .hasMessageContaining("the only voter");
  }
}
