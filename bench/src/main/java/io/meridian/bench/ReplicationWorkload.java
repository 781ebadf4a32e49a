package io.meridian.bench;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.kafka.KafkaBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * Workload 9, replication lag: the three nodes are the PRIMARY of shard 0; a second three-node
 * cluster (its own JVMs) is its STANDBY; a single-node Kafka broker (forked JVM) and a bridge
 * ({@code bin/meridian bridge}, its own JVM) replicate between them. Puts run on the primary at 25,
 * 50 and 100/s (open loop), at concurrency 64 (the most the primary takes), then at 1,000/s (open
 * loop); a watch on a standby member sees each revision arrive. Lag is the time from a put's answer
 * (its revision committed and applied on the primary) to the standby's watch event for that
 * revision, both read from this JVM's monotonic clock. Then the bridge is stopped, 20,000 puts pile
 * up, the bridge starts again and the standby's catch-up rate is the bridge's throughput ceiling.
 */
final class ReplicationWorkload {
  static final String PREFIX = "/repl/";
  private static final int BACKLOG = 20_000;
  private static final int CONCURRENCY = 64;
  // Rates the primary sustains on the reference machine, then the closed loop, then the target's
  // 1,000/s last: beyond what one Raft group takes here, it leaves the primary overloaded.
  private static final double[] RATES = {25, 50, 100};
  private static final double OVERLOAD_RATE = 1000;

  private final LoadDriver driver;
  private final ByteString value;
  private final AtomicLong sequence = new AtomicLong();

  // Revision -> when (µs) the primary answered its put, and when the standby's event for it came.
  private final Map<Long, Long> committed = new ConcurrentHashMap<>();
  private final Map<Long, Long> applied = new ConcurrentHashMap<>();
  // Set once the run ends: the standby's watch then fails because the standby stops.
  private volatile boolean stopping;

  ReplicationWorkload(LoadDriver driver, ByteString value) {
    this.driver = driver;
    this.value = value;
  }

  void run(
      Path launcher,
      NodeProcesses primary,
      String nodeOptions,
      List<Result> results,
      List<String> notes)
      throws IOException, InterruptedException {
    Path dir = primary.dir().resolve("replication");
    Files.createDirectories(dir);
    NodeProcesses standby =
        NodeProcesses.start(
            launcher, dir.resolve("standby"), nodeOptions, "bench-standby", Role.STANDBY);
    Process bridge = null;
    try (KafkaBroker kafka = KafkaBroker.start(dir.resolve("kafka"))) {
      standby.awaitReady(Duration.ofSeconds(120), false);
      Path yaml = dir.resolve("bridge.yaml");
      Files.writeString(
          yaml,
          "listen: {port: 0}\nkafka: {bootstrap-servers: \""
              + kafka.bootstrapServers()
              + "\", replication-factor: 1, min-insync-replicas: 1}\nshards:\n  - id: 0\n"
              + "    source: "
              + quoted(primary.clientUrls())
              + "\n    sinks: {bench-standby: "
              + quoted(standby.clientUrls())
              + "}\n");
      bridge = startBridge(launcher, yaml, dir);
      String primaryUrl = primary.clientUrls().get(0);
      String standbyUrl = standby.clientUrls().get(0);
      awaitCaughtUp(primaryUrl, standbyUrl, bridge, dir);
      watch(standbyUrl);
      Endpoints to = Endpoints.of(primary.clientUrls());
      for (double rate : RATES) {
        paced(rate, to, results, bridge, dir);
      }
      Result most = Bench.progress(driver.closed("replicated put", CONCURRENCY, w -> put(to)));
      results.add(most);
      results.add(lag("closed loop, concurrency " + CONCURRENCY, most, bridge, dir));
      paced(OVERLOAD_RATE, to, results, bridge, dir);

      // The ceiling: a backlog the bridge drains as fast as it can.
      bridge.destroy();
      bridge.waitFor(30, TimeUnit.SECONDS);
      long before = revision(standbyUrl);
      Semaphore inFlight = new Semaphore(CONCURRENCY);
      for (int i = 0; i < BACKLOG; i++) {
        inFlight.acquire();
        put(to).whenComplete((r, t) -> inFlight.release());
      }
      inFlight.acquire(CONCURRENCY);
      inFlight.release(CONCURRENCY);
      long head = revision(primaryUrl);
      bridge = startBridge(launcher, yaml, dir);
      long first = 0;
      long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
      long now;
      long at;
      while ((at = revision(standbyUrl)) < head) {
        now = System.nanoTime();
        if (first == 0 && at > before) {
          first = now;
        }
        if (now > deadline || !bridge.isAlive()) {
          throw new IllegalStateException(
              "standby at " + at + " of " + head + "; see " + dir.resolve("bridge.log"));
        }
        Thread.sleep(20);
      }
      double seconds = (System.nanoTime() - first) / 1e9;
      Result ceiling =
          new Result(
              "replication catch-up",
              String.format(Locale.ROOT, "backlog of %,d revisions", head - before),
              (head - before) / seconds,
              0,
              0,
              0,
              0,
              head - before,
              0,
              null);
      System.err.println("bench: " + ceiling.summary());
      results.add(ceiling);
      notes.add(
          String.format(
              Locale.ROOT,
              "Replication (workload 9): standby of 3 nodes and bridge in their own JVMs, Kafka"
                  + " broker forked (-Xmx512m); lag is from a put's answer from the primary to"
                  + " the standby's watch event for its revision (both seen by the bench JVM),"
                  + " over every put of the run (warm-up included). The bridge caught up %,d"
                  + " revisions at %.0f revisions/s.\n",
              head - before,
              ceiling.opsPerSecond()));
    } finally {
      stopping = true;
      if (bridge != null) {
        bridge.destroy();
        if (!bridge.waitFor(30, TimeUnit.SECONDS)) {
          bridge.destroyForcibly();
        }
      }
      standby.close();
    }
  }

