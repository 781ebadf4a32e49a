package io.meridian.client;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.ClientFactoryBuilder;
import com.linecorp.armeria.client.Endpoint;
import com.linecorp.armeria.client.HttpClient;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreaker;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerClient;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerListener;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerListenerAdapter;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerRule;
import com.linecorp.armeria.client.endpoint.EndpointGroup;
import com.linecorp.armeria.client.endpoint.EndpointSelectionStrategy;
import com.linecorp.armeria.client.endpoint.dns.DnsAddressEndpointGroup;
import com.linecorp.armeria.client.endpoint.healthcheck.HealthCheckedEndpointGroup;
import com.linecorp.armeria.client.grpc.GrpcClientBuilder;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.client.metric.MetricCollectingClient;
import com.linecorp.armeria.client.retry.RetryConfig;
import com.linecorp.armeria.client.retry.RetryRule;
import com.linecorp.armeria.client.retry.RetryingClient;
import com.linecorp.armeria.common.SessionProtocol;
import com.linecorp.armeria.common.TlsProvider;
import com.linecorp.armeria.common.metric.MeterIdPrefix;
import com.linecorp.armeria.common.metric.MeterIdPrefixFunction;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.WatchGrpc;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A client of a Meridian deployment: a region cluster's members, or routers. Thread-safe; build one
 * per application and share it. (Most of this file is its {@link Builder}, nested as {@code
 * MeridianClient.builder()} reads, which makes it longer than our other classes.)
 *
 * <p>Calls go round-robin over the endpoints that pass their {@code /health} check. A call that
 * fails is retried on another endpoint after 100 ms, 500 ms and 2 s (see {@link RetryPolicy} for
 * which failures are retried), and each endpoint has its own circuit breaker: an endpoint that
 * keeps failing is skipped until its breaker lets a trial call through. Failures surface as {@link
 * io.meridian.api.MeridianException} with a Meridian error code.
 *
 * <pre>{@code
 * try (MeridianClient client =
 *     MeridianClient.builder()
 *         .endpoints("http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379")
 *         .meterRegistry(registry)
 *         .build()) {
 *   client.kv().put("/orders/config/limit", ByteString.copyFromUtf8("100"));
 *   Optional<KeyValue> limit = client.kv().get("/orders/config/limit");
 * }
 * }</pre>
 */
public final class MeridianClient implements AutoCloseable {
  private final ClientFactory factory;
  private final EndpointGroup endpoints;
  private final KvClient kv;
  private final LeaseClient leases;
  private final LockClient locks;
  private final WatchClient watches;
  private final RegistryClient registry;
  private final Discovery discovery;
  private final Stubs stubs;

