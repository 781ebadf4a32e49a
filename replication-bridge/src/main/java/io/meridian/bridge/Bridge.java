package io.meridian.bridge;

import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.BridgeAdminGrpc;
import io.meridian.api.v1.BridgeShardStatus;
import io.meridian.api.v1.BridgeSinkStatus;
import io.meridian.api.v1.BridgeSourceStatus;
import io.meridian.api.v1.BridgeStatusRequest;
import io.meridian.api.v1.BridgeStatusResponse;
import io.meridian.client.MeridianClient;
import io.meridian.serving.ApiServer;
import io.meridian.serving.Replies;
import io.meridian.serving.tls.TlsFiles;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running replication bridge ({@code meridian bridge --config bridge.yaml}): for each configured
 * shard, a source that ships the primary's changes into the shard's topic and a sink per standby
 * region that applies them, each on its own thread; plus {@code /health} (503 while a part fails or
 * a standby lags beyond the configured limits), {@code /metrics} and {@code /v1/bridge/status}. A
 * shard configured with {@code regions} follows the regions' roles: its {@link Arrangement} moves
 * the source and the sinks as regions are fenced, promoted and rejoined.
 *
 * <p>The bridge keeps no state of its own: the topic says how far the source shipped and each
 * standby says how far it applied, so a restarted (or second) bridge resumes exactly there.
 *
 * <pre>{@code
 * try (Bridge bridge = Bridge.start(BridgeConfig.load(Path.of("bridge.yaml")))) {
 *   System.out.println("status at " + bridge.url() + "/v1/bridge/status");
 * }
 * }</pre>
 */
