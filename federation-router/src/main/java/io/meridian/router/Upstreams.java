package io.meridian.router;

import io.meridian.client.MeridianClient;
import io.meridian.client.Stubs;
import io.meridian.serving.tls.TlsFiles;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@link MeridianClient} per region cluster of a shard: its endpoints health-checked, each
 * endpoint behind its own circuit breaker, calls retried with backoff (the client module's
 * failover), and the whole region cluster behind one more ({@link RegionBreakers}). Every call
 * carries the {@code meridian-shard} header, so a node that hosts several shards serves the right
 * one. Clients are made on first use and closed once a new table no longer names them.
 */
final class Upstreams implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Upstreams.class);

  private record Key(int shard, String region, List<URI> endpoints) {}

  private final RouterConfig.Upstream settings;
  // What calls to nodes present and trust, read from upstream.* files; null: plain defaults.
  private final TlsFiles tls;
  private final MeterRegistry metrics;
  private final ScheduledExecutorService timer;
  private final RegionBreakers breakers;
  private final Map<Key, MeridianClient> clients = new ConcurrentHashMap<>();

  Upstreams(
      RouterConfig.Upstream settings,
      MeterRegistry metrics,
      ScheduledExecutorService timer,
      RegionBreakers breakers) {
    this.settings = settings;
    this.tls = settings.tls().load();
    this.metrics = metrics;
    this.timer = timer;
    this.breakers = breakers;
  }

  /** The client of {@code region}'s cluster of {@code shard}. */
  MeridianClient client(RoutingTable.Shard shard, RoutingTable.Region region) {
    return clients.computeIfAbsent(
        new Key(shard.id(), region.region(), region.endpoints()), this::connect);
  }

  /** Request-level calls to {@code region}'s cluster of {@code shard}. */
  Stubs stubs(RoutingTable.Shard shard, RoutingTable.Region region) {
    return client(shard, region).stubs();
  }

  private MeridianClient connect(Key key) {
    String shard = Integer.toString(key.shard());
    MeridianClient.Builder b = MeridianClient.builder();
    if (tls != null && key.endpoints().stream().allMatch(e -> "https".equals(e.getScheme()))) {
      b.tls(tls);
    }
    return b.endpoints(key.endpoints().stream().map(URI::toString).toList())
        .requestTimeout(Duration.ofMillis(settings.requestTimeoutMs()))
        .attemptTimeout(Duration.ofMillis(settings.attemptTimeoutMs()))
        .healthCheckInterval(Duration.ofMillis(settings.healthCheckIntervalMs()))
        .meterRegistry(metrics)
        .name("shard-" + shard + "." + key.region())
        .shard(key.shard())
        // Added last, so outermost: the region's breaker sees whole calls, retries included.
        .decorator(breakers.decorator(key.shard(), key.region()))
        .build();
  }

  /** Makes the client of every region cluster {@code table} names (health checks start). */
  void connect(RoutingTable table) {
    table.shards().values().forEach(s -> s.regions().forEach(r -> client(s, r)));
  }

  /**
   * Closes the clients {@code table} no longer names, after {@code grace} so that calls already
   * made on them can finish.
   */
  void retain(RoutingTable table, Duration grace) {
    Set<Key> named = new HashSet<>();
    table
        .shards()
        .values()
        .forEach(
            s -> s.regions().forEach(r -> named.add(new Key(s.id(), r.region(), r.endpoints()))));
    for (Key key : Set.copyOf(clients.keySet())) {
      if (!named.contains(key)) {
        MeridianClient gone = clients.remove(key);
        if (gone != null) {
          log.info(
              "shard {} region {}: endpoints {} left the routing table; closing their client",
              key.shard(),
              key.region(),
              key.endpoints());
          timer.schedule(gone::close, grace.toMillis(), TimeUnit.MILLISECONDS);
        }
      }
    }
  }

  @Override
  public void close() {
    clients.values().forEach(MeridianClient::close);
    clients.clear();
  }
}
