package io.meridian.testing.chaos;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * The chaos scenarios: which faults the nemesis injects and which workloads run meanwhile. {@link
 * ChaosTest} runs each briefly on every build, {@link ChaosSoakTest} for long on many seeds.
 */
enum ChaosScenario {
  /**
   * Every fault kind (processes, network, clocks) against every workload of one region and its
   * router.
   */
  FAULTS(
      Kinds.all(),
      (region, seed) ->
          List.of(
              new RegisterWorkload(region.endpoints(), seed, 4, 3, Duration.ofSeconds(2)),
              new LockWorkload(region.endpoints(), seed, 3),
              new WatchWorkload(region.nodes(), seed, 2, 3),
              new RegistryWorkload(region.nodes(), seed, 6))),

  /** Process faults only (kill, pause), for long runs that tell them apart from network ones. */
  PROCESS(Kinds.PROCESS, FAULTS.workloads),

  /** Network and clock faults only (isolation, one-way cuts, a throttled link, clock steps). */
  NETWORK(Kinds.NETWORK, FAULTS.workloads),

  /**
   * Most registry instances fall silent for longer than their TTL, as behind a partition, while
   * followers fail: self-preservation must turn on and keep them. Follower faults only: a leader
   * change restarts the renewal count and would blur what is checked.
   */
  REGISTRY_PARTITION(
      List.of(
          Nemesis.Fault.KILL_FOLLOWER,
          Nemesis.Fault.PAUSE_FOLLOWER,
          Nemesis.Fault.ISOLATE_FOLLOWER),
      (region, seed) ->
          List.of(
              new RegistryWorkload(
                  region.nodes(),
                  seed,
                  8,
                  new RegistryWorkload.Silence(
                      Duration.ofSeconds(2),
                      // The TTL, and three windows to engage (one may be partial, one to commit).
                      Duration.ofSeconds(RegistryWorkload.TTL_SECONDS)
                          .plusMillis(3 * ChaosRegion.REGISTRY_WINDOW_MS),
                      6,
                      Duration.ofMillis(ChaosRegion.REGISTRY_WINDOW_MS))),
              new WatchWorkload(region.nodes(), seed, 1, 2)));

  /** The fault kinds by what they hit; a class of its own so the constants above can use them. */
  private static final class Kinds {
    static final List<Nemesis.Fault> PROCESS =
        List.of(
            Nemesis.Fault.KILL_LEADER,
            Nemesis.Fault.KILL_FOLLOWER,
            Nemesis.Fault.PAUSE_LEADER,
            Nemesis.Fault.PAUSE_FOLLOWER,
            Nemesis.Fault.PAUSE_LEADER_PAST_TTL,
            Nemesis.Fault.KILL_ALL,
            Nemesis.Fault.KILL_ROUTER,
            Nemesis.Fault.PAUSE_ROUTER);
    static final List<Nemesis.Fault> NETWORK =
        List.of(
            Nemesis.Fault.ISOLATE_LEADER,
            Nemesis.Fault.ISOLATE_FOLLOWER,
            Nemesis.Fault.LEADER_DEAF_PEERS,
            Nemesis.Fault.THROTTLE_LEADER,
            Nemesis.Fault.STEP_LEADER_CLOCK,
            Nemesis.Fault.STEP_FOLLOWER_CLOCK);

    static List<Nemesis.Fault> all() {
      List<Nemesis.Fault> all = new ArrayList<>(PROCESS);
      all.addAll(NETWORK);
      return List.copyOf(all);
    }
  }

  private final List<Nemesis.Fault> faults;
  private final BiFunction<ChaosRegion, Long, List<Workload>> workloads;

  ChaosScenario(
      List<Nemesis.Fault> faults, BiFunction<ChaosRegion, Long, List<Workload>> workloads) {
    this.faults = faults;
    this.workloads = workloads;
  }

  /**
   * Runs it in {@code dir} with {@code seed}, faults held {@code hold} with {@code calm} between.
   */
  ChaosRun.Result run(Path dir, long seed, Duration length, Duration hold, Duration calm)
      throws Exception {
    ChaosRun run =
        new ChaosRun(name().toLowerCase().replace('_', '-'), seed, faults, length, hold, calm);
    ChaosRun.Result result = run.run(dir, region -> workloads.apply(region, seed));
    // The verdicts' summaries (what was checked) are the run's record for docs/reliability.md.
    System.out.printf(
        "chaos run %s seed %d: %d operations%n%s%n", run.name(), seed, result.operations(), result);
    return result;
  }
}