public final class Bridge implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Bridge.class);

  private final BridgeConfig config;
  private final PrometheusMeterRegistry metrics = ApiServer.newMeterRegistry();
  private final List<MeridianClient> clients = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();
  private final List<Part> parts = new ArrayList<>();
  private final Map<Integer, ShardLag> lags = new LinkedHashMap<>();
  private final Map<Integer, Arrangement> arrangements = new LinkedHashMap<>();
  // The static shards' shipped revisions, for their gauges (held here: gauges hold them weakly).
  private final List<AtomicLong> shippedRevisions = new ArrayList<>();
  private final Server server;
  // What calls to https:// nodes present and trust (upstream.*), null for the JDK's defaults.
  private final TlsFiles upstreamTls;
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  /** One source or sink, with what it reports. */
  private record Part(int shard, String region, Source source, Sink sink, Progress progress) {}

  // The bridge's one wall clock (ms since the epoch): lag and report intervals read it.
  private Bridge(BridgeConfig config, LongSupplier clock) {
    this.config = config;
    this.upstreamTls = config.upstream().load();
    for (BridgeConfig.ShardConfig shard : config.shards()) {
      ShardLag lag = new ShardLag(shard.id(), shard.sinks().keySet(), clock, metrics);
      lags.put(shard.id(), lag);
      if (shard.followsRoles()) {
        Map<String, MeridianClient> regions = new LinkedHashMap<>();
        shard
            .regions()
            .forEach((region, urls) -> regions.put(region, client(shard.id(), region, urls)));
        arrangements.put(
            shard.id(), new Arrangement(shard.id(), regions, config, lag, clock, metrics));
        continue;
      }
      if (!shard.source().isEmpty()) {
        Progress progress = new Progress();
        AtomicLong shippedRevision = new AtomicLong();
        shippedRevisions.add(shippedRevision);
        Source source =
            new Source(
                shard.id(),
                null,
                false,
                client(shard.id(), "source", shard.source()),
                config,
                lag,
                clock,
                metrics,
                shippedRevision,
                progress);
        parts.add(new Part(shard.id(), null, source, null, progress));
      }
      shard
          .sinks()
          .forEach(
              (region, urls) -> {
                Progress progress = new Progress();
                Sink sink =
                    new Sink(
                        shard.id(),
                        region,
                        client(shard.id(), region, urls),
                        config,
                        lag,
                        metrics,
                        progress);
                parts.add(new Part(shard.id(), region, null, sink, progress));
              });
    }
    ServerBuilder builder = Server.builder();
    config
        .tls()
        .listen(
            builder,
            new InetSocketAddress(config.listen().host(), config.listen().port()),
            metrics);
    this.server =
        ApiServer.serve(
                builder, List.of(new Admin()), metrics, "meridian.bridge.served", this::healthy)
            .build();
  }

  /** Starts every source and sink of {@code config} and the bridge's HTTP server. */
  public static Bridge start(BridgeConfig config) {
    Bridge bridge = new Bridge(config, System::currentTimeMillis);
    try {
      bridge.server.start().join();
      for (Part part : bridge.parts) {
        Runnable body = part.source() != null ? part.source() : part.sink();
        String name =
            part.source() != null
                ? "meridian-bridge-source-" + part.shard()
                : "meridian-bridge-sink-" + part.shard() + "-" + part.region();
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        bridge.threads.add(thread);
        thread.start();
      }
      bridge.arrangements.values().forEach(Arrangement::start);
    } catch (RuntimeException e) {
      bridge.close();
      throw e;
    }
    log.info(
        "bridge started: {} shards, kafka {}, status at {}",
        config.shards().size(),
        config.kafka().bootstrapServers(),
        bridge.url());
    return bridge;
  }

  private MeridianClient client(int shard, String name, List<String> urls) {
    MeridianClient.Builder b = MeridianClient.builder();
    if (upstreamTls != null && urls.stream().allMatch(u -> u.startsWith("https://"))) {
      b.tls(upstreamTls);
    }
    MeridianClient client =
        b.endpoints(urls)
            .shard(shard)
            .requestTimeout(Duration.ofSeconds(15))
            .meterRegistry(metrics)
            .name("shard-" + shard + "." + name)
            .build();
    clients.add(client);
    return client;
  }

  /** Base URL of the bridge's HTTP server. */
  public String url() {
    return config.tls().scheme() + "://" + config.listen().host() + ":" + ApiServer.port(server);
  }

  public BridgeConfig config() {
    return config;
  }

  public PrometheusMeterRegistry metrics() {
    return metrics;
  }

  /** Every part running, and every standby within the lag limits. */
  public boolean healthy() {
    return status().getHealthy();
  }

  /** Where every source and sink stands. */
  public BridgeStatusResponse status() {
    boolean healthy = true;
    Map<Integer, BridgeShardStatus.Builder> shards = new LinkedHashMap<>();
    for (Part part : parts) {
      ShardLag lag = lags.get(part.shard());
      BridgeShardStatus.Builder shard =
          shards.computeIfAbsent(
              part.shard(),
              id -> BridgeShardStatus.newBuilder().setShard(id).setHeadRevision(lag.head()));
      healthy &= part.progress().state() == Progress.State.RUNNING;
      if (part.source() != null) {
        shard.setSource(
            BridgeSourceStatus.newBuilder()
                .setState(part.progress().state().name())
                .setDetail(part.progress().detail())
                .setShippedRevision(part.source().shipped().getRevision()));
      } else {
        long revisions = lag.revisionsBehind(part.region());
        long ms = lag.msBehind(part.region());
        healthy &= revisions <= config.lag().degradedRevisions() && ms <= config.lag().degradedMs();
        shard.addSinks(
            BridgeSinkStatus.newBuilder()
                .setRegion(part.region())
                .setState(part.progress().state().name())
                .setDetail(part.progress().detail())
                .setAppliedRevision(lag.appliedRevision(part.region()))
                .setLagRevisions(revisions)
                .setLagMs(ms));
      }
    }
    for (Map.Entry<Integer, Arrangement> e : arrangements.entrySet()) {
      BridgeShardStatus.Builder shard =
          BridgeShardStatus.newBuilder()
              .setShard(e.getKey())
              .setHeadRevision(lags.get(e.getKey()).head());
      healthy &= e.getValue().describe(shard, config.lag());
      shards.put(e.getKey(), shard);
    }
    BridgeStatusResponse.Builder out = BridgeStatusResponse.newBuilder().setHealthy(healthy);
    // In the config's order, whichever form each shard has.
    for (BridgeConfig.ShardConfig shard : config.shards()) {
      BridgeShardStatus.Builder s = shards.get(shard.id());
      if (s != null) {
        out.addShards(s);
      }
    }
    return out.build();
  }

  /** Stops every source and sink (a source's open transaction is aborted by its successor). */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return; // Closed already (a test that stopped its dev federation's bridge, say).
    }
    // Static parts stop after their current step (a flag; they are waited for below).
    for (Part part : parts) {
      if (part.source() != null) {
        part.source().close();
      } else {
        part.sink().close();
      }
    }
    // Every shard's arrangement at once: each may wait for its producer's bounded close, and one
    // after another they kept the stop (and the nodes waiting for their reports) that many times
    // longer.
    List<Thread> closing = new ArrayList<>();
    arrangements.forEach(
        (shard, a) -> {
          Thread t = new Thread(a::close, "meridian-bridge-close-" + shard);
          t.start();
          closing.add(t);
        });
    try {
      for (Thread t : closing) {
        t.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Each loop sees `closed` within a poll (100 ms) or a send and closes its Kafka clients itself;
    // an interrupt then would make those closes fail. Only a loop still waiting (a retry's pause,
    // a slow send) after the grace is interrupted.
    long graceEnds = System.nanoTime() + Source.STOP_GRACE.toNanos();
    try {
      for (Thread thread : threads) {
        thread.join(Math.max(1, (graceEnds - System.nanoTime()) / 1_000_000));
      }
      for (Thread thread : threads) {
        if (thread.isAlive()) {
          thread.interrupt();
          thread.join(Duration.ofSeconds(30).toMillis());
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    clients.forEach(MeridianClient::close);
    server.stop().join();
    log.info("bridge stopped");
  }

  /** {@code GET /v1/bridge/status}. */
  private final class Admin extends BridgeAdminGrpc.BridgeAdminImplBase {
    @Override
    public void status(BridgeStatusRequest request, StreamObserver<BridgeStatusResponse> observer) {
      Replies.reply(observer, () -> CompletableFuture.completedFuture(Bridge.this.status()));
    }
  }
}
