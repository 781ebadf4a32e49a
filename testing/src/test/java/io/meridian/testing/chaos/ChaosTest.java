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
 * Short, seeded chaos runs on every build: every fault kind once against every workload, and the
 * registry partition, one after the other (side by side, their seven processes starved each other
 * and the module's other process tests on two cores). {@code -Dmeridian.chaos.seed=N} replays a
 * run's schedule with another seed. A violation's evidence is under {@code target/chaos/}. Long
 * runs are {@link ChaosSoakTest}.
 */
@Tag("cluster")
class ChaosTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsNamespaces() {
    Assumptions.assumeTrue(
        Network.available(), "needs root and iproute2 (ip netns, tc) for the chaos network");
  }

  private static long seed(long fallback) {
    return Long.getLong("meridian.chaos.seed", fallback);
  }

  private static void assertValid(ChaosRun.Result result) {
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

  @Test
  void registryPartition() throws Exception {
    assertValid(
        ChaosScenario.REGISTRY_PARTITION.run(
            dir, seed(3), Duration.ofSeconds(20), Duration.ofSeconds(2), Duration.ofSeconds(1)));
  }
}
