package io.meridian.bench;

import com.google.protobuf.ByteString;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Meridian beside etcd on this machine, one after the other in one run: 3 members each, fsync on,
 * the same load generator, the same keys and values, over gRPC and over each one's JSON gateway.
 * Each system gets a minute of load first (a warm JVM, a warm etcd), each row a few seconds more
 * before its window. CPU per operation is the members' user + system time over the window (from
 * {@code /proc/<pid>/stat}) divided by the operations completed in it.
 */
@Command(
    name = "bench/compare-etcd",
    mixinStandardHelpOptions = true,
    description = "Compares a 3-node Meridian cluster with a 3-member etcd cluster, side by side.")
public final class CompareEtcd implements java.util.concurrent.Callable<Integer> {
  @Option(
      names = "--duration",
      description = "Measured seconds per row (default: ${DEFAULT-VALUE}).")
  int durationSeconds = 20;

  @Option(
      names = "--warmup",
      description = "Seconds of the row's own load before its window (default: ${DEFAULT-VALUE}).")
  int warmupSeconds = 5;

  @Option(
      names = "--warmup-load",
      description =
          "Seconds of load each system takes before its first row, spread over every row's"
              + " workload (default: ${DEFAULT-VALUE}).")
  int warmupLoadSeconds = 60;

  @Option(names = "--value-size", description = "Bytes per put value (default: ${DEFAULT-VALUE}).")
  int valueSize = 64;

  @Option(
      names = "--protocols",
      split = ",",
      description = "gRPC, JSON or both (default: ${DEFAULT-VALUE}).")
  List<String> protocols = List.of("grpc", "json");

  @Option(
      names = "--rows",
      split = ",",
      description = "put, range, lock, watch (default: ${DEFAULT-VALUE}).")
  List<String> rows = List.of("put", "range", "lock", "watch");

  @Option(
      names = "--systems",
      split = ",",
      description = "etcd, meridian or both (default: ${DEFAULT-VALUE}).")
  List<String> systems = List.of("etcd", "meridian");

  @Option(
      names = "--locks-to-leader",
      description =
          "Send every lock call to the leader instead of spreading the sessions over the members"
              + " (default: spread).")
  boolean locksToLeader;

  @Option(names = "--output", description = "Also write the Markdown report to this file.")
  Path output;

  static final int[] PUT_CONCURRENCY = {1, 16, 128};
  static final int RANGE_CONCURRENCY = 64;
  static final int LOCK_WORKERS = 16;
  static final int LOCKS = 1000;
  static final String RANGE_KEY = "/bench/k0";
  static final int WATCH_STREAMS = 10;
  static final int WATCHES_PER_STREAM = 10;
  static final double WATCH_PUTS_PER_SECOND = 500;
  static final int WATCH_WARMUP_CONCURRENCY = 4;

  // (protocol, workload) -> system -> row, in the order measured.
  private final Map<String, Map<String, Result>> table = new LinkedHashMap<>();

