package io.meridian.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ManualClockTest {
  @Test
  void standsStillUntilAdvanced() {
    ManualClock clock = new ManualClock(1_000);
    assertThat(clock.nowMillis()).isEqualTo(1_000);
    assertThat(clock.monotonicMillis()).isZero();
    clock.advance(Duration.ofMillis(250));
    assertThat(clock.nowMillis()).isEqualTo(1_250);
    assertThat(clock.monotonicMillis()).isEqualTo(250);
  }

  @Test
  void aWallStepLeavesMonotonicTimeAlone() {
    ManualClock clock = new ManualClock(10_000);
    clock.stepWall(Duration.ofMillis(-5_000));
    assertThat(clock.nowMillis()).isEqualTo(5_000);
    assertThat(clock.monotonicMillis()).isZero();
  }

  @Test
  void refusesToAdvanceBackwards() {
    ManualClock clock = new ManualClock(0);
    assertThatThrownBy(() -> clock.advance(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected: >= 0");
  }
}
