package io.meridian.bench;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Snapshot save and restore, Meridian beside etcd in one run: each system's 3 members are loaded
 * with the same keys and values, then its own command line saves a snapshot from one member over
 * the network ({@code meridianctl snapshot save}, {@code etcdctl snapshot save}), checks it ({@code
 * snapshot verify}, {@code etcdctl snapshot status}) and restores it into an empty data directory
 * for a new member ({@code snapshot restore}). Each row is the command as a user runs it, JVM or Go
 * start-up included; CPU is the command's own (user + system, from this process's waited-for
 * children) plus, for save, the serving member's.
 */
@Command(
    name = "bench/snapshot",
    mixinStandardHelpOptions = true,
    description = "Snapshot save, verify and restore: Meridian beside etcd, side by side.")
public final class SnapshotBench implements java.util.concurrent.Callable<Integer> {
  @Option(names = "--keys", description = "Keys to load (default: ${DEFAULT-VALUE}).")
  int keys = 1_000_000;

  @Option(names = "--value-size", description = "Bytes per value (default: ${DEFAULT-VALUE}).")
  int valueSize = 256;

  @Option(
      names = "--repeat",
      description = "Runs of each command; the table shows the best (default: ${DEFAULT-VALUE}).")
  int repeat = 3;

  @Option(
      names = "--systems",
      split = ",",
      description = "etcd, meridian or both (default: ${DEFAULT-VALUE}).")
  List<String> systems = List.of("etcd", "meridian");

  @Option(names = "--output", description = "Also write the Markdown report to this file.")
  Path output;

  private static final int IN_FLIGHT = 256;
  private static final Duration LOAD_LIMIT = Duration.ofMinutes(15);

  private record Row(String system, String step, double seconds, long bytes, double cpuSeconds) {}

  private final List<Row> rows = new ArrayList<>();