  private MeridianClient(Builder b) {
    ClientFactoryBuilder factoryBuilder = ClientFactory.builder().meterRegistry(b.meterRegistry);
    if (b.tls != null) {
      factoryBuilder.tlsProvider(b.tls);
    }
    b.clientFactory.accept(factoryBuilder);
    this.factory = factoryBuilder.build();
    EndpointGroup configured =
        b.dnsHost != null
            ? DnsAddressEndpointGroup.builder(b.dnsHost)
                .port(b.dnsPort)
                .selectionStrategy(EndpointSelectionStrategy.roundRobin())
                .build()
            : EndpointGroup.of(EndpointSelectionStrategy.roundRobin(), b.endpoints);
    HealthCheckedEndpointGroup checked =
        HealthCheckedEndpointGroup.builder(configured, "/health")
            .protocol(b.protocol())
            .clientFactory(factory)
            .retryInterval(b.healthCheckInterval)
            // With every endpoint failing its check, keep the last healthy set rather than none:
            // the circuit breakers and retries still steer calls.
            .allowEmptyEndpoints(false)
            .build();
    checked
        .newMeterBinder(
            b.name == null ? "meridian.client.endpoints" : "meridian.client.endpoints." + b.name)
        .bindTo(b.meterRegistry);
    this.endpoints = checked;
    Function<Boolean, GrpcClientBuilder> stubs =
        repeatable ->
            grpc(b, repeatable ? b.retry.idempotent() : b.retry.atMostOnce(), b.attemptTimeout);
    this.kv =
        new KvClient(
            stubs.apply(true).build(KVGrpc.KVStub.class),
            stubs.apply(false).build(KVGrpc.KVStub.class),
            b.requestIds);
    // Session timers run on one of the client's event loops: their work never blocks.
    this.leases =
        new LeaseClient(
            stubs.apply(true).build(LeaseGrpc.LeaseStub.class),
            factory.eventLoopGroup().next(),
            b.ticker,
            b.requestIds);
    // An acquire waits as long as its caller asked: no per-attempt timeout, one set per call.
    this.locks =
        new LockClient(
            grpc(b, b.retry.idempotent(), Duration.ZERO).build(LockGrpc.LockStub.class),
            kv,
            leases,
            b.requestIds);
    // Streams: no retrying decorator (the watch resumes itself) and no response timeout.
    this.watches =
        new WatchClient(
            grpc(b, null, Duration.ZERO)
                .responseTimeout(Duration.ZERO)
                .maxResponseLength(0)
                .build(WatchGrpc.WatchStub.class),
            factory.eventLoopGroup().next(),
            b.retry);
    // A blocking Discover waits as long as its caller asked: no per-attempt timeout.
    RegistryGrpc.RegistryStub waitingRegistry =
        grpc(b, b.retry.idempotent(), Duration.ZERO).build(RegistryGrpc.RegistryStub.class);
    this.registry =
        new RegistryClient(
            stubs.apply(true).build(RegistryGrpc.RegistryStub.class),
            waitingRegistry,
            b.requestTimeout);
    this.stubs =
        new Stubs(
            stubs.apply(true).build(KVGrpc.KVStub.class),
            stubs.apply(true).build(LeaseGrpc.LeaseStub.class),
            grpc(b, b.retry.idempotent(), Duration.ZERO).build(LockGrpc.LockStub.class),
            stubs.apply(true).build(RegistryGrpc.RegistryStub.class),
            waitingRegistry,
            grpc(b, null, Duration.ZERO)
                .responseTimeout(Duration.ZERO)
                .maxResponseLength(0)
                .build(RegistryGrpc.RegistryStub.class),
            stubs.apply(true).build(ClusterGrpc.ClusterStub.class),
            grpc(b, null, Duration.ZERO)
                .responseTimeout(Duration.ZERO)
                .maxResponseLength(0)
                .build(WatchGrpc.WatchStub.class),
            stubs.apply(true).build(ReplicationGrpc.ReplicationStub.class),
            grpc(b, null, Duration.ZERO)
                .responseTimeout(Duration.ZERO)
                .maxResponseLength(0)
                .build(ReplicationGrpc.ReplicationStub.class),
            grpc(b, null, Duration.ZERO)
                .responseTimeout(Duration.ZERO)
                .maxResponseLength(0)
                .build(ClusterGrpc.ClusterStub.class));
    this.discovery =
        new Discovery(
            registry,
            b.discovery,
            id ->
                CircuitBreaker.builder("meridian-instance-" + id)
                    .failureRateThreshold(b.breakerFailureRate)
                    .minimumRequestThreshold(b.breakerMinimumRequests)
                    .circuitOpenWindow(b.breakerOpenWindow)
                    .listener(breakerMeters(b, "meridian.client.instance.circuit.breaker"))
                    .build(),
            b.ticker);
  }

