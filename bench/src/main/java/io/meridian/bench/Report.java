package io.meridian.bench;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/** The Markdown Bench prints: the configuration of a run, then the results table. */
final class Report {
  private Report() {}

  /** What a run was: the machine, the JVMs, the cluster and the load, as a Markdown list. */
  static String configuration(
      NodeProcesses nodes,
      String leader,
      String nodeJvmOptions,
      Bench options,
      long seed,
      String loadBefore) {
    StringBuilder md = new StringBuilder();
    md.append("## Configuration\n\n");
    line(md, "date", ZonedDateTime.now().format(DateTimeFormatter.RFC_1123_DATE_TIME));
    String home = options.home().toString();
    String dirty = command("git", "-C", home, "status", "--porcelain", "--untracked-files=no");
    line(
        md,
        "commit",
        command("git", "-C", home, "rev-parse", "HEAD")
            + (dirty.isEmpty() ? "" : " (with uncommitted changes)"));
    line(md, "`uname -a`", command("uname", "-a"));
    line(
        md,
        "CPUs",
        Runtime.getRuntime().availableProcessors()
            + " available to the JVM (`nproc`: "
            + command("nproc")
            + ")");
    line(md, "memory (`free -g`)", firstLine(command("free", "-g"), "Mem:"));
    line(md, "load average before the nodes started (`/proc/loadavg`)", loadBefore);
    line(md, "load average once the cluster was ready", loadAverage());
    line(md, "`java -version`", command("java", "-version").replace('\n', ' '));
    line(
        md,
        "data directory",
        nodes.dir() + " (" + firstLine(command("df", "-T", nodes.dir().toString()), "/") + ")");
    md.append("- nodes (3 JVMs, `bin/meridian node`, region `bench`, shard 0 PRIMARY):\n");
    List<Long> pids = nodes.pids();
    for (int i = 0; i < nodes.configs().size(); i++) {
      var c = nodes.configs().get(i);
      md.append(
          String.format(
              "  - %s: client %s, peer %s, pid %d%s%n",
              c.member(),
              c.self().client(),
              c.self().peer(),
              pids.get(i),
              c.member().equals(leader) ? " (leader at start)" : ""));
    }
    line(md, "node JVM flags (`MERIDIAN_JAVA_OPTS`)", "`" + nodeJvmOptions + "`");
    line(
        md,
        "bench JVM flags",
        "`" + String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()) + "`");
    line(
        md,
        "Raft",
        "3 voters, Meridian defaults (election timeout 1000-2000 ms, snapshot every 10,000"
            + " entries), log flushed synchronously (Ratis default)");
    line(
        md,
        "clients",
        "one bench JVM on the same machine, Armeria async gRPC stubs, requests round-robin over"
            + " the 3 nodes");
    line(
        md,
        "duration per workload",
        options.warmup().toSeconds()
            + " s warm-up (not measured) + "
            + options.duration().toSeconds()
            + " s measured");
    md.append("- workloads:\n");
    for (Workload w : options.workloads()) {
      md.append("  - ").append(w.number).append(". ").append(w.id).append(": ");
      md.append(w.description).append('\n');
    }
    if (options.workloads().contains(Workload.WATCH_FANOUT)) {
      line(md, "watch-fanout", WatchFanoutWorkload.describe(options.scale()));
    }
    if (options.workloads().contains(Workload.REGISTRY)) {
      line(md, "registry", RegistryWorkloads.describe(options.scale()));
    }
    if (options.scale() != 1) {
      line(
          md,
          "scale",
          options.scale()
              + " (counts of watch-fanout and registry shrunk: not the target figures)");
    }
    line(
        md,
        "concurrency",
        "put 1, 16, 128; range "
            + KvWorkloads.RANGE_CONCURRENCY
            + "; lock-hot "
            + LockWorkloads.HOT_SESSIONS
            + "; lock-many "
            + LockWorkloads.MANY_WORKERS);
    line(
        md,
        "value size",
        options.valueSize()
            + " bytes; keys /bench/k<n>, n = sequence mod "
            + KvWorkloads.KEYS
            + "; random seed "
            + seed);
    return md.toString();
  }

  /** The results as a Markdown table, with what the columns mean. */
  static String table(List<Result> results) {
    StringBuilder md = new StringBuilder();
    md.append("## Results\n\n");
    md.append(
        "| # | workload | load | ops/s | p50 µs | p99 µs | p99.9 µs | max µs | CPU ms/op | measured"
            + " | errors |\n");
    md.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int row = 1;
    for (Result r : results) {
      md.append(
          String.format(
              Locale.ROOT,
              "| %d | %s | %s | %.0f | %d | %d | %d | %d | %s | %d | %d |%n",
              row++,
              r.workload(),
              r.load(),
              r.opsPerSecond(),
              r.p50(),
              r.p99(),
              r.p999(),
              r.max(),
              Double.isNaN(r.cpuMsPerOp())
                  ? "–"
                  : String.format(Locale.ROOT, "%.3f", r.cpuMsPerOp()),
              r.count(),
              r.errors()));
    }
    md.append(
        "\nops/s: successful operations per second of the measured window; for lock workloads an"
            + " operation is one acquire+release pair (pairs/s) and its latency runs from the"
            + " acquire sent to the release acknowledged. Closed loop: latency from each"
            + " operation's start. Open loop: latency from each operation's scheduled send time,"
            + " so coordinated omission is not hidden. Rows of a fixed count of operations"
            + " (registry register and lock acquire): ops/s over the whole batch, latency from each"
            + " operation's start, the acquires held, not released. Watch fan-out rows: latency"
            + " from a put to its event at the last of all watchers, one value per write."
            + " CPU ms/op: the three node processes' user + system time over the window"
            + " (/proc/<pid>/stat) per operation."
            + " measured: operations in the histogram.\n");
    for (Result r : results) {
      if (r.firstError() != null) {
        md.append("\nFirst error of ")
            .append(r.workload())
            .append(" [")
            .append(r.load())
            .append("]: `")
            .append(r.firstError())
            .append("`\n");
      }
    }
    return md.toString();
  }

  /** Free-form findings of the workloads (heap figures, what the servers said), Markdown. */
  static String notes(List<String> notes) {
    if (notes.isEmpty()) {
      return "";
    }
    return "\n## Notes\n\n" + String.join("\n", notes);
  }

  /**
   * Per node: WARN and ERROR lines in its log so far, its self-preservation lines, and its first
   * ERROR lines.
   */
  static String nodeLogs(NodeProcesses nodes) {
    StringBuilder md = new StringBuilder("Node logs (read before the nodes were stopped):\n\n");
    for (var c : nodes.configs()) {
      Path log = nodes.dir().resolve(c.member() + ".log");
      long[] counts = NodeProbe.warnAndErrorCounts(log);
      md.append(
          String.format(
              "- %s: %d WARN and %d ERROR lines (%s)%n", c.member(), counts[0], counts[1], log));
      for (String l : NodeProbe.logLines(log, "self-preservation", 10)) {
        md.append("  - `").append(l.replace('`', '\'')).append("`\n");
      }
      for (String l : NodeProbe.logLines(log, " ERROR ", 3)) {
        md.append("  - `").append(l.replace('`', '\'')).append("`\n");
      }
    }
    return md.toString();
  }

  private static void line(StringBuilder md, String name, String value) {
    md.append("- ").append(name).append(": ").append(value).append('\n');
  }

  private static String firstLine(String text, String prefix) {
    return text.lines().filter(l -> l.startsWith(prefix)).findFirst().orElse(text).trim();
  }

  /** The 1, 5 and 15 minute load averages and run queue, from {@code /proc/loadavg}. */
  static String loadAverage() {
    return read(Path.of("/proc/loadavg"));
  }

  private static String read(Path file) {
    try {
      return Files.readString(file).trim();
    } catch (IOException e) {
      return "unavailable (" + e.getMessage() + ")";
    }
  }

  /** Runs a short command; its output (stdout and stderr) or why it could not run. */
  static String command(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out;
      try (InputStream in = p.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
      }
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "unavailable (timed out)";
      }
      return out;
    } catch (IOException e) {
      return "unavailable (" + e.getMessage() + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unavailable (interrupted)";
    }
  }
}