  public static void main(String[] args) {
    System.exit(new CommandLine(new SnapshotBench()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Path home = Path.of(System.getProperty("meridian.home", ".")).toAbsolutePath().normalize();
    Path dir = Files.createTempDirectory("meridian-snapshot-bench-");
    byte[] bytes = new byte[valueSize];
    new Random(42).nextBytes(bytes);
    ByteString value = ByteString.copyFrom(bytes);
    String load = Report.loadAverage();
    String etcdVersion = "not run";
    if (systems.contains("etcd")) {
      try (EtcdMembers etcd = EtcdMembers.start(dir.resolve("etcd"))) {
        etcdVersion = etcd.version();
        Subject subject = Subject.etcdGrpc(etcd.clientUrls());
        load(subject, value, "etcd");
        int leader = etcd.leader();
        String url = etcd.clientUrls().get(leader);
        long pid = etcd.pids().get(leader);
        for (int i = 0; i < repeat; i++) {
          Path file = dir.resolve("etcd-" + i + ".db");
          measure(
              "etcd",
              "save",
              List.of(pid),
              file,
              List.of("etcdctl", "--endpoints", url, "snapshot", "save", file.toString()));
          measure(
              "etcd",
              "verify",
              List.of(),
              file,
              List.of("etcdctl", "snapshot", "status", file.toString(), "-w", "table"));
          Path data = dir.resolve("etcd-restored-" + i);
          measure(
              "etcd",
              "restore",
              List.of(),
              file,
              List.of(
                  "etcdctl",
                  "snapshot",
                  "restore",
                  file.toString(),
                  "--data-dir",
                  data.toString(),
                  "--name",
                  "r1",
                  "--initial-cluster",
                  "r1=http://127.0.0.1:1",
                  "--initial-advertise-peer-urls",
                  "http://127.0.0.1:1"));
        }
      }
    }
    if (systems.contains("meridian")) {
      try (NodeProcesses nodes =
          NodeProcesses.start(home.resolve("bin/meridian"), dir.resolve("meridian"), "-Xmx3g")) {
        nodes.awaitReady(Duration.ofMinutes(2), true);
        Subject subject = Subject.meridianGrpc(nodes.clientUrls());
        load(subject, value, "meridian");
        String url = nodes.clientUrls().get(0);
        long pid = nodes.pids().get(0);
        String ctl = home.resolve("bin/meridianctl").toString();
        for (int i = 0; i < repeat; i++) {
          Path file = dir.resolve("meridian-" + i + ".msnap");
          measure(
              "Meridian",
              "save",
              List.of(pid),
              file,
              List.of(ctl, "--endpoints", url, "snapshot", "save", file.toString()));
          measure(
              "Meridian",
              "verify",
              List.of(),
              file,
              List.of(ctl, "snapshot", "verify", file.toString()));
          Path data = dir.resolve("meridian-restored-" + i);
          measure(
              "Meridian",
              "restore",
              List.of(),
              file,
              List.of(
                  ctl,
                  "snapshot",
                  "restore",
                  file.toString(),
                  "--data-dir",
                  data.toString(),
                  "--member",
                  "r1",
                  "--peers",
                  "r1=127.0.0.1:1",
                  "--region",
                  "bench"));
        }
      }
    }
    String report = report(etcdVersion, load);
    System.out.print(report);
    if (output != null) {
      Files.writeString(output, report);
    }
    return 0;
  }

  /** Puts every key once, {@link #IN_FLIGHT} at a time, spread over the members. */
  private void load(Subject subject, ByteString value, String name) throws InterruptedException {
    System.err.printf("bench/snapshot: %s: writing %,d keys%n", name, keys);
    long started = System.nanoTime();
    LoadDriver.each(
        "load",
        keys,
        IN_FLIGHT,
        LOAD_LIMIT,
        i -> subject.put(i % 3, String.format("/snap/k%08d", i), value));
    System.err.printf(
        "bench/snapshot: %s: %,d keys in %.0f s%n",
        name, keys, (System.nanoTime() - started) / 1e9);
  }

  private void measure(String system, String step, List<Long> servers, Path file, List<String> cmd)
      throws IOException, InterruptedException {
    ProcessCpu server = new ProcessCpu(servers);
    double serverBefore = servers.isEmpty() ? 0 : server.millis();
    double childrenBefore = childrenCpuMillis();
    Path log = file.resolveSibling(file.getFileName() + "." + step + ".log");
    long started = System.nanoTime();
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()))
            .start();
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", cmd) + ": not done in 10 minutes");
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    if (p.exitValue() != 0) {
      throw new IllegalStateException(
          String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + Files.readString(log));
    }
    double cpu =
        (childrenCpuMillis()
                - childrenBefore
                + (servers.isEmpty() ? 0 : server.millis() - serverBefore))
            / 1000;
    long size = Files.size(file);
    System.err.printf(
        "bench/snapshot: %s %s: %.2f s, %.1f MB, %.2f CPU s%n",
        system, step, seconds, size / 1e6, cpu);
    rows.add(new Row(system, step, seconds, size, cpu));
  }

  /** User + system time of this process's waited-for children (/proc/self/stat cutime, cstime). */
  private static double childrenCpuMillis() throws IOException {
    String stat = Files.readString(Path.of("/proc/self/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[13]) + Long.parseLong(f[14])) * 10.0;
  }

  private String report(String etcdVersion, String load) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            "%n## Snapshot save, verify, restore (%s)%n%n%,d keys of %d-byte values, 3 members each;"
                + " etcd %s; best of %d runs; load average before: %s%n%n",
            LocalDate.now(), keys, valueSize, etcdVersion, repeat, load));
    b.append("| system | step | seconds | file MB | MB/s | s per million keys | CPU s |\n");
    b.append("|---|---|---|---|---|---|---|\n");
    for (String system : List.of("etcd", "Meridian")) {
      for (String step : List.of("save", "verify", "restore")) {
        rows.stream()
            .filter(r -> r.system().equals(system) && r.step().equals(step))
            .min(java.util.Comparator.comparingDouble(Row::seconds))
            .ifPresent(
                r ->
                    b.append(
                        String.format(
                            "| %s | %s | %.2f | %.1f | %.0f | %.2f | %.2f |%n",
                            system,
                            step,
                            r.seconds(),
                            r.bytes() / 1e6,
                            r.bytes() / 1e6 / r.seconds(),
                            r.seconds() / (keys / 1e6),
                            r.cpuSeconds())));
      }
    }
    return b.toString();
  }
}
