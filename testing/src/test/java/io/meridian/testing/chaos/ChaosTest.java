package io.meridian.testing.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.testing.ProcessRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Short, seeded chaos runs: the register and lock-set workloads side by side against three member
 * processes while the nemesis injects one family of faults, then their checks. {@code
 * -Dmeridian.chaos.seed=N} replays a run's schedule; {@code -Dmeridian.chaos.seconds=N} lengthens
 * it. A violation's evidence is under {@code target/chaos/}. Tagged {@code chaos}: run with {@code
 * mvn -B verify -Pchaos -pl testing}.
 */
@Tag("chaos")
class ChaosTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsNamespaces() {
    Assumptions.assumeTrue(
        Network.available(), "needs root and iproute2 (ip netns, tc) for the chaos network");
  }

  private static final Function<ProcessRegion, List<Workload>> WORKLOADS =
      nodes ->
          List.of(
              new RegisterWorkload(nodes, seed(0), 4, 3, Duration.ofSeconds(2)),
              new LockWorkload(nodes, seed(0), 3),
              new WatchWorkload(nodes, seed(0), 2, 3),
              new RegistryWorkload(nodes, seed(0), 6));

  private static long seed(long fallback) {
    return Long.getLong("meridian.chaos.seed", fallback);
  }

  private static ChaosRun run(String name, long seed, Nemesis.Fault... faults) {
    return new ChaosRun(
        name,
        seed(seed),
        List.of(faults),
        Duration.ofSeconds(Integer.getInteger("meridian.chaos.seconds", 40)),
        Duration.ofSeconds(3),
        Duration.ofSeconds(2));
  }

  private void check(ChaosRun run) throws Exception {
    check(run, WORKLOADS);
  }

  private void check(ChaosRun run, Function<ProcessRegion, List<Workload>> workloads)
      throws Exception {
    ChaosRun.Result result = run.run(dir, workloads);
    // The verdicts' summaries (what was checked) are the run's record for docs/reliability.md.
    System.out.printf(
        "chaos run %s seed %d: %d operations%n%s%n",
        run.name(), run.seed(), result.operations(), result);
    assertThat(result.valid()).as(result.toString()).isTrue();
    assertThat(result.operations()).as("the workloads ran").isGreaterThan(100);
  }

  @Test
  void processFaults() throws Exception {
    check(
        run(
            "process",
            1,
            Nemesis.Fault.KILL_LEADER,
            Nemesis.Fault.KILL_FOLLOWER,
            Nemesis.Fault.PAUSE_LEADER,
            Nemesis.Fault.PAUSE_FOLLOWER,
            Nemesis.Fault.KILL_ALL));
  }

  @Test
  void networkFaults() throws Exception {
    check(
        run(
            "network",
            2,
            Nemesis.Fault.ISOLATE_LEADER,
            Nemesis.Fault.ISOLATE_FOLLOWER,
            Nemesis.Fault.LEADER_DEAF_PEERS,
            Nemesis.Fault.THROTTLE_LEADER));
  }

  /**
   * Most registry instances fall silent for longer than their TTL, as behind a partition, while
   * followers fail: self-preservation must turn on and keep them.
   */
  @Test
  void registryPartition() throws Exception {
    Duration window = Duration.ofMillis(ChaosRegion.REGISTRY_WINDOW_MS);
    check(
        run(
            "registry-partition",
            3,
            Nemesis.Fault.KILL_FOLLOWER,
            Nemesis.Fault.PAUSE_FOLLOWER,
            Nemesis.Fault.ISOLATE_FOLLOWER),
        nodes ->
            List.of(
                new RegistryWorkload(
                    nodes,
                    seed(3),
                    8,
                    new RegistryWorkload.Silence(
                        Duration.ofSeconds(5), Duration.ofSeconds(18), 6, window)),
                new WatchWorkload(nodes, seed(3), 1, 2)));
  }
}
