package io.meridian.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench/run}: starts a 3-node region cluster as separate JVMs, waits for a leader, runs the
 * selected workloads against all three nodes, prints the configuration and a Markdown table of
 * results, and stops the nodes, also on failure or Ctrl-C.
 */
@Command(
    name = "bench/run",
    mixinStandardHelpOptions = true,
    description = "Benchmarks a 3-node Meridian region cluster (3 JVMs on this machine).")
public final class Bench implements Callable<Integer> {
  /** Node JVM flags when {@code MERIDIAN_JAVA_OPTS} is not set. */
  static final String DEFAULT_NODE_JVM_OPTIONS = "-Xms512m -Xmx512m";

  /**
   * Node JVM flags when {@code MERIDIAN_JAVA_OPTS} is not set and a workload that measures node
   * heaps (watch-fanout, registry) is selected: the heap goals are for a 1 GiB heap.
   */
  static final String HEAP_NODE_JVM_OPTIONS = "-Xmx1g";

  @Option(
      names = "--duration",
      defaultValue = "10",
      description = "Measured seconds per workload (default: ${DEFAULT-VALUE}).")
  private int durationSeconds;

  @Option(
      names = "--warmup",
      defaultValue = "3",
      description = "Warm-up seconds before each workload's window (default: ${DEFAULT-VALUE}).")
  private int warmupSeconds;

  @Option(
      names = "--workloads",
      split = ",",
      defaultValue = "default",
      description =
          "Comma list of put, put-open, range, lock-hot, lock-many, watch-fanout, registry,"
              + " router, replication, snapshot (or 1..10); default is 1..5, all is 1..10"
              + " (default: default).")
  private List<String> workloadNames;

  @Option(
      names = "--scale",
      defaultValue = "1",
      description =
          "Multiplies the counts of watch-fanout and registry (instances, locks, sessions,"
              + " connections) to check the harness quickly; the target figures need 1"
              + " (default: ${DEFAULT-VALUE}).")
  private double scale;

  @Option(
      names = "--value-size",
      defaultValue = "256",
      description = "Bytes per put value (default: ${DEFAULT-VALUE}).")
  private int valueSize;

  @Option(
      names = "--warmup-load",
      description =
          "Seconds of puts (16 concurrent) the fresh nodes take before the first workload"
              + " (default: ${DEFAULT-VALUE}).")
  private int warmupLoadSeconds = 60;

  @Option(
      names = "--snapshot-threshold",
      description =
          "Log entries between the nodes' snapshots (default: the nodes' own, 10,000); the"
              + " snapshot workload is measured with 2,000.")
  private Integer snapshotThreshold;

  @Option(names = "--output", description = "Also write the Markdown report to this file.")
  private Path output;

  @Option(names = "--seed", description = "Seed of the random values and lock choices.")
  private Long seed;

  @Option(
      names = "--state-dir",
      description = "Where the nodes keep data and logs (default: a new temporary directory).")
  private Path stateDir;

  private Set<Workload> workloads;