  private GrpcClientBuilder grpc(Builder b, RetryRule rule, Duration perAttempt) {
    CircuitBreakerListener listener = breakerMeters(b, "meridian.client.circuit.breaker");
    Function<String, CircuitBreaker> breakers =
        host ->
            CircuitBreaker.builder("meridian-" + host)
                .failureRateThreshold(b.breakerFailureRate)
                .minimumRequestThreshold(b.breakerMinimumRequests)
                .circuitOpenWindow(b.breakerOpenWindow)
                .listener(listener)
                .build();
    CircuitBreakerRule failures =
        CircuitBreakerRule.of(
            CircuitBreakerRule.builder().onException().thenFailure(),
            CircuitBreakerRule.builder()
                .onGrpcTrailers((ctx, trailers) -> "14".equals(trailers.get("grpc-status")))
                .thenFailure(),
            CircuitBreakerRule.builder().thenSuccess());
    GrpcClientBuilder builder =
        GrpcClients.builder(b.protocol(), endpoints)
            .factory(factory)
            .responseTimeout(b.requestTimeout)
            // Innermost first: each attempt is counted against its own endpoint's breaker.
            .decorator(CircuitBreakerClient.newPerHostDecorator(breakers, failures));
    if (rule != null) {
      builder.decorator(
          RetryingClient.newDecorator(
              RetryConfig.builder(rule)
                  .maxTotalAttempts(b.retry.maxAttempts())
                  .responseTimeoutMillisForEachAttempt(perAttempt.toMillis())
                  .build()));
    }
    builder.decorator(MetricCollectingClient.newDecorator(requestMeters(b)));
    for (Function<? super HttpClient, ? extends HttpClient> d : b.decorators) {
      builder.decorator(d);
    }
    return builder;
  }

  private static final String REQUESTS = "meridian.client.requests";

  /**
   * Request meters per service, method and status when detailed, else one set for all calls: a
   * router holds a client per shard and region, and per-method timers times that many clients came
   * to thousands of series.
   */
  private static MeterIdPrefixFunction requestMeters(Builder b) {
    return b.detailedMetrics
        ? MeterIdPrefixFunction.ofDefault(REQUESTS)
        : MeterIdPrefixFunction.of((registry, log) -> new MeterIdPrefix(REQUESTS));
  }

  /** Per-endpoint (or per-instance) breaker meters when detailed; none otherwise. */
  private static CircuitBreakerListener breakerMeters(Builder b, String prefix) {
    return b.detailedMetrics
        ? CircuitBreakerListener.metricCollecting(b.meterRegistry, prefix)
        : new CircuitBreakerListenerAdapter();
  }

  /** Starts a builder; at least one endpoint (or a DNS name) is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Keys and values: get, put, delete, range, transactions. */
  public KvClient kv() {
    return kv;
  }

  /** Leases and {@link Session}s. */
  public LeaseClient leases() {
    return leases;
  }

  /**
   * Acquires the exclusive lock {@code name} through the client's session for its namespace,
   * waiting up to {@code wait}: {@code try (LockHandle h = client.lock("/ns/jobs/report",
   * Duration.ofSeconds(10))) {...}}. See {@link LockClient}.
   */
  public LockHandle lock(String name, Duration wait) {
    return locks.lock(name, wait);
  }

  /** Fenced locks: {@code try (LockHandle h = client.locks().lock(name, wait)) {...}}. */
  public LockClient locks() {
    return locks;
  }

  /** Watches that resume after disconnects and leader changes, with no gap and no duplicate. */
  public WatchClient watches() {
    return watches;
  }

  /** The registry's calls: register, heartbeat, health, deregister, discover, list. */
  public RegistryClient registry() {
    return registry;
  }

  /** Discovery that degrades (cache, static instances, policy) and instance selection. */
  public Discovery discovery() {
    return discovery;
  }

  /** Request-level calls through this client's failover, for proxies; see {@link Stubs}. */
  public Stubs stubs() {
    return stubs;
  }

  /** The endpoints calls currently go to: those passing their health check. */
  public List<Endpoint> healthyEndpoints() {
    return endpoints.endpoints();
  }

  @Override
  public void close() {
    locks.close();
    endpoints.close();
    factory.close();
  }

