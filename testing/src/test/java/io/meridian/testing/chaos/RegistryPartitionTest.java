package io.meridian.testing.chaos;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short, seeded run of the registry partition on every build: most instances fall silent while
 * followers fail, and self-preservation must keep them. A class of its own, so that it runs beside
 * {@link ChaosTest} rather than after it.
 */
@Tag("cluster")
class RegistryPartitionTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsNamespaces() {
    ChaosTest.assumeNamespaces();
  }

  @Test
  void selfPreservationKeepsSilencedInstancesWhileFollowersFail() throws Exception {
    ChaosTest.assertValid(
        ChaosScenario.REGISTRY_PARTITION.run(
            dir,
            ChaosTest.seed(3),
            Duration.ofSeconds(20),
            Duration.ofSeconds(2),
            Duration.ofSeconds(1)));
  }
}