  public static void main(String[] args) {
    System.exit(
        new CommandLine(new Bench())
            .setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                  System.err.println("bench: failed: " + e);
                  return 1;
                })
            .execute(args));
  }

  Duration duration() {
    return Duration.ofSeconds(durationSeconds);
  }

  Duration warmup() {
    return Duration.ofSeconds(warmupSeconds);
  }

  int valueSize() {
    return valueSize;
  }

  Set<Workload> workloads() {
    return workloads;
  }

  double scale() {
    return scale;
  }

  /** The project's root: where {@code bin/meridian} is ({@code -Dmeridian.home}, set by run). */
  Path home() {
    return Path.of(System.getProperty("meridian.home", ".")).toAbsolutePath().normalize();
  }

  @Override
  public Integer call() throws Exception {
    if (durationSeconds < 1
        || warmupSeconds < 0
        || warmupLoadSeconds < 0
        || valueSize < 0
        || valueSize > 1_500_000
        || !(scale > 0 && scale <= 1)) {
      throw new CommandLine.ParameterException(
          new CommandLine(this),
          String.format(
              "--duration %d, --warmup %d, --value-size %d, --scale %s (expected: >= 1, >= 0,"
                  + " 0..1500000, > 0 and <= 1)",
              durationSeconds, warmupSeconds, valueSize, scale));
    }
    try {
      workloads = Workload.parse(workloadNames);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
    }
    long runSeed = seed != null ? seed : new Random().nextLong();
    Path launcher = home().resolve("bin/meridian");
    if (!Files.isExecutable(launcher)) {
      throw new IllegalStateException(launcher + " not found: run from bench/run");
    }
    String env = System.getenv("MERIDIAN_JAVA_OPTS");
    boolean heapMeasured = workloads.stream().anyMatch(Workload.HEAP_MEASURED::contains);
    String nodeOptions =
        env != null && !env.isBlank()
            ? env
            : heapMeasured ? HEAP_NODE_JVM_OPTIONS : DEFAULT_NODE_JVM_OPTIONS;
    Path dir = stateDir != null ? stateDir : Files.createTempDirectory("meridian-bench-");
    Files.createDirectories(dir);

    // Before the nodes start: their own start-up (JIT, three JVMs) raises the load.
    String loadBefore = Report.loadAverage();
    Map<String, Map<String, Object>> overrides =
        snapshotThreshold == null
            ? Map.of()
            : Map.of("raft", Map.of("snapshot-threshold", snapshotThreshold));
    NodeProcesses nodes = NodeProcesses.start(launcher, dir, nodeOptions, overrides);
    Thread hook = new Thread(nodes::close, "bench-stop-nodes");
    Runtime.getRuntime().addShutdownHook(hook);
    boolean ok = false;
    try {
      System.err.println("bench: 3 nodes starting, logs in " + dir);
      String leader = nodes.awaitReady(Duration.ofSeconds(120));
      String configuration =
          Report.configuration(nodes, leader, nodeOptions, this, runSeed, loadBefore);
      System.out.println("# Meridian benchmark\n\n" + configuration);
      List<String> notes = new ArrayList<>();
      List<Result> results = new ArrayList<>();
      RuntimeException failure = null;
      try {
        run(nodes, nodeOptions, runSeed, results, notes);
      } catch (RuntimeException e) {
        // Print what was measured before the failure, and the node logs that may say why.
        failure = e;
        notes.add(
            0, "**The run failed: " + e + "**; the rows above are what it measured before.\n");
      }
      notes.add(Report.nodeLogs(nodes));
      String table = Report.table(results) + Report.notes(notes);
      System.out.println(table);
      if (output != null) {
        Files.writeString(output, "# Meridian benchmark\n\n" + configuration + "\n" + table);
        System.err.println("bench: wrote " + output);
      }
      if (failure != null) {
        throw failure;
      }
      ok = true;
      return 0;
    } finally {
      nodes.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // Already shutting down (Ctrl-C): the hook is running or has run.
      }
      if (ok && stateDir == null) {
        // Raft logs and snapshots can be large; the node logs and configs are kept.
        for (var config : nodes.configs()) {
          deleteRecursively(Path.of(config.dataDir()));
        }
        System.err.println("bench: node logs in " + dir);
      } else if (!ok) {
        System.err.println("bench: failed; node logs in " + dir);
      }
    }
  }

  /** Runs the selected workloads, adding each result to {@code results} as it is measured. */
  private void run(
      NodeProcesses nodes,
      String nodeOptions,
      long runSeed,
      List<Result> results,
      List<String> notes)
      throws InterruptedException, IOException {
    Random random = new Random(runSeed);
    Endpoints endpoints = Endpoints.of(nodes.clientUrls());
    LoadDriver driver = new LoadDriver(warmup(), duration(), new ProcessCpu(nodes.pids()));
    KvWorkloads kv = new KvWorkloads(endpoints, driver, valueSize, random);
    if (warmupLoadSeconds > 0) {
      // Fresh JVMs: the JIT took 38-64 % of the nodes' CPU in the first minutes, and CPU per put
      // fell thirty-fold; measure warm nodes, as they run in production.
      System.err.println("bench: " + warmupLoadSeconds + " s of puts to warm the nodes up");
      progress(
          new LoadDriver(Duration.ZERO, Duration.ofSeconds(warmupLoadSeconds))
              .closed("warm-up puts", 16, w -> kv.put()));
    }
    LockWorkloads locks = new LockWorkloads(endpoints, driver, random);
    List<Result> closedPuts = List.of();
    if (workloads.contains(Workload.PUT)) {
      closedPuts = kv.closedPuts();
      results.addAll(closedPuts);
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.PUT_OPEN)) {
      if (closedPuts.isEmpty()) {
        System.err.println("bench: put-open without put: measuring put at concurrency 128 first");
        closedPuts = List.of(progress(driver.closed("put (calibration)", 128, w -> kv.put())));
        results.addAll(closedPuts);
      }
      double best = closedPuts.stream().mapToDouble(Result::opsPerSecond).max().orElse(0);
      if (best < 2) {
        throw new IllegalStateException("put throughput " + best + " ops/s: nothing to pace at");
      }
      results.add(kv.openPuts(best / 2));
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.RANGE)) {
      results.addAll(kv.ranges());
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.LOCK_HOT)) {
      results.add(locks.hotLock());
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.LOCK_MANY)) {
      results.add(locks.manyLocks());
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.WATCH_FANOUT)) {
      new WatchFanoutWorkload(driver, scale).run(nodes, results, notes);
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.ROUTER)) {
      byte[] bytes = new byte[valueSize];
      random.nextBytes(bytes);
      new RouterWorkload(driver, com.google.protobuf.ByteString.copyFrom(bytes))
          .run(home().resolve("bin/meridian"), nodes, results, notes);
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.REPLICATION)) {
      byte[] bytes = new byte[valueSize];
      random.nextBytes(bytes);
      new ReplicationWorkload(driver, com.google.protobuf.ByteString.copyFrom(bytes))
          .run(home().resolve("bin/meridian"), nodes, nodeOptions, results, notes);
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.SNAPSHOT)) {
      byte[] bytes = new byte[valueSize];
      random.nextBytes(bytes);
      new SnapshotWorkload(
              endpoints, driver, com.google.protobuf.ByteString.copyFrom(bytes), random)
          .run(nodes, results, notes);
      nodes.checkAlive();
    }
    if (workloads.contains(Workload.REGISTRY)) {
      new RegistryWorkloads(endpoints, driver, random, scale).run(nodes, results, notes);
      nodes.checkAlive();
    }
  }

  /** Prints a finished measurement to standard error as progress; returns it. */
  static Result progress(Result result) {
    System.err.println("bench: " + result.summary());
    return result;
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException | UncheckedIOException e) {
      System.err.println("bench: could not delete " + dir + ": " + e.getMessage());
    }
  }
}