  private void paced(double rate, Endpoints to, List<Result> results, Process bridge, Path dir)
      throws InterruptedException {
    Result puts = Bench.progress(driver.open("replicated put", rate, w -> put(to)));
    results.add(puts);
    results.add(lag(String.format(Locale.ROOT, "open loop %.0f/s", rate), puts, bridge, dir));
  }

  private CompletableFuture<?> put(Endpoints to) {
    long n = Math.floorMod(sequence.getAndIncrement(), (long) KvWorkloads.KEYS);
    return Endpoints.call(
            to.next().kv()::put, PutRequest.newBuilder().setKey(PREFIX + n).setValue(value).build())
        .thenAccept(r -> committed.put(r.getHeader().getRevision(), micros()));
  }

  /** The lag of every put since the last call, once the standby has them all (or 2 minutes). */
  private Result lag(String load, Result puts, Process bridge, Path dir)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (!applied.keySet().containsAll(committed.keySet()) && System.nanoTime() < deadline) {
      if (!bridge.isAlive()) {
        throw new IllegalStateException("bridge exited; see " + dir.resolve("bridge.log"));
      }
      Thread.sleep(50);
    }
    Histogram lags = new Histogram(LoadDriver.HIGHEST_US, 3);
    long missing = 0;
    for (long revision : committed.keySet()) {
      Long seen = applied.get(revision);
      if (seen == null) {
        missing++;
      } else {
        long answered = committed.get(revision);
        lags.recordValue(Math.min(LoadDriver.HIGHEST_US, Math.max(0, seen - answered)));
      }
    }
    committed.clear();
    applied.clear();
    Result r =
        new Result(
            "replication lag",
            String.format(Locale.ROOT, "%s (%.0f puts/s)", load, puts.opsPerSecond()),
            puts.opsPerSecond(),
            lags.getValueAtPercentile(50),
            lags.getValueAtPercentile(99),
            lags.getValueAtPercentile(99.9),
            lags.getMaxValue(),
            lags.getTotalCount(),
            missing,
            missing == 0 ? null : missing + " revisions not seen on the standby in 2 minutes");
    System.err.println("bench: " + r.summary());
    return r;
  }

  /** Records when each revision under {@link #PREFIX} arrives at a standby member. */
  private void watch(String url) {
    StreamObserver<WatchRequest> requests =
        GrpcClients.builder(url)
            .responseTimeout(Duration.ZERO)
            .maxResponseLength(0)
            .build(WatchGrpc.WatchStub.class)
            .watch(
                new StreamObserver<>() {
                  @Override
                  public void onNext(WatchResponse r) {
                    long now = micros();
                    for (Event e : r.getEventsList()) {
                      applied.putIfAbsent(e.getKv().getModRevision(), now);
                    }
                  }

                  @Override
                  public void onError(Throwable t) {
                    if (!stopping) {
                      System.err.println("bench: standby watch failed: " + Endpoints.describe(t));
                    }
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(
        WatchRequest.newBuilder()
            .setCreateRequest(WatchCreateRequest.newBuilder().setKey(PREFIX).setPrefix(true))
            .build());
  }

  private static long revision(String url) {
    return GrpcClients.builder(url)
        .responseTimeout(Duration.ofSeconds(10))
        .build(ReplicationGrpc.ReplicationBlockingStub.class)
        .replicationStatus(ReplicationStatusRequest.getDefaultInstance())
        .getState()
        .getRevision();
  }

  private static void awaitCaughtUp(String primary, String standby, Process bridge, Path dir)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (revision(standby) < revision(primary)) {
      if (System.nanoTime() > deadline || !bridge.isAlive()) {
        throw new IllegalStateException(
            "the standby did not catch up; see " + dir.resolve("bridge.log"));
      }
      Thread.sleep(100);
    }
  }

  private static Process startBridge(Path launcher, Path yaml, Path dir) throws IOException {
    ProcessBuilder pb =
        new ProcessBuilder(launcher.toString(), "bridge", "--config", yaml.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("bridge.log").toFile()));
    String options = System.getenv("BENCH_BRIDGE_JAVA_OPTS");
    pb.environment()
        .put("MERIDIAN_JAVA_OPTS", options == null || options.isBlank() ? "-Xmx512m" : options);
    return pb.start();
  }

  private static long micros() {
    return TimeUnit.NANOSECONDS.toMicros(System.nanoTime());
  }

  private static String quoted(List<String> urls) {
    return urls.stream().map(u -> '"' + u + '"').toList().toString();
  }
}
