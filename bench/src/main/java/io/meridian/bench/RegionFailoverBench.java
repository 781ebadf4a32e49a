package io.meridian.bench;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.client.MeridianClient;
import io.meridian.client.Stubs;
import io.meridian.cluster.DevCluster;
import io.meridian.ctl.Meridianctl;
import io.meridian.launcher.DevFederation;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * RTO and RPO of moving a shard's primary between regions under a steady write load: an unplanned
 * failover (every member of the primary region, each a separate process, SIGKILLed at once, then
 * {@code meridianctl failover} run at once, in this JVM) and a planned switchover. Each round
 * starts a fresh two-region dev federation (Kafka broker, bridge, a router per region), measures
 * the primary's put throughput with a closed loop, then writes at half of it through both routers,
 * one put per tick with a deadline, and records every acknowledgement (time, revision, epoch).
 *
 * <ul>
 *   <li><b>RTO</b>: from the fault (the region killed; for switchover, the command started) to the
 *       first write acknowledged at the new epoch.
 *   <li><b>RPO</b>: acknowledged writes of the old epoch above the revision the new primary was
 *       promoted at (its epoch history says where the new epoch began): acknowledged, then lost.
 *   <li><b>Pause</b> (switchover): the longest gap between two acknowledgements around the move.
 * </ul>
 */
@Command(
    name = "bench/region-failover",
    mixinStandardHelpOptions = true,
    description = "RTO and RPO of region failover and switchover under a write load.")
public final class RegionFailoverBench implements java.util.concurrent.Callable<Integer> {
  @Option(names = "--rounds", description = "Rounds of each kind (default: ${DEFAULT-VALUE}).")
  int rounds = 3;

  @Option(names = "--members", description = "Members per region (default: ${DEFAULT-VALUE}).")
  int members = 3;

  @Option(
      names = "--write-authority-ms",
      description =
          "The nodes' replication.write-authority-ms: a new primary whose old primary could not be"
              + " fenced waits this long before taking writes (default: ${DEFAULT-VALUE}).")
  long writeAuthorityMs = 15_000;

  @Option(
      names = "--warm-seconds",
      description =
          "Closed-loop load before the first round's figures (default: ${DEFAULT-VALUE}).")
  int warmSeconds = 60;

  @Option(
      names = "--kinds",
      split = ",",
      description =
          "failover, failover-isolated (with --old-primary-isolated: no promotion wait),"
              + " switchover (default: ${DEFAULT-VALUE}).")
  List<String> kinds = List.of("failover", "failover-isolated", "switchover");

  @Option(names = "--output", description = "Also write the Markdown report to this file.")
  Path output;

  private static final ByteString VALUE = ByteString.copyFrom(new byte[256]);
  private static final Duration BEFORE = Duration.ofSeconds(10);
  private static final Duration AFTER = Duration.ofSeconds(10);
  private static final Duration PUT_DEADLINE = Duration.ofSeconds(2);

  public static void main(String[] args) {
    System.exit(new CommandLine(new RegionFailoverBench()).execute(args));
  }

  /** One acknowledged write. */
  record Ack(long sentNanos, long ackNanos, long revision, long epoch) {}

  /** What one round measured. */
  record Round(
      String kind,
      double throughput,
      double rtoMs,
      double commandRtoMs,
      long rpo,
      long promotedAt,
      double pauseMs,
      String decided) {}

  @Override
  public Integer call() throws Exception {
    for (String kind : kinds) {
      if (!List.of("failover", "failover-isolated", "switchover").contains(kind)) {
        throw new CommandLine.ParameterException(
            new CommandLine(this),
            "--kinds: " + kind + " (expected: failover, failover-isolated or switchover)");
      }
    }
    Path dir = Files.createTempDirectory("meridian-region-failover-bench-");
    String load = Report.loadAverage();
    List<Round> results = new ArrayList<>();
    boolean warm = false;
    for (int round = 0; round < rounds; round++) {
      for (String kind : kinds) {
        results.add(round(dir.resolve(kind + "-" + round), kind, warm ? 0 : warmSeconds));
        warm = true;
      }
    }
    String report = report(results, load);
    System.out.print(report);
    if (output != null) {
      Files.writeString(output, report);
    }
    return 0;
  }

