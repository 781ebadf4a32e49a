package io.meridian.testing.chaos;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * One seeded chaos run: a three-member {@link ChaosRegion} (with a router when a fault kind hits
 * one), workloads running side by side against it while a {@link Nemesis} injects faults, then
 * every fault healed, a write served again by each workload, and every workload's checks. A run
 * lasts its length and at least one round of the nemesis (every fault kind once). A violation
 * leaves its {@link Evidence}.
 *
 * @param name the run's name in its evidence directory
 * @param seed seeds the nemesis and the clients
 * @param faults the fault kinds the nemesis chooses among
 * @param length how long the load and the faults last
 * @param hold how long each fault is held (± half)
 * @param calm the time between faults (± half)
 */
public record ChaosRun(
    String name,
    long seed,
    List<Nemesis.Fault> faults,
    Duration length,
    Duration hold,
    Duration calm) {

  /** What a run found. */
  public record Result(
      List<Verdict> verdicts,
      List<String> schedule,
      int operations,
      Path evidence,
      String timings) {
    /** Whether every checker passed. */
    public boolean valid() {
      return verdicts.stream().allMatch(Verdict::valid);
    }

    @Override
    public String toString() {
      StringBuilder b = new StringBuilder(timings).append('\n');
      verdicts.forEach(v -> b.append(v).append('\n'));
      schedule.forEach(line -> b.append("  nemesis ").append(line).append('\n'));
      if (evidence != null) {
        b.append("evidence in ").append(evidence);
      }
      return b.toString();
    }
  }

  /**
   * Runs it in {@code dir} (the members' data and logs) with the workloads {@code workloads} makes
   * for the region.
   */
  public Result run(Path dir, Function<ChaosRegion, List<Workload>> workloads)
      throws IOException, InterruptedException {
    long began = System.nanoTime();
    try (ChaosRegion region = ChaosRegion.start(dir, 3)) {
      try {
        return run(region, workloads, began);
      } catch (RuntimeException e) {
        // The harness itself failed (no leader, a fault that could not be healed): keep the logs.
        Path kept = Evidence.dir(name, seed);
        Evidence.keepLogs(kept, logs(region));
        for (int i = 0; i < region.nodes().size(); i++) {
          region.nodes().threadDump(i, kept.resolve("n" + (i + 1) + "-threads.txt"));
        }
        if (region.router() != null) {
          region.router().process().threadDump(kept.resolve("router-threads.txt"));
        }
        throw new IllegalStateException("chaos run " + name + " failed; logs in " + kept, e);
      }
    }
  }

  private Result run(
      ChaosRegion region, Function<ChaosRegion, List<Workload>> workloads, long began)
      throws IOException, InterruptedException {
    region.nodes().awaitLeader();
    long led = System.nanoTime();
    if (faults.stream().anyMatch(Nemesis.Fault::hitsRouter)) {
      region.startRouter();
    }
    long loaded = System.nanoTime();
    List<Workload> running = workloads.apply(region);
    Nemesis nemesis = new Nemesis(region, seed, faults, hold, calm);
    running.forEach(Workload::start);
    AtomicReference<Exception> nemesisFailed = new AtomicReference<>();
    Thread chaos =
        new Thread(
            () -> {
              try {
                nemesis.run();
              } catch (IOException | InterruptedException | RuntimeException e) {
                nemesisFailed.set(e);
              }
            },
            "nemesis");
    chaos.start();
    // The load's length, and at least one round: the nemesis runs on its own schedule meanwhile.
    chaos.join(length.toMillis());
    await()
        .atMost(Duration.ofMinutes(10))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> nemesis.rounds() > 0 || !chaos.isAlive());
    nemesis.stop();
    chaos.join();
    if (nemesisFailed.get() != null) {
      throw new IllegalStateException(
          "the nemesis failed: " + String.join("\n", nemesis.log()), nemesisFailed.get());
    }
    // A healed cluster serves again: each workload must succeed once more before it stops, or
    // the run would end on a cluster that never recovered.
    long healed = System.nanoTime();
    for (Workload w : running) {
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> w.servedSince(healed));
    }
    long served = System.nanoTime();
    int operations = 0;
    for (Workload w : running) {
      w.stop();
      operations += w.operations();
    }
    List<Verdict> verdicts = new ArrayList<>();
    for (Workload w : running) {
      verdicts.addAll(w.check(region, nemesis));
    }
    String timings =
        String.format(
            "started with a leader in %.1f s (and a router serving %.1f s later), load and faults"
                + " %.1f s, served again %.1f s after healing, checked in %.1f s",
            seconds(led - began),
            seconds(loaded - led),
            seconds(healed - loaded),
            seconds(served - healed),
            seconds(System.nanoTime() - served));
    Result result = new Result(verdicts, nemesis.log(), operations, null, timings);
    if (result.valid()) {
      return result;
    }
    Path evidence = Evidence.write(name, seed, nemesis, verdicts, logs(region));
    for (Workload w : running) {
      Path wdir = evidence.resolve(w.name());
      Files.createDirectories(wdir);
      w.write(wdir);
    }
    return new Result(verdicts, nemesis.log(), operations, evidence, timings);
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }

  private static List<Path> logs(ChaosRegion region) {
    List<Path> logs = new ArrayList<>();
    for (int i = 0; i < region.size(); i++) {
      logs.add(region.nodes().log(i));
    }
    if (region.router() != null) {
      logs.add(region.router().process().log());
    }
    return logs;
  }
}
