package io.meridian.cluster.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SkewedClockTest {
  @TempDir Path dir;

  private static long skew(SkewedClock clock) {
    return clock.nowMillis() - System.currentTimeMillis();
  }

  @Test
  void theWallClockFollowsTheFileAndTheMonotonicClockDoesNot() throws Exception {
    Path file = dir.resolve("n1.clock");
    SkewedClock clock = new SkewedClock(file, "n1");
    // No file yet: no offset.
    assertThat(Math.abs(skew(clock))).isLessThan(1_000);

    Files.writeString(file, "3600000");
    await().atMost(Duration.ofSeconds(10)).until(() -> skew(clock) > 3_599_000);
    assertThat(Math.abs(clock.monotonicMillis() - System.nanoTime() / 1_000_000)).isLessThan(1_000);

    Files.writeString(file, "-60000");
    await().atMost(Duration.ofSeconds(10)).until(() -> skew(clock) < -59_000);

    // A half-written or garbled file keeps the last offset.
    Files.writeString(file, "12ab");
    await()
        .during(Duration.ofMillis(4 * SkewedClock.REFRESH_MS))
        .atMost(Duration.ofSeconds(10))
        .until(() -> skew(clock) < -59_000);

    Files.delete(file);
    await().atMost(Duration.ofSeconds(10)).until(() -> Math.abs(skew(clock)) < 1_000);
  }

  @Test
  void withoutThePropertyTheClockIsTheSystemClock() {
    System.clearProperty(SkewedClock.PROPERTY);
    assertThat(SkewedClock.fromSystemProperty("n1")).isNotInstanceOf(SkewedClock.class);
  }
}