  /** Configures a {@link MeridianClient}. Every setting has a default but the endpoints. */
  public static final class Builder {
    private final List<Endpoint> endpoints = new ArrayList<>();
    private String dnsHost;
    private int dnsPort;
    private Duration requestTimeout = Duration.ofSeconds(10);
    private Duration attemptTimeout = Duration.ofSeconds(3);
    private RetryPolicy retry = RetryPolicy.ofDefault();
    private double breakerFailureRate = 0.5;
    private long breakerMinimumRequests = 5;
    private Duration breakerOpenWindow = Duration.ofSeconds(10);
    private Duration healthCheckInterval = Duration.ofSeconds(3);
    private MeterRegistry meterRegistry = new SimpleMeterRegistry();
    private boolean detailedMetrics;
    private Consumer<ClientFactoryBuilder> clientFactory = f -> {};
    private final List<Function<? super HttpClient, ? extends HttpClient>> decorators =
        new ArrayList<>();
    private Discovery.Options discovery = Discovery.Options.defaults();
    private Ticker ticker = Ticker.systemTicker();
    private Supplier<String> requestIds = () -> "client-" + UUID.randomUUID();
    private String name;
    private TlsProvider tls;
    // The scheme the endpoint URLs named, if any did.
    private String scheme;

    private Builder() {}

    private SessionProtocol protocol() {
      return tls != null || "https".equals(scheme) ? SessionProtocol.HTTPS : SessionProtocol.HTTP;
    }

    /** Members' (or routers') client URLs, such as {@code http://10.0.0.1:2379}. */
    public Builder endpoints(String... urls) {
      return endpoints(List.of(urls));
    }

    /**
     * Members' (or routers') client URLs, such as {@code http://10.0.0.1:2379}; {@code https://}
     * URLs (or {@link #tls}) make every call go over TLS. One scheme for all.
     */
    public Builder endpoints(List<String> urls) {
      for (String url : urls) {
        URI uri = URI.create(url.contains("://") ? url : "http://" + url);
        if (uri.getHost() == null
            || uri.getPort() < 0
            || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
          throw new IllegalArgumentException(
              "endpoint: " + url + " (expected: http://host:port, https://host:port or host:port)");
        }
        if (url.contains("://")) {
          if (scheme != null && !scheme.equals(uri.getScheme())) {
            throw new IllegalArgumentException(
                "endpoint: "
                    + url
                    + " mixes "
                    + uri.getScheme()
                    + " with "
                    + scheme
                    + " endpoints");
          }
          scheme = uri.getScheme();
        }
        endpoints.add(Endpoint.of(uri.getHost(), uri.getPort()));
      }
      return this;
    }

    /**
     * Calls over TLS, trusting the servers and presenting the certificate (if any) that {@code tls}
     * gives: for example {@code TlsFiles.load(cert, key, ca)} from the serving module, which reads
     * renewed files again on its own.
     */
    public Builder tls(TlsProvider tls) {
      this.tls = requireNonNull(tls, "tls");
      return this;
    }

    /** Every address {@code host} resolves to (re-resolved as DNS says), on {@code port}. */
    public Builder dns(String host, int port) {
      this.dnsHost = requireNonNull(host, "host");
      this.dnsPort = port;
      return this;
    }

    /** The most one call may take, retries included (default 10 s). */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = positive(timeout, "requestTimeout");
      return this;
    }

    /** The most one attempt may take before it is abandoned and retried (default 3 s). */
    public Builder attemptTimeout(Duration timeout) {
      this.attemptTimeout = positive(timeout, "attemptTimeout");
      return this;
    }

