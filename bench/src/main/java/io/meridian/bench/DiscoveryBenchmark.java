package io.meridian.bench;

import io.meridian.api.v1.RegisterRequest;
import io.meridian.client.Discovery;
import io.meridian.client.MeridianClient;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Client overhead of discovery: a lookup answered from the client's cache, and a fresh one that
 * asks a local 3-node cluster (in this JVM) for a service of 10 passing instances. Sample time
 * mode, so the report has percentiles. Run with {@code bench/jmh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx1g", "-Djava.util.concurrent.ForkJoinPool.common.parallelism=2"})
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
public class DiscoveryBenchmark {
  private Path dir;
  private DevCluster cluster;
  private MeridianClient cachedClient;
  private MeridianClient freshClient;

  @Setup(Level.Trial)
  public void start() throws IOException {
    dir = Files.createTempDirectory("meridian-jmh");
    cluster = DevCluster.plan(dir, 3, "bench").start();
    String[] urls = cluster.nodes().stream().map(MeridianNode::clientUrl).toArray(String[]::new);
    freshClient = MeridianClient.builder().endpoints(urls).build();
    cachedClient =
        MeridianClient.builder()
            .endpoints(urls)
            .discovery(Discovery.Options.defaults().withFreshFor(Duration.ofHours(1)))
            .build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (int i = 0; i < 10; i++) {
      RegisterRequest r =
          RegisterRequest.newBuilder()
              .setNamespace("bench")
              .setService("payments")
              .setInstanceId("p" + i)
              .setAddress("10.0.0." + (i + 1))
              .setPort(8080)
              .setTtl(3600)
              .build();
      while (true) {
        try {
          freshClient.registry().register(r);
          break;
        } catch (RuntimeException e) {
          if (System.nanoTime() > deadline) {
            throw e;
          }
        }
      }
    }
    // Fill the cache.
    cachedClient.discovery().discover("bench", "payments");
  }

  @Benchmark
  public Discovery.Result cachedLookup() {
    return cachedClient.discovery().discover("bench", "payments");
  }

  @Benchmark
  public Discovery.Result freshLookup() {
    return freshClient.discovery().discover("bench", "payments");
  }

  @TearDown(Level.Trial)
  public void stop() throws IOException {
    cachedClient.close();
    freshClient.close();
    cluster.close();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
