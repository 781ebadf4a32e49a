package io.meridian.testing.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Long chaos runs, behind {@code -Pchaos}: every scenario of {@code -Dmeridian.chaos.scenarios}
 * (default all) on each seed of {@code -Dmeridian.chaos.seeds} (default {@code 1,2,3}), each run
 * {@code -Dmeridian.chaos.minutes} long (default 10). Every run's line goes to {@code
 * target/chaos/soak.txt}, the table {@code docs/reliability.md} reports; a violation's evidence is
 * under {@code target/chaos/}.
 *
 * <pre>
 * mvn -B verify -Pchaos -pl testing -Dtest=ChaosSoakTest -Dmeridian.chaos.minutes=30
 * </pre>
 */
@Tag("chaos")
class ChaosSoakTest {
  @TempDir Path dir;

  @Test
  void longRuns() throws Exception {
    Assumptions.assumeTrue(
        Network.available(), "needs root and iproute2 (ip netns, tc) for the chaos network");
    Duration length = Duration.ofMinutes(Long.getLong("meridian.chaos.minutes", 10));
    List<String> failed = new ArrayList<>();
    Path table = Path.of("target", "chaos", "soak.txt");
    Files.createDirectories(table.getParent());
    for (String name :
        System.getProperty("meridian.chaos.scenarios", "FAULTS,PROCESS,NETWORK,REGISTRY_PARTITION")
            .split(",")) {
      ChaosScenario scenario = ChaosScenario.valueOf(name.trim());
      for (String seed : System.getProperty("meridian.chaos.seeds", "1,2,3").split(",")) {
        Path runDir = Files.createDirectories(dir.resolve(name + "-" + seed.trim()));
        long started = System.currentTimeMillis();
        ChaosRun.Result result =
            scenario.run(
                runDir,
                Long.parseLong(seed.trim()),
                length,
                Duration.ofSeconds(3),
                // Calm spells longer than a healed fault's aftermath: the watch liveness check
                // then judges streams on a healthy region too.
                Duration.ofSeconds(8));
        // A fault's line names it in capitals after the time; heals and the header do not.
        long faults =
            result.schedule().stream()
                .filter(l -> l.matches("\\s*[0-9.]+ s  [A-Z_]+\\b.*"))
                .count();
        String line =
            String.format(
                "%s | %s | %.1f min | %d faults | %d operations | %s",
                scenario,
                seed.trim(),
                (System.currentTimeMillis() - started) / 60_000.0,
                faults,
                result.operations(),
                result.valid() ? "0 violations" : "VIOLATION, evidence in " + result.evidence());
        Files.writeString(
            table,
            line + "\n",
            java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.APPEND);
        if (!result.valid()) {
          failed.add(line + "\n" + result);
        }
      }
    }
    assertThat(failed).as(String.join("\n\n", failed)).isEmpty();
  }
}
