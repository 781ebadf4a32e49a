package io.meridian.router;

import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.serving.ApiServer;
import io.meridian.serving.HttpWatch;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running router ({@code meridian router --config router.yaml}): the node's client API (KV,
 * Lease, Lock, Registry, Watch, Cluster) over gRPC and HTTP/JSON, routed by its table, plus its
 * admin API ({@code /v1/router/table}), {@code /health}, {@code /metrics} and {@code /docs}. It
 * keeps no durable state: restarted, it serves the table file again until told otherwise.
 *
 * <pre>{@code
 * try (RouterServer router = RouterServer.start(RouterConfig.load(Path.of("router.yaml")))) {
 *   System.out.println("routing at " + router.url());
 * }
 * }</pre>
 */
public final class RouterServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RouterServer.class);

  private final RouterConfig config;
  private final PrometheusMeterRegistry metrics;
  private final ScheduledExecutorService timer;
  private final Router router;
  private final Server server;

  private RouterServer(RouterConfig config, RoutingTable table) {
    this.config = config;
    this.metrics = ApiServer.newMeterRegistry();
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "meridian-router-" + config.region());
              t.setDaemon(true);
              return t;
            });
    this.router =
        new Router(
            config,
            table,
            metrics,
            timer,
            Ticker.systemTicker(),
            () -> "router-" + UUID.randomUUID());
    RoutedWatch watch = new RoutedWatch(router);
    RoutedRegistry registry = new RoutedRegistry(router);
    ServerBuilder builder = Server.builder();
    config
        .tls()
        .listen(
            builder,
            new InetSocketAddress(config.listen().host(), config.listen().port()),
            metrics);
    this.server =
        ApiServer.serve(
                builder,
                List.of(
                    new RoutedKv(router),
                    new RoutedLease(router),
                    new RoutedLock(router),
                    new RoutedCluster(router),
                    watch,
                    registry,
                    new RouterAdmin(router)),
                metrics,
                "meridian.router.served")
            .annotatedService(new HttpWatch(watch.http(), registry.httpWatch()))
            .build();
  }

  /** Starts a router serving the table in {@code config.table()}. */
  public static RouterServer start(RouterConfig config) {
    String text;
    try {
      text = Files.readString(Path.of(config.table()));
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "router config: table: cannot read %s: %s",
          config.table(),
          e.getMessage());
    }
    return start(config, RoutingTable.parse(text));
  }

  /** Starts a router serving {@code table}. */
  public static RouterServer start(RouterConfig config, RoutingTable table) {
    RouterServer r = new RouterServer(config, table);
    try {
      r.server.start().join();
    } catch (RuntimeException e) {
      r.close();
      throw e;
    }
    log.info(
        "router in region {} serving {} with routing table version {} ({} shards)",
        config.region(),
        r.url(),
        table.version(),
        table.shards().size());
    return r;
  }

  /** The URL clients use, such as {@code http://127.0.0.1:2390}. */
  public String url() {
    return config.tls().scheme() + "://" + config.listen().host() + ":" + ApiServer.port(server);
  }

  public RouterConfig config() {
    return config;
  }

  /** The routing table served now. */
  public RoutingTable table() {
    return router.table();
  }

  /**
   * Serves {@code next} from now on if its version is higher than the one served (as the admin API
   * does); returns the table served before.
   */
  public RoutingTable replaceTable(RoutingTable next) {
    return router.replace(next);
  }

  public PrometheusMeterRegistry metrics() {
    return metrics;
  }

  @Override
  public void close() {
    server.stop().join();
    router.close();
    timer.shutdownNow();
    metrics.close();
  }
}
