package io.meridian.bench;

import com.google.protobuf.ByteString;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Leader failover inside one region cluster, Meridian beside etcd: each round starts a fresh
 * 3-member cluster, writes through a follower for a few seconds, SIGKILLs the leader and measures
 * from the kill to the first write acknowledged afterwards. After the kill the writer sends a put
 * through a surviving member every {@link #PROBE_INTERVAL}, each without waiting for the others.
 */
@Command(
    name = "bench/leader-failover",
    mixinStandardHelpOptions = true,
    description = "SIGKILL of a cluster's leader to the first committed write: Meridian and etcd.")
public final class LeaderFailoverBench implements java.util.concurrent.Callable<Integer> {
  @Option(names = "--rounds", description = "Rounds per system (default: ${DEFAULT-VALUE}).")
  int rounds = 5;

  @Option(
      names = "--systems",
      split = ",",
      description = "etcd, meridian or both (default: ${DEFAULT-VALUE}).")
  List<String> systems = List.of("etcd", "meridian");

  @Option(
      names = "--election-timeout-ms",
      split = ",",
      description =
          "Meridian's raft.election-timeout-min-ms,max-ms (default: the node's defaults,"
              + " 1000,2000).")
  List<Integer> electionTimeout;

  @Option(
      names = "--etcd-timing-ms",
      split = ",",
      description =
          "etcd's --heartbeat-interval,--election-timeout (default: etcd's, 100,1000); etcd"
              + " picks each election timeout in [T, 2T], as Meridian's 150,300 does with T=150.")
  List<Integer> etcdTiming;

  @Option(
      names = "--warm-seconds",
      description = "Writes through a follower before each kill (default: ${DEFAULT-VALUE}).")
  int warmSeconds = 60;

  @Option(names = "--output", description = "Also write the Markdown report to this file.")
  Path output;

  // After the kill a put is sent this often without waiting for the earlier ones: the figure's
  // resolution, and a put held by a leaderless member does not hide the new leader's first ack.
  private static final Duration PROBE_INTERVAL = Duration.ofMillis(10);
  private static final ByteString VALUE = ByteString.copyFrom(new byte[256]);

  public static void main(String[] args) {
    System.exit(new CommandLine(new LeaderFailoverBench()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Path home = Path.of(System.getProperty("meridian.home", ".")).toAbsolutePath().normalize();
    Path dir = Files.createTempDirectory("meridian-failover-bench-");
    String load = Report.loadAverage();
    List<Double> etcd = new ArrayList<>();
    List<Double> meridian = new ArrayList<>();
    String etcdVersion = "not run";
    for (int round = 0; round < rounds; round++) {
      if (systems.contains("etcd")) {
        List<String> flags =
            etcdTiming == null
                ? List.of()
                : List.of(
                    "--heartbeat-interval=" + etcdTiming.get(0),
                    "--election-timeout=" + etcdTiming.get(1));
        try (EtcdMembers members = EtcdMembers.start(dir.resolve("etcd-" + round), flags)) {
          etcdVersion = members.version();
          int leader = members.leader();
          int via = (leader + 1) % 3;
          Subject subject = Subject.etcdGrpc(members.clientUrls());
          etcd.add(killAndWrite(subject, via, members.pids().get(leader), warm()));
        }
      }
      if (systems.contains("meridian")) {
        Map<String, Map<String, Object>> overrides =
            electionTimeout == null
                ? Map.of()
                : Map.of(
                    "raft",
                    Map.of(
                        "election-timeout-min-ms", electionTimeout.get(0),
                        "election-timeout-max-ms", electionTimeout.get(1)));
        try (NodeProcesses nodes =
            NodeProcesses.start(
                home.resolve("bin/meridian"),
                dir.resolve("meridian-" + round),
                "-Xmx512m",
                overrides)) {
          String leaderId = nodes.awaitReady(Duration.ofMinutes(2));
          int leader = 0;
          while (!nodes.configs().get(leader).member().equals(leaderId)) {
            leader++;
          }
          int via = (leader + 1) % 3;
          Subject subject = Subject.meridianGrpc(nodes.clientUrls());
          meridian.add(killAndWrite(subject, via, nodes.pids().get(leader), warm()));
        }
      }
    }
    String report = report(etcd, meridian, etcdVersion, load);
    System.out.print(report);
    if (output != null) {
      Files.writeString(output, report);
    }
    return 0;
  }

  private Duration warm() {
    return Duration.ofSeconds(warmSeconds);
  }

  /** Writes through member {@code via} for {@code warm}, kills {@code leaderPid}; ms to a write. */
  private static double killAndWrite(Subject subject, int via, long leaderPid, Duration warm)
      throws Exception {
    long warmUntil = System.nanoTime() + warm.toNanos();
    int n = 0;
    while (System.nanoTime() < warmUntil) {
      subject.put(via, "/failover/k" + (n++ % 100), VALUE).get(30, TimeUnit.SECONDS);
    }
    ProcessHandle leader = ProcessHandle.of(leaderPid).orElseThrow();
    AtomicLong firstAck = new AtomicLong(Long.MAX_VALUE);
    List<CompletableFuture<?>> sent = new ArrayList<>();
    long killed = System.nanoTime();
    leader.destroyForcibly();
    long deadline = killed + TimeUnit.SECONDS.toNanos(60);
    try {
      for (int i = 0; firstAck.get() == Long.MAX_VALUE && System.nanoTime() < deadline; i++) {
        sent.add(
            subject
                .put(via, "/failover/after" + i, VALUE)
                .whenComplete(
                    (ok, failed) -> {
                      if (failed == null) {
                        firstAck.accumulateAndGet(System.nanoTime(), Math::min);
                      }
                    }));
        Thread.sleep(PROBE_INTERVAL.toMillis());
      }
    } finally {
      // Puts still held by a member (etcd keeps a leaderless follower's proposal until its 7 s
      // request timeout) do not count; they must not outlive the round's cluster either.
      sent.forEach(f -> f.cancel(true));
    }
    if (firstAck.get() == Long.MAX_VALUE) {
      throw new IllegalStateException(
          subject.system() + ": no write succeeded within 60 s of the kill");
    }
    double ms = (firstAck.get() - killed) / 1e6;
    System.err.printf(
        "bench/leader-failover: %s: first write acknowledged %.0f ms after the kill%n",
        subject.system(), ms);
    return ms;
  }

  private String report(List<Double> etcd, List<Double> meridian, String etcdVersion, String load) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            "%n## Leader failover: SIGKILL to the first write (%s)%n%n3 members each; etcd %s"
                + " (heartbeat, election timeout: %s); Meridian election timeouts %s;"
                + " %d rounds, %d s of writes before each kill; load average before: %s%n%n",
            LocalDate.now(),
            etcdVersion,
            etcdTiming == null
                ? "100 ms, 1000 ms (defaults)"
                : etcdTiming.get(0) + " ms, " + etcdTiming.get(1) + " ms",
            electionTimeout == null
                ? "1000-2000 ms (defaults)"
                : electionTimeout.get(0) + "-" + electionTimeout.get(1) + " ms",
            rounds,
            warmSeconds,
            load));
    b.append("| system | rounds (ms) | median ms | max ms |\n|---|---|---|---|\n");
    row(b, "etcd", etcd);
    row(b, "Meridian", meridian);
    return b.toString();
  }

  private static void row(StringBuilder b, String system, List<Double> ms) {
    if (ms.isEmpty()) {
      return;
    }
    List<Double> sorted = ms.stream().sorted().toList();
    b.append(
        String.format(
            "| %s | %s | %.0f | %.0f |%n",
            system,
            String.join(", ", ms.stream().map(m -> String.format("%.0f", m)).toList()),
            sorted.get(sorted.size() / 2),
            sorted.get(sorted.size() - 1)));
  }
}
