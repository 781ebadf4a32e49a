package io.meridian.cluster.registry;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The leader's self-preservation decision, driven by explicit times. */
class SelfPreservationTest {
  private final SelfPreservation sp = new SelfPreservation(true, 0.85, 10, 60_000);

  /** 20 instances each promising a heartbeat per second. */
  private static double promised(long windowMs) {
    return 20 * windowMs / 1000.0;
  }

  @Test
  void theFirstWindowAfterALeaderChangeIsSkipped() {
    sp.renewed(1); // counted before the window opened: not part of any window
    assertThat(sp.evaluate(0, 20, SelfPreservationTest::promised, false)).isEmpty();
    assertThat(sp.lastRatio()).isNaN();
    // A full window without renewals now turns it on.
    Optional<SelfPreservation.Decision> d =
        sp.evaluate(60_000, 20, SelfPreservationTest::promised, false);
    assertThat(d).isPresent();
    assertThat(d.get().active()).isTrue();
    assertThat(d.get().ratio()).isZero();
    assertThat(d.get().reason()).contains("renewal ratio 0.00 < threshold 0.85");
  }

  @Test
  void turnsOnBelowTheThresholdAndOffWhenRenewalsRecover() {
    sp.evaluate(0, 20, SelfPreservationTest::promised, false);
    renew(1000); // 1000 of 1200 promised in a minute: 0.83
    Optional<SelfPreservation.Decision> on =
        sp.evaluate(60_000, 20, SelfPreservationTest::promised, false);
    assertThat(on.orElseThrow().active()).isTrue();
    assertThat(sp.lastRatio()).isCloseTo(1000 / 1200.0, org.assertj.core.data.Offset.offset(1e-9));

    renew(1100); // 0.92: recovered
    Optional<SelfPreservation.Decision> off =
        sp.evaluate(120_000, 20, SelfPreservationTest::promised, true);
    assertThat(off.orElseThrow().active()).isFalse();

    renew(1200); // healthy and already off: nothing to commit
    assertThat(sp.evaluate(180_000, 20, SelfPreservationTest::promised, false)).isEmpty();
  }

  @Test
  void aWindowShorterThanTheCheckIntervalKeepsCounting() {
    sp.evaluate(0, 20, SelfPreservationTest::promised, false);
    renew(600);
    assertThat(sp.evaluate(30_000, 20, SelfPreservationTest::promised, false)).isEmpty();
    assertThat(sp.lastRatio()).isNaN();
    renew(600);
    assertThat(sp.evaluate(60_000, 20, SelfPreservationTest::promised, false)).isEmpty();
    assertThat(sp.lastRatio()).isEqualTo(1.0);
  }

  @Test
  void instancesRegisteredDuringAWindowAreNotCountedAsMissedRenewals() {
    // 20 instances when the window opens; 200 more arrive during it and renew once each.
    sp.evaluate(0, 20, SelfPreservationTest::promised, false);
    renew(1200 + 200);
    assertThat(sp.evaluate(60_000, 220, w -> 220 * w / 1000.0, false)).isEmpty();
    assertThat(sp.lastRatio()).isGreaterThan(0.85);
  }

  @Test
  void tooFewInstancesNeverTurnItOnAndTurnItOff() {
    sp.evaluate(0, 9, SelfPreservationTest::promised, false);
    assertThat(sp.evaluate(60_000, 9, SelfPreservationTest::promised, false)).isEmpty();
    Optional<SelfPreservation.Decision> off =
        sp.evaluate(120_000, 9, SelfPreservationTest::promised, true);
    assertThat(off.orElseThrow().active()).isFalse();
    assertThat(off.get().reason()).contains("fewer than min-instances 10");
  }

  @Test
  void whenDisabledItIsOnlyEverTurnedOff() {
    SelfPreservation disabled = new SelfPreservation(false, 0.85, 10, 60_000);
    disabled.evaluate(0, 20, SelfPreservationTest::promised, false);
    assertThat(disabled.evaluate(60_000, 20, SelfPreservationTest::promised, false)).isEmpty();
    assertThat(
            disabled
                .evaluate(120_000, 20, SelfPreservationTest::promised, true)
                .orElseThrow()
                .active())
        .isFalse();
  }

  @Test
  void restartForgetsWhatWasCounted() {
    sp.evaluate(0, 20, SelfPreservationTest::promised, false);
    renew(1200);
    sp.restart();
    assertThat(sp.evaluate(60_000, 20, SelfPreservationTest::promised, false)).isEmpty();
    assertThat(sp.lastRatio()).isNaN();
  }

  private void renew(int times) {
    for (int i = 0; i < times; i++) {
      sp.renewed(1);
    }
  }
}
