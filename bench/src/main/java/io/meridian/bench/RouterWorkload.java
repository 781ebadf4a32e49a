package io.meridian.bench;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.serving.LoopbackPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Workload 8, router overhead: a router as its own JVM ({@code bin/meridian router}) in front of
 * the three nodes (one region, PRIMARY for shard 0). The same put and LINEARIZABLE range load runs
 * direct to the nodes and through the router; then LOCAL Discover of a 10-instance service through
 * the router and direct, and both again on a fixed schedule at a quarter and a tenth of the
 * router's closed-loop throughput. The ratio of each pair is the router's cost.
 */
final class RouterWorkload {
  static final int CONCURRENCY = 16;
  static final String NAMESPACE = "bench";
  static final String SERVICE = "routed";

  private final LoadDriver driver;
  private final ByteString value;
  private final AtomicLong sequence = new AtomicLong();

  RouterWorkload(LoadDriver driver, ByteString value) {
    this.driver = driver;
    this.value = value;
  }

  void run(Path launcher, NodeProcesses nodes, List<Result> results, List<String> notes)
      throws IOException, InterruptedException {
    Path dir = nodes.dir();
    Path table = dir.resolve("routing-table.yaml");
    String endpoints =
        String.join(", ", nodes.clientUrls().stream().map(u -> '"' + u + '"').toList());
    Files.writeString(
        table,
        "version: 1\nslots:\n  - {range: 0-4095, shard: 0}\nshards:\n  - id: 0\n    regions:\n"
            + "      - {region: bench, role: PRIMARY, epoch: 1, endpoints: ["
            + endpoints
            + "]}\n");
    int port = LoopbackPorts.free();
    Path yaml = dir.resolve("router.yaml");
    Files.writeString(
        yaml,
        "region: bench\nlisten: {host: 127.0.0.1, port: " + port + "}\ntable: " + table + "\n");
    ProcessBuilder pb =
        new ProcessBuilder(launcher.toString(), "router", "--config", yaml.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("router.log").toFile()));
    String options = System.getenv("BENCH_ROUTER_JAVA_OPTS");
    pb.environment()
        .put("MERIDIAN_JAVA_OPTS", options == null || options.isBlank() ? "-Xmx512m" : options);
    Process router = pb.start();
    try {
      String url = "http://127.0.0.1:" + port;
      awaitRouter(url, router, dir);
      Endpoints direct = Endpoints.of(nodes.clientUrls());
      Endpoints routed = Endpoints.of(List.of(url));
      for (int i = 0; i < 10; i++) {
        Endpoints.await(
            Endpoints.call(
                direct.next().registry()::register,
                RegisterRequest.newBuilder()
                    .setNamespace(NAMESPACE)
                    .setService(SERVICE)
                    .setInstanceId("i" + i)
                    .setAddress("10.0.0." + i)
                    .setPort(8080)
                    .setTtl(300)
                    .build()));
      }
      Result putDirect = measure("put, direct", w -> put(direct));
      Result putRouted = measure("put, through the router", w -> put(routed));
      Result rangeDirect = measure("range LINEARIZABLE, direct", w -> range(direct));
      Result rangeRouted = measure("range LINEARIZABLE, through the router", w -> range(routed));
      Result discoverDirect = measure("Discover LOCAL, direct", w -> discover(direct));
      Result discoverRouted = measure("Discover LOCAL, through the router", w -> discover(routed));
      results.addAll(
          List.of(putDirect, putRouted, rangeDirect, rangeRouted, discoverDirect, discoverRouted));
      // The latency goal is at a load the machine sustains, not at saturation: a quarter and a
      // tenth of the router's closed-loop throughput, on a fixed schedule (latency from each
      // scheduled send), direct and through the router.
      for (int fraction : new int[] {4, 10}) {
        double rate = Math.max(1, Math.floor(discoverRouted.opsPerSecond() / fraction));
        results.add(
            Bench.progress(driver.open("Discover LOCAL, direct", rate, i -> discover(direct))));
        results.add(
            Bench.progress(
                driver.open("Discover LOCAL, through the router", rate, i -> discover(routed))));
      }
      notes.add(
          String.format(
              Locale.ROOT,
              "Router overhead (concurrency %d; router in its own JVM, -Xmx512m): put throughput"
                  + " through the router is %.2f of direct, p99 %.2f x; LINEARIZABLE range %.2f"
                  + " of direct, p99 %.2f x; LOCAL Discover %.2f of direct, p99 %.2f x.\n",
              CONCURRENCY,
              putRouted.opsPerSecond() / putDirect.opsPerSecond(),
              putRouted.p99() / (double) putDirect.p99(),
              rangeRouted.opsPerSecond() / rangeDirect.opsPerSecond(),
              rangeRouted.p99() / (double) rangeDirect.p99(),
              discoverRouted.opsPerSecond() / discoverDirect.opsPerSecond(),
              discoverRouted.p99() / (double) discoverDirect.p99()));
    } finally {
      router.destroy();
      if (!router.waitFor(10, TimeUnit.SECONDS)) {
        router.destroyForcibly();
      }
    }
  }

  private Result measure(String name, LoadDriver.Op op) throws InterruptedException {
    return Bench.progress(driver.closed(name, CONCURRENCY, op));
  }

  private java.util.concurrent.CompletableFuture<?> put(Endpoints to) {
    long n = Math.floorMod(sequence.getAndIncrement(), (long) KvWorkloads.KEYS);
    return Endpoints.call(
        to.next().kv()::put,
        PutRequest.newBuilder().setKey("/bench/r" + n).setValue(value).build());
  }

  private java.util.concurrent.CompletableFuture<?> range(Endpoints to) {
    return Endpoints.call(
        to.next().kv()::range,
        RangeRequest.newBuilder()
            .setKey("/bench/r0")
            .setConsistency(Consistency.LINEARIZABLE)
            .build());
  }

  private java.util.concurrent.CompletableFuture<?> discover(Endpoints to) {
    return Endpoints.call(
        to.next().registry()::discover,
        DiscoverRequest.newBuilder()
            .setNamespace(NAMESPACE)
            .setService(SERVICE)
            .setConsistency(Consistency.LOCAL)
            .build());
  }

  private static void awaitRouter(String url, Process router, Path dir)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    String last = "no answer yet";
    while (System.nanoTime() < deadline) {
      if (!router.isAlive()) {
        throw new IllegalStateException(
            "router exited with " + router.exitValue() + "; see " + dir.resolve("router.log"));
      }
      try {
        Endpoints.await(
            Endpoints.call(
                Endpoints.of(List.of(url)).next().kv()::range,
                RangeRequest.newBuilder().setKey("/bench/ready").build()));
        return;
      } catch (IllegalStateException e) {
        last = e.getMessage();
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("router not ready after 60 s: " + last);
  }
}