    /** Pauses between attempts (default 100 ms, 500 ms, 2 s). */
    public Builder retry(RetryPolicy policy) {
      this.retry = requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Each endpoint's circuit breaker (defaults 0.5, 5 requests, 10 s): it opens when at least
     * {@code minimumRequests} calls were made and {@code failureRate} of them failed, stays open
     * for {@code openWindow}, then lets one trial call through.
     */
    public Builder circuitBreaker(double failureRate, long minimumRequests, Duration openWindow) {
      if (!(failureRate > 0 && failureRate <= 1) || minimumRequests < 1) {
        throw new IllegalArgumentException(
            "circuitBreaker: failureRate "
                + failureRate
                + ", minimumRequests "
                + minimumRequests
                + " (expected: 0 < failureRate <= 1, minimumRequests >= 1)");
      }
      this.breakerFailureRate = failureRate;
      this.breakerMinimumRequests = minimumRequests;
      this.breakerOpenWindow = positive(openWindow, "openWindow");
      return this;
    }

    /** How often each endpoint's {@code /health} is checked (default 3 s). */
    public Builder healthCheckInterval(Duration interval) {
      this.healthCheckInterval = positive(interval, "healthCheckInterval");
      return this;
    }

    /**
     * Where the client's metrics go: {@code meridian.client.requests} by outcome, the endpoint
     * group's health and the connection pool's; with {@link #detailedMetrics()} also per method and
     * per endpoint.
     */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Also records {@code meridian.client.requests} per service, method and HTTP status, and each
     * endpoint's ({@code meridian.client.circuit.breaker}) and service instance's ({@code
     * meridian.client.instance.circuit.breaker}) circuit breaker meters. Off by default: series
     * grow with methods times endpoints times clients.
     */
    public Builder detailedMetrics() {
      this.detailedMetrics = true;
      return this;
    }

    /** Customizes the connections, for example TLS ({@code tlsCustomizer}). */
    public Builder clientFactory(Consumer<ClientFactoryBuilder> customizer) {
      this.clientFactory = requireNonNull(customizer, "customizer");
      return this;
    }

    /**
     * How discovery degrades: cache limits, static instances per {@code namespace/service}, and
     * fail-open/fail-closed policies (default: 10 minutes, 10,000 services, none, fail-open).
     */
    public Builder discovery(Discovery.Options options) {
      this.discovery = requireNonNull(options, "options");
      return this;
    }

    /**
     * The clock of session deadlines and discovery cache ages (default: {@link System#nanoTime()};
     * tests pass one they advance).
     */
    public Builder ticker(Ticker ticker) {
      this.ticker = requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * Where the request ids of writes come from (default: {@code client-} and a random UUID). Each
     * call must return an id no other write uses.
     */
    public Builder requestIds(Supplier<String> requestIds) {
      this.requestIds = requireNonNull(requestIds, "requestIds");
      return this;
    }

    /**
     * Tells this client's meters apart from other clients' in the same registry: the endpoint
     * group's meters are tagged {@code meridian.client.endpoints.<name>} instead of {@code
     * meridian.client.endpoints}.
     */
    public Builder name(String name) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("name: " + name + " (expected: non-blank)");
      }
      this.name = name;
      return this;
    }

    /**
     * Sends every call to shard {@code shard} of the members it reaches (the {@code meridian-shard}
     * request header), for members that host several shards. Without it, a member with several
     * shards refuses every call not addressed by a lease id; routers route by key and need none.
     */
    public Builder shard(int shard) {
      if (shard < 0 || shard > io.meridian.api.LeaseId.MAX_SHARD) {
        throw new IllegalArgumentException(
            "shard: " + shard + " (expected: 0.." + io.meridian.api.LeaseId.MAX_SHARD + ")");
      }
      String value = Integer.toString(shard);
      return decorator(
          (HttpClient delegate) ->
              (HttpClient)
                  (ctx, req) -> {
                    ctx.addAdditionalRequestHeader(ShardHeader.NAME, value);
                    return delegate.execute(ctx, req);
                  });
    }

    /** Wraps every call, outermost last: credentials, tracing. */
    public Builder decorator(Function<? super HttpClient, ? extends HttpClient> decorator) {
      decorators.add(requireNonNull(decorator, "decorator"));
      return this;
    }

    public MeridianClient build() {
      if (endpoints.isEmpty() && dnsHost == null) {
        throw new IllegalStateException("no endpoints: call endpoints(...) or dns(host, port)");
      }
      if (!endpoints.isEmpty() && dnsHost != null) {
        throw new IllegalStateException("endpoints(...) and dns(...) are exclusive: pick one");
      }
      if (tls != null && "http".equals(scheme)) {
        throw new IllegalStateException(
            "tls(...) with http:// endpoints: name them https://, or leave the scheme out");
      }
      return new MeridianClient(this);
    }

    private static Duration positive(Duration d, String name) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
      }
      return d;
    }
  }
}
