package io.meridian.testing.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short, seeded chaos run on every build: every fault kind once against every workload ({@link
 * RegistryPartitionTest} is the other). {@code -Dmeridian.chaos.seed=N} replays a run's schedule
 * with another seed. A violation's evidence is under {@code target/chaos/}. Long runs are {@link
 * ChaosSoakTest}.
 */
@Tag("cluster")
class ChaosTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsNamespaces() {
    assumeNamespaces();
  }

  /** Skips the calling test where this machine cannot build the chaos network. */
  static void assumeNamespaces() {
    Assumptions.assumeTrue(
        Network.available(), "needs root and iproute2 (ip netns, tc) for the chaos network");
  }

  static long seed(long fallback) {
    return Long.getLong("meridian.chaos.seed", fallback);
  }

  static void assertValid(ChaosRun.Result result) {
    assertThat(result.valid()).as(result.toString()).isTrue();
    assertThat(result.operations()).as("the workloads ran").isGreaterThan(100);
  }

  @Test
  void everyFaultKindOnce() throws Exception {
    // A run lasts at least one round: every fault kind, held 1-3 s with 0.5-1.5 s between.
    assertValid(
        ChaosScenario.FAULTS.run(
            dir, seed(1), Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofMillis(500)));
  }
}