  private Round round(Path dir, String kind, int warmFor) throws Exception {
    Path launcher =
        Path.of(System.getProperty("meridian.home", "."))
            .toAbsolutePath()
            .normalize()
            .resolve("bin/meridian");
    // The primary region's members are processes, so the failover's fault is a SIGKILL of all of
    // them at once; the rest runs in this JVM.
    NodeProcesses[] east = new NodeProcesses[1];
    DevFederation.RegionLaunch launch =
        (region, planned) ->
            region.equals("us-east")
                ? (east[0] =
                    NodeProcesses.start(
                        launcher, planned.stateDir(), "-Xmx512m", planned.configs()))
                : planned.start();
    try (DevFederation f =
            DevFederation.start(
                dir,
                new DevFederation.Shape(List.of("us-east", "us-west"), 1, members, true),
                Map.of(
                    "raft",
                    DevCluster.FAST_ELECTIONS,
                    "replication",
                    Map.of("write-authority-ms", writeAuthorityMs)),
                Map.of(),
                launch);
        MeridianClient client =
            MeridianClient.builder()
                .endpoints(List.of(f.router("us-east").url(), f.router("us-west").url()))
                .requestTimeout(PUT_DEADLINE)
                .name("bench")
                .build()) {
      long until = System.nanoTime() + Duration.ofSeconds(180).toNanos();
      east[0].awaitReady(Duration.ofSeconds(180), false);
      while (!(f.ready() && f.bridge().healthy()) && System.nanoTime() < until) {
        Thread.sleep(100);
      }
      if (warmFor > 0) {
        closedLoop(client, Duration.ofSeconds(warmFor));
      }
      double throughput = closedLoop(client, Duration.ofSeconds(15));
      double rate = throughput / 2;
      ConcurrentLinkedQueue<Ack> acks = new ConcurrentLinkedQueue<>();
      AtomicLong seq = new AtomicLong();
      ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor();
      long periodNanos = (long) (1e9 / rate);
      ticks.scheduleAtFixedRate(
          () -> {
            long sent = System.nanoTime();
            client
                .kv()
                .putOnceAsync(
                    PutRequest.newBuilder()
                        .setKey("/bench/k" + seq.getAndIncrement())
                        .setValue(VALUE)
                        .build())
                .orTimeout(PUT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
                .thenAccept(
                    (PutResponse r) ->
                        acks.add(
                            new Ack(
                                sent,
                                System.nanoTime(),
                                r.getHeader().getRevision(),
                                r.getHeader().getEpoch())));
          },
          0,
          periodNanos,
          TimeUnit.NANOSECONDS);
      try {
        Thread.sleep(BEFORE.toMillis());
        String kafka = f.bridge().config().kafka().bootstrapServers();
        String routers = f.router("us-east").url() + "," + f.router("us-west").url();
        long fault = System.nanoTime();
        StringWriter out = new StringWriter();
        int code;
        long command = fault;
        if (kind.startsWith("failover")) {
          east[0].killAll();
          command = System.nanoTime();
          List<String> args =
              new ArrayList<>(
                  List.of(
                      "--shard",
                      "0",
                      "--timeout",
                      "5s",
                      "failover",
                      "--to",
                      "us-west",
                      "--kafka",
                      kafka,
                      "--accept-data-loss",
                      "--yes"));
          if (kind.equals("failover-isolated")) {
            // The operator vouches that the killed region takes no write: no promotion wait.
            args.add("--old-primary-isolated");
          }
          code =
              Meridianctl.run(
                  Map.of("MERIDIAN_ENDPOINTS", routers),
                  new PrintWriter(out, true),
                  new PrintWriter(out, true),
                  args.toArray(String[]::new));
        } else {
          code =
              Meridianctl.run(
                  Map.of("MERIDIAN_ENDPOINTS", routers),
                  new PrintWriter(out, true),
                  new PrintWriter(out, true),
                  "--shard",
                  "0",
                  "switchover",
                  "--to",
                  "us-west",
                  "--yes");
        }
        if (code != 0) {
          throw new IllegalStateException(kind + " failed (" + code + "):\n" + out);
        }
        System.err.print(out);
        Thread.sleep(AFTER.toMillis());
        ticks.shutdown();
        ticks.awaitTermination(10, TimeUnit.SECONDS);
        Thread.sleep(PUT_DEADLINE.toMillis());
        long promotedAt = promotedAt(f);
        List<Ack> all =
            acks.stream().sorted((a, b) -> Long.compare(a.ackNanos, b.ackNanos)).toList();
        long newEpoch = all.stream().mapToLong(Ack::epoch).max().orElse(0);
        double rto =
            all.stream()
                    .filter(a -> a.epoch() == newEpoch && a.ackNanos() > fault)
                    .mapToLong(Ack::ackNanos)
                    .min()
                    .orElse(fault)
                - fault;
        long rpo =
            all.stream().filter(a -> a.epoch() < newEpoch && a.revision() > promotedAt).count();
        double pause = 0;
        for (int i = 1; i < all.size(); i++) {
          if (all.get(i).ackNanos() > fault - 1_000_000_000L) {
            pause = Math.max(pause, all.get(i).ackNanos() - all.get(i - 1).ackNanos());
          }
        }
        String decided =
            out.toString()
                .lines()
                .filter(l -> l.contains("] decide:"))
                .findFirst()
                .map(l -> l.substring(l.indexOf("decide:") + 8))
                .orElse("-");
        double commandRto = rto - (command - fault);
        Round r =
            new Round(
                kind,
                throughput,
                rto / 1e6,
                commandRto / 1e6,
                rpo,
                promotedAt,
                pause / 1e6,
                decided);
        System.err.printf(
            "bench/region-failover: %s: %.0f puts/s closed loop; RTO %.0f ms (%.0f ms from the"
                + " command), RPO %d, pause %.0f ms%n",
            kind, throughput, r.rtoMs(), r.commandRtoMs(), rpo, r.pauseMs());
        return r;
      } finally {
        ticks.shutdownNow();
      }
    }
  }

  /** The revision the new primary (us-west) was promoted at: its newest epoch's start - 1. */
  private static long promotedAt(DevFederation f) {
    String url = f.cluster("us-west").configs().get(0).self().client();
    try (MeridianClient west = MeridianClient.builder().endpoints(List.of(url)).shard(0).build()) {
      StatusResponse status =
          Stubs.call(west.stubs().cluster()::status, StatusRequest.getDefaultInstance(), true)
              .join();
      List<EpochStart> history = status.getShards(0).getEpochHistoryList();
      return history.get(history.size() - 1).getStartRevision() - 1;
    }
  }

  /** Puts with 32 outstanding for {@code d}; returns acknowledged puts per second. */
  private static double closedLoop(MeridianClient client, Duration d) throws Exception {
    AtomicLong done = new AtomicLong();
    long end = System.nanoTime() + d.toNanos();
    long start = System.nanoTime();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 32; t++) {
      int id = t;
      Thread thread =
          new Thread(
              () -> {
                int n = 0;
                while (System.nanoTime() < end) {
                  try {
                    client
                        .kv()
                        .put(
                            PutRequest.newBuilder()
                                .setKey("/warm/k" + id + "-" + (n++ % 100))
                                .setValue(VALUE)
                                .build());
                    done.incrementAndGet();
                  } catch (RuntimeException e) {
                    // A refused put counts for nothing; the loop goes on until the end.
                  }
                }
              });
      thread.start();
      threads.add(thread);
    }
    for (Thread t : threads) {
      t.join();
    }
    return done.get() / ((System.nanoTime() - start) / 1e9);
  }

  private String report(List<Round> results, String load) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            "%n## Region failover and switchover: RTO and RPO (%s)%n%n2 regions, %d members each,"
                + " 1 shard, the primary region's members as processes (killed at once for a"
                + " failover), the rest in one JVM; write load at half the closed-loop put throughput through"
                + " both routers; replication.write-authority-ms %d; load average before: %s%n%n",
            LocalDate.now(), members, writeAuthorityMs, load));
    b.append(
        "| kind | closed-loop puts/s | RTO ms (from the fault) | RTO ms (from the command) | RPO"
            + " (acked, lost) | promoted at | longest pause ms | decide said |\n"
            + "|---|---|---|---|---|---|---|---|\n");
    for (Round r : results) {
      b.append(
          String.format(
              "| %s | %.0f | %.0f | %.0f | %d | %d | %.0f | %s |%n",
              r.kind(),
              r.throughput(),
              r.rtoMs(),
              r.commandRtoMs(),
              r.rpo(),
              r.promotedAt(),
              r.pauseMs(),
              r.decided().replace("|", "/")));
    }
    return b.toString();
  }
}
