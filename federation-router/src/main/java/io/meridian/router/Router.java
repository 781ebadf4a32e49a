package io.meridian.router;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreaker;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerListener;
import io.grpc.Deadline;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.StatusRequest;
import io.meridian.client.Stubs;
import io.meridian.serving.Headers;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where each request goes, given the routing table the router serves: writes, leases and locks to
 * the shard's PRIMARY region; LINEARIZABLE and SERIALIZABLE reads there too; LOCAL reads to the
 * router's own region first, then the other regions by preference when a region is unavailable or
 * its answer is older than the namespace's staleness limit; CACHED reads from the router's cache,
 * refreshed through a LOCAL read. Calls that name no shard are gathered from every shard.
 *
 * <p>Each request reads the table once, so a table swapped mid-request never mixes with the old
 * one. Every answer it relays keeps the serving cluster's header (region, member, revision); LOCAL
 * and CACHED answers also carry how stale they may be ({@code lag_revisions}, {@code lag_ms}).
 */
final class Router implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Router.class);

  private static final Set<Error.Code> REGION_DOWN = RoutingPolicy.REGION_DOWN;

  private static final int REGION_MIN_REQUESTS = 3;
  private static final Duration REGION_OPEN_WINDOW = Duration.ofSeconds(5);

  /** One call to a region cluster, bounded by {@code deadline}. */
  @FunctionalInterface
  interface Call<R> {
    CompletableFuture<R> on(Stubs stubs, Deadline deadline);
  }

  private record CacheKey(String method, ByteString request) {}

  private record Cached(Message answer, long storedNanos) {}

  private final RouterConfig config;
  private final RoutingPolicy routing;
  private final ServedTable served;
  private final Upstreams upstreams;
  private final PrimaryProgress progress;
  private final Ticker ticker;
  // The same clock as `ticker`, in the form gRPC deadlines take.
  private final Deadline.Ticker deadlines;
  private final Supplier<String> requestIds;
  private final MeterRegistry metrics;
  private final ScheduledExecutorService timer;
  private final Cache<CacheKey, Cached> cache;
  private final ScheduledFuture<?> probe;
  private final Map<String, CircuitBreaker> regionBreakers = new ConcurrentHashMap<>();
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();

  Router(
      RouterConfig config,
      RoutingTable table,
      MeterRegistry metrics,
      ScheduledExecutorService timer,
      Ticker ticker,
      Supplier<String> requestIds) {
    this.config = config;
    this.routing = new RoutingPolicy(config.region(), config.preference());
    this.served = new ServedTable(table);
    this.metrics = metrics;
    this.timer = timer;
    this.ticker = ticker;
    this.deadlines =
        new Deadline.Ticker() {
          @Override
          public long nanoTime() {
            return ticker.read();
          }
        };
    this.requestIds = requestIds;
    this.upstreams = new Upstreams(config.upstream(), metrics, timer);
    this.progress = new PrimaryProgress(ticker);
    // Connect at once, so endpoints are health-checked before the first request needs them.
    upstreams.connect(table);
    this.cache =
        Caffeine.newBuilder()
            .maximumSize(config.cache().maxEntries())
            .expireAfterWrite(Duration.ofMillis(config.cache().maxAgeMs()))
            .ticker(ticker)
            .build();
    metrics.gauge("meridian.router.table.version", served, s -> s.current().version());
    metrics.gaugeMapSize("meridian.router.cache.entries", List.of(), cache.asMap());
    long every = config.reads().probeIntervalMs();
    this.probe =
        timer.scheduleWithFixedDelay(this::probePrimaries, 0, every, TimeUnit.MILLISECONDS);
  }

  RouterConfig config() {
    return config;
  }

  /**
   * {@code write} with a request id: its own, or a new one when it came without, so that the
   * router's retries apply it once (the shard deduplicates request ids).
   */
  @SuppressWarnings("unchecked")
  <W extends Message> W identified(W write) {
    Descriptors.FieldDescriptor field = write.getDescriptorForType().findFieldByName("request_id");
    if (!((String) write.getField(field)).isEmpty()) {
      return write;
    }
    return (W) write.toBuilder().setField(field, requestIds.get()).build();
  }

  /** The deadline of the request being served (see {@link Deadlines}). */
  Deadline deadline() {
    return Deadlines.of(config.upstream().requestTimeoutMs(), 0, deadlines);
  }

  /** The deadline of a request that waits up to {@code waitMs} by design. */
  Deadline deadline(long waitMs) {
    return Deadlines.of(config.upstream().requestTimeoutMs(), waitMs, deadlines);
  }

  /** Runs the router's timed work: probes, stream resumptions. */
  ScheduledExecutorService timer() {
    return timer;
  }

  RoutingTable table() {
    return served.current();
  }

  /** Serves {@code next} if its version is higher; returns the table served before. */
  RoutingTable replace(RoutingTable next) {
    RoutingTable previous = served.replace(next);
    log.info(
        "routing table: now serving version {} (was {}), {} shards; region {}",
        next.version(),
        previous.version(),
        next.shards().size(),
        config.region());
    upstreams.connect(next);
    upstreams.retain(next, Duration.ofMillis(config.upstream().requestTimeoutMs()));
    return previous;
  }

  /** The client of one region cluster (watches use it directly). */
  io.meridian.client.MeridianClient client(RoutingTable.Shard shard, RoutingTable.Region region) {
    return upstreams.client(shard, region);
  }

  // ---- Where a request goes ----

  /** The shard that owns lease {@code id} (encoded in the id). */
  static RoutingTable.Shard shardOfLease(RoutingTable table, long id) {
    if (id <= 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "lease: %d (expected: a positive id from Grant)", id);
    }
    int shard = LeaseId.shardOf(id);
    RoutingTable.Shard s = table.shard(shard);
    if (s == null) {
      throw MeridianException.of(
          Error.Code.LEASE_NOT_FOUND,
          "lease %d belongs to shard %d, which routing table version %d does not describe",
          id,
          shard,
          table.version());
    }
    return s;
  }

  /**
   * The shard named by the {@code meridian-shard} header of the request being served (compaction,
   * snapshots: calls that are per shard but carry no key).
   */
  static RoutingTable.Shard shardNamedByHeader(RoutingTable table, String what) {
    String header =
        com.linecorp.armeria.server.ServiceRequestContext.current()
            .request()
            .headers()
            .get(ShardHeader.NAME);
    if (header == null) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "%s is per shard: name the shard in the %s request header (shards: %s)",
          what,
          ShardHeader.NAME,
          table.shards().keySet());
    }
    RoutingTable.Shard s;
    try {
      s = table.shard(Integer.parseInt(header.trim()));
    } catch (NumberFormatException e) {
      s = null;
    }
    if (s == null) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "%s: %s (expected: one of the shards %s)",
          ShardHeader.NAME,
          header,
          table.shards().keySet());
    }
    return s;
  }

  // ---- Routes ----

  /** Sends {@code call} to the shard's PRIMARY region: writes, leases, locks, strong reads. */
  <R extends Message> CompletableFuture<R> primary(
      RoutingTable.Shard shard, Deadline deadline, Call<R> call) {
    RoutingTable.Region region = shard.primary();
    return attempt("primary", shard, region, deadline, call)
        .thenApply(
            r -> {
              progress.observe(shard.id(), Headers.of(r).getRevision());
              return r;
            })
        .exceptionally(
            e -> {
              throw inRegion(e, shard, region);
            });
  }

  /**
   * Reads by {@code consistency}: LINEARIZABLE, SERIALIZABLE and UNSPECIFIED at the primary region;
   * LOCAL local-first with fallback; CACHED from the cache. {@code cacheAs} names the read in the
   * cache (null: not cached unless CACHED); {@code empty} is the fail-open answer when no region
   * and no cache can answer (null: fail instead).
   */
  <R extends Message> CompletableFuture<R> read(
      RoutingTable.Shard shard,
      String namespace,
      Consistency consistency,
      Message request,
      boolean remember,
      Supplier<R> empty,
      Deadline deadline,
      Call<R> call) {
    RouterConfig.Policy policy = config.policy(namespace);
    return switch (consistency) {
      case LOCAL ->
          fallBackToCache(
              shard, policy, request, remember, empty, local(shard, policy, deadline, call));
      case CACHED -> cached(shard, policy, request, empty, deadline, call);
      default ->
          remember
              ? fallBackToCache(shard, policy, request, true, empty, primary(shard, deadline, call))
              : primary(shard, deadline, call);
    };
  }

  /** Local region first, then the others by preference; stale answers count as missing. */
  <R extends Message> CompletableFuture<R> local(
      RoutingTable.Shard shard, RouterConfig.Policy policy, Deadline deadline, Call<R> call) {
    List<RoutingTable.Region> order = routing.readOrder(shard);
    if (order.isEmpty()) {
      return CompletableFuture.failedFuture(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "shard %d: every region is FENCED in routing table version %d",
              shard.id(),
              table().version()));
    }
    CompletableFuture<R> result = new CompletableFuture<>();
    tryRegion(shard, policy, deadline, call, order, 0, null, null, result);
    return result;
  }

  private <R extends Message> void tryRegion(
      RoutingTable.Shard shard,
      RouterConfig.Policy policy,
      Deadline deadline,
      Call<R> call,
      List<RoutingTable.Region> order,
      int i,
      R staleBest,
      Throwable lastFailure,
      CompletableFuture<R> result) {
    RoutingTable.Region region = order.get(i);
    Deadline bound =
        RoutingPolicy.boundedByRegionTimeout(order, i)
            ? Deadline.after(config.reads().regionTimeoutMs(), TimeUnit.MILLISECONDS, deadlines)
                .minimum(deadline)
            : deadline;
    attempt("local", shard, region, bound, call)
        .whenComplete(
            (answer, failure) -> {
              if (failure != null) {
                MeridianException e = unwrap(failure);
                switch (RoutingPolicy.afterFailure(
                    order, i, e.code(), deadline.isExpired(), staleBest != null, policy)) {
                  case FALL_BACK -> {
                    fellBack(region, order.get(i + 1), "unavailable", shard);
                    tryRegion(shard, policy, deadline, call, order, i + 1, staleBest, e, result);
                  }
                  case ANSWER -> result.complete(staleBest);
                  default -> result.completeExceptionally(inRegion(e, shard, region));
                }
                return;
              }
              long revision = Headers.of(answer).getRevision();
              PrimaryProgress.Lag lag;
              if (region.role() == Role.PRIMARY) {
                progress.observe(shard.id(), revision);
                lag = PrimaryProgress.Lag.NONE;
              } else {
                lag = progress.lag(shard.id(), revision);
              }
              R marked = Headers.with(answer, h -> lagged(h, lag));
              switch (RoutingPolicy.afterAnswer(order, i, lag, deadline.isExpired(), policy)) {
                case FALL_BACK -> {
                  fellBack(region, order.get(i + 1), "stale", shard);
                  R kept = RoutingPolicy.kept(staleBest, marked);
                  tryRegion(shard, policy, deadline, call, order, i + 1, kept, lastFailure, result);
                }
                case REFUSE_STALE ->
                    result.completeExceptionally(
                        MeridianException.of(
                            Error.Code.UNAVAILABLE,
                            "shard %d: no region answered within the staleness limit of namespace"
                                + " policy (%d revisions, %d ms); the freshest was %d revisions,"
                                + " %d ms behind the primary",
                            shard.id(),
                            policy.maxStalenessRevisions(),
                            policy.maxStalenessMs(),
                            lag.revisions(),
                            lag.millis()));
                default -> result.complete(RoutingPolicy.chosen(staleBest, marked));
              }
            });
  }

  /** A fresh cached answer, else a LOCAL read that refreshes the cache. */
  private <R extends Message> CompletableFuture<R> cached(
      RoutingTable.Shard shard,
      RouterConfig.Policy policy,
      Message request,
      Supplier<R> empty,
      Deadline deadline,
      Call<R> call) {
    CacheKey key = cacheKey(request);
    Cached hit = cache.getIfPresent(key);
    if (hit != null) {
      long age = ageMillis(hit);
      if (age <= config.cache().ttlMs()) {
        count("meridian.router.cache", "result", "hit");
        @SuppressWarnings("unchecked")
        R answer = (R) hit.answer();
        return CompletableFuture.completedFuture(fromCache(answer, age));
      }
    }
    count("meridian.router.cache", "result", "miss");
    return fallBackToCache(
        shard, policy, request, true, empty, local(shard, policy, deadline, call));
  }

  /**
   * Remembers a successful answer; on failure, a fail-open namespace gets the cached answer of any
   * age, else {@code empty}; a fail-closed one gets the failure.
   */
  private <R extends Message> CompletableFuture<R> fallBackToCache(
      RoutingTable.Shard shard,
      RouterConfig.Policy policy,
      Message request,
      boolean remember,
      Supplier<R> empty,
      CompletableFuture<R> read) {
    if (!remember && empty == null) {
      return read;
    }
    CacheKey key = cacheKey(request);
    return read.handle(
        (answer, failure) -> {
          if (failure == null) {
            if (remember) {
              cache.put(key, new Cached(answer, ticker.read()));
            }
            return answer;
          }
          MeridianException e = unwrap(failure);
          if (!policy.failOpen() || !REGION_DOWN.contains(e.code())) {
            throw e;
          }
          Cached old = cache.getIfPresent(key);
          if (old != null) {
            count("meridian.router.cache", "result", "stale");
            log.warn(
                "shard {}: no region can answer ({}); fail-open with a cached answer {} ms old",
                shard.id(),
                e.getMessage(),
                ageMillis(old));
            @SuppressWarnings("unchecked")
            R remembered = (R) old.answer();
            return fromCache(remembered, ageMillis(old));
          }
          if (empty != null) {
            count("meridian.router.cache", "result", "empty");
            log.warn(
                "shard {}: no region can answer ({}) and nothing is cached; fail-open with an"
                    + " empty answer",
                shard.id(),
                e.getMessage());
            return Headers.with(
                empty.get(), h -> h.toBuilder().setShard(shard.id()).setCached(true).build());
          }
          throw e;
        });
  }

  /**
   * Calls {@code each} on every shard of the table and collects the answers in shard order; any
   * failure fails the whole.
   */
  <R> CompletableFuture<List<R>> gather(
      Collection<RoutingTable.Shard> shards,
      Function<RoutingTable.Shard, CompletableFuture<R>> each) {
    List<CompletableFuture<R>> parts = new ArrayList<>();
    for (RoutingTable.Shard s : shards) {
      parts.add(each.apply(s));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
        .thenApply(v -> parts.stream().map(CompletableFuture::join).toList());
  }

  /** Sends {@code call} to one given region cluster (status gathering). */
  <R> CompletableFuture<R> at(
      RoutingTable.Shard shard, RoutingTable.Region region, Deadline deadline, Call<R> call) {
    return attempt("status", shard, region, deadline, call);
  }

  // ---- Calls, metrics, headers ----

  private <R> CompletableFuture<R> attempt(
      String route,
      RoutingTable.Shard shard,
      RoutingTable.Region region,
      Deadline deadline,
      Call<R> call) {
    long start = ticker.read();
    CircuitBreaker breaker = regionBreaker(shard, region);
    if (!breaker.tryRequest()) {
      count("meridian.router.requests", "route", route, "region", region.region(), "code", "OPEN");
      return CompletableFuture.failedFuture(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "its circuit breaker is open after repeated failures; next trial within %d s",
              REGION_OPEN_WINDOW.toSeconds()));
    }
    CompletableFuture<R> future;
    try {
      future = call.on(upstreams.stubs(shard, region), deadline);
    } catch (RuntimeException e) {
      future = CompletableFuture.failedFuture(e);
    }
    // The stub's deadline does not bound every wait (an endpoint group still making its first
    // health check holds calls for its own selection timeout): the router keeps its word itself.
    long remainingMs = Math.max(1, deadline.timeRemaining(TimeUnit.MILLISECONDS));
    future =
        future
            .orTimeout(remainingMs, TimeUnit.MILLISECONDS)
            .exceptionally(
                e -> {
                  if (!(MeridianException.causeOf(e) instanceof TimeoutException)) {
                    throw e instanceof CompletionException c ? c : new CompletionException(e);
                  }
                  if (upstreams.client(shard, region).healthyEndpoints().isEmpty()) {
                    throw MeridianException.of(
                        Error.Code.UNAVAILABLE,
                        "none of its %d endpoints passes its health check",
                        region.endpoints().size());
                  }
                  throw MeridianException.of(
                      Error.Code.DEADLINE_EXCEEDED, "no answer within %d ms", remainingMs);
                });
    return future.whenComplete(
        (r, e) -> {
          Error.Code failed = e == null ? null : unwrap(e).code();
          String code = failed == null ? "OK" : failed.name();
          if (failed != null && REGION_DOWN.contains(failed)) {
            breaker.onFailure();
          } else {
            breaker.onSuccess();
          }
          timer("meridian.router.upstream.latency", "route", route, "region", region.region())
              .record(ticker.read() - start, TimeUnit.NANOSECONDS);
          count(
              "meridian.router.requests", "route", route, "region", region.region(), "code", code);
        });
  }

  /**
   * The breaker of one region cluster of a shard: after repeated unavailability the router stops
   * trying it for {@link #REGION_OPEN_WINDOW}, so LOCAL reads fall back at once instead of each
   * waiting out the region's timeout (the client module's breakers guard each node the same way).
   */
  private CircuitBreaker regionBreaker(RoutingTable.Shard shard, RoutingTable.Region region) {
    return regionBreakers.computeIfAbsent(
        shard.id() + "/" + region.region(),
        name ->
            CircuitBreaker.builder("meridian-region-" + name)
                .failureRateThreshold(0.5)
                .minimumRequestThreshold(REGION_MIN_REQUESTS)
                .circuitOpenWindow(REGION_OPEN_WINDOW)
                .counterSlidingWindow(Duration.ofSeconds(10))
                .counterUpdateInterval(Duration.ofMillis(500))
                .listener(
                    CircuitBreakerListener.metricCollecting(
                        metrics, "meridian.router.region.circuit.breaker"))
                .build());
  }

  private void fellBack(
      RoutingTable.Region from, RoutingTable.Region to, String reason, RoutingTable.Shard shard) {
    count("meridian.router.fallbacks", "from", from.region(), "to", to.region(), "reason", reason);
    log.debug("shard {}: LOCAL read falls back from {} to {} ({})", shard.id(), from, to, reason);
  }

  private void probePrimaries() {
    RoutingTable table = table();
    for (RoutingTable.Shard shard : table.shards().values()) {
      Deadline deadline =
          Deadline.after(config.reads().regionTimeoutMs(), TimeUnit.MILLISECONDS, deadlines);
      try {
        Stubs stubs = upstreams.stubs(shard, shard.primary());
        Stubs.call(
                stubs.cluster().withDeadline(deadline)::status,
                StatusRequest.getDefaultInstance(),
                true)
            .thenAccept(
                status -> {
                  for (ShardStatus s : status.getShardsList()) {
                    if (s.getHeader().getShard() == shard.id()) {
                      progress.observe(shard.id(), s.getHeader().getRevision());
                    }
                  }
                })
            .exceptionally(
                e -> {
                  log.debug("shard {}: primary probe failed: {}", shard.id(), e.toString());
                  return null;
                });
      } catch (RuntimeException e) {
        log.warn("shard {}: primary probe failed: {}", shard.id(), e.toString());
      }
    }
  }

  private CacheKey cacheKey(Message request) {
    Message.Builder b = request.toBuilder();
    // The same question asked with another consistency (or wait) shares the cached answer.
    for (String name : List.of("consistency", "wait_revision", "wait_ms")) {
      Descriptors.FieldDescriptor f = request.getDescriptorForType().findFieldByName(name);
      if (f != null) {
        b.clearField(f);
      }
    }
    return new CacheKey(request.getDescriptorForType().getFullName(), b.build().toByteString());
  }

  private long ageMillis(Cached c) {
    return TimeUnit.NANOSECONDS.toMillis(ticker.read() - c.storedNanos());
  }

  private static <R extends Message> R fromCache(R answer, long ageMs) {
    return Headers.with(
        answer, h -> h.toBuilder().setCached(true).setLagMs(Math.max(h.getLagMs(), ageMs)).build());
  }

  private static ResponseHeader lagged(ResponseHeader h, PrimaryProgress.Lag lag) {
    return h.toBuilder().setLagRevisions(lag.revisions()).setLagMs(lag.millis()).build();
  }

  /** The Meridian error a failed future carries. */
  static MeridianException unwrap(Throwable t) {
    Throwable c = MeridianException.causeOf(t);
    if (c instanceof MeridianException m) {
      return m;
    }
    return new MeridianException(Error.Code.INTERNAL, String.valueOf(c));
  }

  /** The failure, its message saying which region cluster failed when it is unavailability. */
  private static MeridianException inRegion(
      Throwable failure, RoutingTable.Shard shard, RoutingTable.Region region) {
    MeridianException e = unwrap(failure);
    if (!REGION_DOWN.contains(e.code())) {
      return e;
    }
    Error error = e.toError();
    return MeridianException.fromError(
        error.toBuilder()
            .setMessage(
                "shard " + shard.id() + ", region " + region.region() + ": " + error.getMessage())
            .putDetails("shard", Integer.toString(shard.id()))
            .putDetails("region", region.region())
            .build());
  }

  private void count(String name, String... tags) {
    counters
        .computeIfAbsent(
            name + String.join(",", tags), k -> Counter.builder(name).tags(tags).register(metrics))
        .increment();
  }

  private Timer timer(String name, String... tags) {
    return timers.computeIfAbsent(
        name + String.join(",", tags),
        k -> Timer.builder(name).tags(tags).publishPercentileHistogram().register(metrics));
  }

  @Override
  public void close() {
    probe.cancel(false);
    upstreams.close();
  }
}
