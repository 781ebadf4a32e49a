package io.meridian.testing.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The lock-set checker on histories whose verdict is known, so that it cannot pass vacuously. */
class LockSetTest {
  private static LockSet.Hold hold(int client, long token, long from, long to) {
    return new LockSet.Hold(client, 100 + client, token, from - 1, from, to);
  }

  @Test
  void theSameGrantAnsweredAgainToItsLeaseIsOneHold() {
    // The release's answer was lost, so the lease still held the lock and got the same grant back.
    Verdict v = LockSet.check(List.of(hold(0, 10, 10, 20), hold(0, 10, 21, 30)), List.of());
    assertThat(v.valid()).as(v.toString()).isTrue();
    // The same token for another lease is still a violation.
    Verdict other =
        LockSet.check(
            List.of(hold(0, 10, 10, 20), new LockSet.Hold(0, 999, 10, 20, 21, 30)), List.of());
    assertThat(other.explanation()).contains("granted twice");
  }

  @Test
  void holdsInTurnWithRisingTokensAndFencedWritesAreValid() {
    List<LockSet.Hold> holds = List.of(hold(0, 10, 10, 20), hold(1, 12, 25, 30));
    List<LockSet.FencedWrite> writes =
        List.of(
            new LockSet.FencedWrite(0, 10, 15, true),
            new LockSet.FencedWrite(1, 12, 26, true),
            new LockSet.FencedWrite(0, 10, 27, false));
    Verdict v = LockSet.check(holds, writes);
    assertThat(v.valid()).as(v.toString()).isTrue();
  }

  @Test
  void twoValidHoldsAtOnceAreAViolation() {
    Verdict v = LockSet.check(List.of(hold(0, 10, 10, 20), hold(1, 12, 18, 30)), List.of());
    assertThat(v.valid()).isFalse();
    assertThat(v.explanation()).contains("two valid holds at once");
  }

  @Test
  void aHoldWhoseLeaseMayHaveEndedDoesNotOverlap() {
    // The first holder's lease may have run out at 17: the second grant at 18 is sound.
    Verdict v = LockSet.check(List.of(hold(0, 10, 10, 17), hold(1, 12, 18, 30)), List.of());
    assertThat(v.valid()).as(v.toString()).isTrue();
  }

  @Test
  void aTokenThatGoesBackOrRepeatsIsAViolation() {
    assertThat(
            LockSet.check(List.of(hold(0, 12, 10, 20), hold(1, 10, 25, 30)), List.of())
                .explanation())
        .contains("token went back");
    assertThat(
            LockSet.check(List.of(hold(0, 12, 10, 20), hold(1, 12, 25, 30)), List.of())
                .explanation())
        .contains("granted twice");
  }

  @Test
  void aStaleTokenAcceptedAfterANewerGrantIsAViolation() {
    List<LockSet.Hold> holds = List.of(hold(0, 10, 10, 20), hold(1, 12, 25, 30));
    Verdict v = LockSet.check(holds, List.of(new LockSet.FencedWrite(0, 10, 27, true)));
    assertThat(v.valid()).isFalse();
    assertThat(v.explanation()).contains("stale token accepted");
  }
}