  public static void main(String[] args) {
    System.exit(new CommandLine(new CompareEtcd()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (durationSeconds < 1 || warmupSeconds < 0 || warmupLoadSeconds < 0 || valueSize < 1) {
      throw new CommandLine.ParameterException(
          new CommandLine(this),
          "--duration >= 1, --warmup >= 0, --warmup-load >= 0, --value-size >= 1");
    }
    Path home = Path.of(System.getProperty("meridian.home", ".")).toAbsolutePath().normalize();
    Path dir = Files.createTempDirectory("meridian-compare-");
    byte[] bytes = new byte[valueSize];
    new Random(42).nextBytes(bytes);
    ByteString value = ByteString.copyFrom(bytes);
    String load = Report.loadAverage();
    String etcdVersion = "not run";
    if (wants(systems, "etcd")) {
      System.err.println("compare: etcd, 3 members, data and logs in " + dir.resolve("etcd"));
      try (EtcdMembers etcd = EtcdMembers.start(dir.resolve("etcd"))) {
        etcdVersion = etcd.version();
        List<Subject> subjects = new ArrayList<>();
        if (wants(protocols, "grpc")) {
          subjects.add(Subject.etcdGrpc(etcd.clientUrls()));
        }
        if (wants(protocols, "json")) {
          subjects.add(Subject.etcdJson(etcd.clientUrls()));
        }
        runSystem(subjects, etcd::leader, etcd.pids(), value);
      }
    }

    System.err.println("compare: Meridian, 3 nodes, data and logs in " + dir.resolve("meridian"));
    String nodeOptions = System.getenv().getOrDefault("MERIDIAN_JAVA_OPTS", "-Xms1g -Xmx1g");
    if (wants(systems, "meridian")) {
      Files.createDirectories(dir.resolve("meridian"));
      try (NodeProcesses nodes =
          NodeProcesses.start(home.resolve("bin/meridian"), dir.resolve("meridian"), nodeOptions)) {
        String leaderMember = nodes.awaitReady(Duration.ofSeconds(120));
        List<Subject> subjects = new ArrayList<>();
        if (wants(protocols, "grpc")) {
          subjects.add(Subject.meridianGrpc(nodes.clientUrls()));
        }
        if (wants(protocols, "json")) {
          subjects.add(Subject.meridianJson(nodes.clientUrls()));
        }
        runSystem(
            subjects,
            () -> {
              String now = NodeProcesses.leader(nodes.clientUrls().get(0)).orElse(leaderMember);
              for (int i = 0; i < nodes.configs().size(); i++) {
                if (nodes.configs().get(i).member().equals(now)) {
                  return i;
                }
              }
              return 0;
            },
            nodes.pids(),
            value);
        nodes.checkAlive();
      }
    }

    String report = report(etcdVersion, nodeOptions, load);
    System.out.println(report);
    if (output != null) {
      Files.writeString(output, report);
      System.err.println("compare: wrote " + output);
    }
    return 0;
  }

  interface Leader {
    int index() throws Exception;
  }

  /**
   * One row of the table for one subject: measured as a closed loop at {@code concurrency}, or as
   * an open loop at {@code rate} operations per second when that is above zero. Warm-up is always a
   * closed loop at {@code concurrency}: it cannot pile up work a cold server has not done yet.
   */
  private record Row(
      Subject subject, String workload, int concurrency, double rate, LoadDriver.Op op) {
    Row(Subject subject, String workload, int concurrency, LoadDriver.Op op) {
      this(subject, workload, concurrency, 0, op);
    }

    Result warm(LoadDriver driver) throws InterruptedException {
      return driver.closed("warm-up: " + workload + ", " + concurrency + " conc.", concurrency, op);
    }

    Result measure(LoadDriver driver) throws InterruptedException {
      return rate > 0
          ? driver.open(workload, rate, op)
          : driver.closed(workload + ", " + concurrency + " conc.", concurrency, op);
    }
  }

  private void runSystem(List<Subject> subjects, Leader leader, List<Long> pids, ByteString value)
      throws Exception {
    if (subjects.isEmpty()) {
      return;
    }
    int l = leader.index();
    int f = (l + 1) % 3;
    AtomicLong sequence = new AtomicLong();
    List<Row> plan = new ArrayList<>();
    List<FanOut> fanOuts = new ArrayList<>();
    try {
      for (Subject s : subjects) {
        plan.addAll(rowsOf(s, l, f, sequence, value, fanOuts));
      }
      run(plan, pids);
    } finally {
      fanOuts.forEach(FanOut::close);
    }
  }

  private void run(List<Row> plan, List<Long> pids) throws InterruptedException {
    if (warmupLoadSeconds > 0 && !plan.isEmpty()) {
      // Every row's path, not only puts': a path first taken in its own window was still being
      // compiled there (C2 took 40 % of a node through a lock row that followed put warm-up).
      LoadDriver warm =
          new LoadDriver(Duration.ZERO, Duration.ofMillis(warmupLoadSeconds * 1000L / plan.size()));
      for (Row r : plan) {
        Result w = r.warm(warm);
        System.err.printf(
            "compare: %s %s %s%n", r.subject().system(), r.subject().protocol(), w.summary());
      }
    }
    LoadDriver driver =
        new LoadDriver(
            Duration.ofSeconds(warmupSeconds),
            Duration.ofSeconds(durationSeconds),
            new ProcessCpu(pids));
    for (Row r : plan) {
      Result result = r.measure(driver);
      System.err.printf(
          "compare: %s %s %s%n", r.subject().system(), r.subject().protocol(), result.summary());
      table
          .computeIfAbsent(
              r.subject().protocol() + "|" + result.workload(), k -> new LinkedHashMap<>())
          .put(r.subject().system(), result);
    }
  }

  /** The rows asked for, for subject {@code s}; {@code l} leads, {@code f} follows. */
  private List<Row> rowsOf(
      Subject s, int l, int f, AtomicLong sequence, ByteString value, List<FanOut> fanOuts) {
    List<Row> plan = new ArrayList<>();
    if (wants(rows, "put")) {
      for (int c : PUT_CONCURRENCY) {
        plan.add(
            new Row(
                s, "put, to the leader", c, w -> s.put(l, key(sequence.getAndIncrement()), value)));
        plan.add(
            new Row(
                s, "put, to a follower", c, w -> s.put(f, key(sequence.getAndIncrement()), value)));
      }
    }
    if (wants(rows, "range")) {
      Endpoints.await(s.put(l, RANGE_KEY, value));
      plan.add(
          new Row(
              s,
              "linearizable range, to a follower",
              RANGE_CONCURRENCY,
              w -> s.range(f, RANGE_KEY, true)));
      plan.add(
          new Row(
              s,
              "serializable range, to a follower",
              RANGE_CONCURRENCY,
              w -> s.range(f, RANGE_KEY, false)));
    }
    if (wants(rows, "lock") && s.protocol().equals("gRPC")) {
      // Sessions outlive the run: Meridian's longest lease TTL by default.
      long[] leases = new long[LOCK_WORKERS];
      for (int i = 0; i < LOCK_WORKERS; i++) {
        leases[i] = Endpoints.await(s.grant(i % 3, 3600));
      }
      int perWorker = LOCKS / LOCK_WORKERS;
      long[] next = new long[LOCK_WORKERS];
      // Worker w cycles over its own locks (w, w + 16, ...): none ever waits for another.
      plan.add(
          new Row(
              s,
              "lock acquire+release, " + (perWorker * LOCK_WORKERS) + " locks",
              LOCK_WORKERS,
              w ->
                  s.lockPair(
                      locksToLeader ? l : w % 3,
                      "/bench/locks/l" + (w + LOCK_WORKERS * (next[w]++ % perWorker)),
                      leases[w])));
    }
    if (wants(rows, "watch") && s.protocol().equals("gRPC")) {
      FanOut fanOut = FanOut.open(s, "/bench/w/", WATCH_STREAMS, WATCHES_PER_STREAM);
      fanOuts.add(fanOut);
      plan.add(
          new Row(
              s,
              String.format(
                  "watch fan-out, put to the leader until %d watchers (%d streams over 3 members)"
                      + " saw it, %.0f puts/s",
                  WATCH_STREAMS * WATCHES_PER_STREAM, WATCH_STREAMS, WATCH_PUTS_PER_SECOND),
              WATCH_WARMUP_CONCURRENCY,
              WATCH_PUTS_PER_SECOND,
              w -> fanOut.put(l, value)));
    }
    return plan;
  }

  private static String key(long n) {
    return "/bench/k" + (n % KvWorkloads.KEYS);
  }

  private static boolean wants(List<String> chosen, String name) {
    return chosen.stream().anyMatch(c -> c.equalsIgnoreCase(name));
  }

  private String report(String etcdVersion, String nodeOptions, String loadBefore) {
    StringBuilder b = new StringBuilder();
    b.append("# Meridian beside etcd\n\n");
    b.append(
        String.format(
            "- %s, `bench/compare-etcd --duration %d --warmup %d --warmup-load %d --value-size %d`%n",
            LocalDate.now(), durationSeconds, warmupSeconds, warmupLoadSeconds, valueSize));
    b.append(
        String.format(
            "- %d cores, Java %s; etcd %s (3 members, defaults: fsync on); Meridian 3 nodes (%s);"
                + " load average before: %s%n%n",
            Runtime.getRuntime().availableProcessors(),
            System.getProperty("java.version"),
            etcdVersion,
            nodeOptions,
            loadBefore));
    b.append(
        "| protocol | workload | etcd ops/s | etcd p50 / p99 ms | etcd CPU ms/op | Meridian ops/s |"
            + " Meridian p50 / p99 ms | Meridian CPU ms/op | Meridian / etcd |\n");
    b.append("|---|---|---|---|---|---|---|---|---|\n");
    for (var entry : table.entrySet()) {
      String[] k = entry.getKey().split("\\|", 2);
      Result e = entry.getValue().get("etcd");
      Result m = entry.getValue().get("Meridian");
      b.append("| ").append(k[0]).append(" | ").append(k[1]).append(" | ");
      cells(b, e);
      cells(b, m);
      b.append(
              e == null || m == null || e.opsPerSecond() == 0
                  ? "–"
                  : String.format("%.2f", m.opsPerSecond() / e.opsPerSecond()))
          .append(" |\n");
    }
    List<String> errors = new ArrayList<>();
    table.forEach(
        (k, v) ->
            v.forEach(
                (system, row) -> {
                  if (row.errors() > 0) {
                    errors.add(
                        String.format(
                            "%s %s: %d errors (first: %s)",
                            system, k.replace('|', ' '), row.errors(), row.firstError()));
                  }
                }));
    if (!errors.isEmpty()) {
      b.append("\nErrors:\n");
      errors.forEach(e -> b.append("- ").append(e).append('\n'));
    }
    return b.toString();
  }

  private static void cells(StringBuilder b, Result r) {
    if (r == null) {
      b.append("– | – | – | ");
      return;
    }
    b.append(String.format("%,.0f", r.opsPerSecond()))
        .append(" | ")
        .append(String.format("%.1f / %.1f", r.p50() / 1000.0, r.p99() / 1000.0))
        .append(" | ")
        .append(String.format("%.2f", r.cpuMsPerOp()))
        .append(" | ");
  }
}
