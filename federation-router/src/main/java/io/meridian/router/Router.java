package io.meridian.router;

import com.github.benmanes.caffeine.cache.Ticker;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.grpc.Deadline;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.StreamObserver;
import io.meridian.api.KeyPath;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.client.Stubs;
import io.meridian.serving.Replies;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
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
 * <p>It is a routing policy plus decorators, each with one concern:
 *
 * <pre>
 *   read ──▶ AnswerCache ──▶ ShardReads ──▶ PrimaryProber ──▶ UpstreamClient ──▶ Upstreams
 *            (CACHED, fail-   (regions by     (primary progress,  (deadline,         (a client per
 *             open answers)    RoutingPolicy)  lag marks, probes)  metrics)           region cluster,
 *                                                                                     its breaker)
 * </pre>
 *
 * <p>Each request reads the table once, so a table swapped mid-request never mixes with the old
 * one. Every answer it relays keeps the serving cluster's header (region, member, revision); LOCAL
 * and CACHED answers also carry how stale they may be ({@code lag_revisions}, {@code lag_ms}).
 */
final class Router implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Router.class);

  private final RouterConfig config;
  private final ServedTable served;
  private final Upstreams upstreams;
  // The same clock as the router's ticker, in the form gRPC deadlines take.
  private final Deadline.Ticker deadlines;
  private final Supplier<String> requestIds;
  private final ScheduledExecutorService timer;
  private final PrimaryProber regions;
  private final ShardReads shardReads;
  private final ShardReader reads;

  Router(
      RouterConfig config,
      RoutingTable table,
      MeterRegistry metrics,
      ScheduledExecutorService timer,
      Ticker ticker,
      Supplier<String> requestIds) {
    this.config = config;
    this.served = new ServedTable(table);
    this.timer = timer;
    this.deadlines = Deadlines.ticker(ticker);
    this.requestIds = requestIds;
    RouterMeters meters = new RouterMeters(metrics);
    RegionBreakers breakers = new RegionBreakers(metrics);
    this.upstreams = new Upstreams(config.upstream(), metrics, timer, breakers);
    // Connect at once, so endpoints are health-checked before the first request needs them.
    upstreams.connect(table);
    Gauge.builder("meridian.router.table.version", served, s -> s.current().version())
        .description("The version of the routing table this router serves")
        .register(metrics);
    RouterConfig.Reads r = config.reads();
    this.regions =
        PrimaryProber.builder(new PrimaryProgress(ticker))
            .probeEvery(Duration.ofMillis(r.probeIntervalMs()), timer, served::current, deadlines)
            .probeTimeout(Duration.ofMillis(r.regionTimeoutMs()))
            .newDecorator()
            .apply(new UpstreamClient(upstreams, breakers, ticker, meters));
    this.shardReads =
        new ShardReads(
            new RoutingPolicy(config.region(), config.preference()),
            regions,
            r.regionTimeoutMs(),
            deadlines,
            () -> table().version(),
            meters);
    RouterConfig.Cache c = config.cache();
    this.reads =
        AnswerCache.builder(ticker)
            .ttl(Duration.ofMillis(c.ttlMs()))
            .maxAge(Duration.ofMillis(c.maxAgeMs()))
            .maxEntries(c.maxEntries())
            .meterRegistry(metrics)
            .newDecorator()
            .apply(shardReads);
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

  /** The shard of {@code namespace}, which must be a valid namespace. */
  static Function<RoutingTable, RoutingTable.Shard> byNamespace(String namespace) {
    return table -> {
      KeyPath.checkNamespace(namespace);
      return table.shardOf(namespace);
    };
  }

  /** The shard that owns lease {@code id}; see {@link #shardOfLease}. */
  static Function<RoutingTable, RoutingTable.Shard> byLease(long id) {
    return table -> shardOfLease(table, id);
  }

  /** The shard the request header names, for {@code what}; see {@link #shardNamedByHeader}. */
  static Function<RoutingTable, RoutingTable.Shard> byHeader(String what) {
    return table -> shardNamedByHeader(table, what);
  }

  /** The shard that owns lease {@code id} (encoded in the id). */
  static RoutingTable.Shard shardOfLease(RoutingTable table, long id) {
    int shard = LeaseId.shardOfRequested(id);
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
    RoutingTable.Shard s = table.shard(ShardHeader.parse(header));
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
      RoutingTable.Shard shard, Deadline deadline, UpstreamCall<R> call) {
    return shardReads.primary(shard, deadline, call);
  }

  /**
   * The whole of a unary RPC that goes to a shard's PRIMARY region: {@code request} is sent, by
   * {@code method} of the stub {@code service} picks, to the shard {@code shardOf} picks from the
   * table served, and the answer or failure goes to {@code out}.
   *
   * <pre>{@code
   * router.forward(req, out, Router.byLease(req.getId()), Stubs::lease, LeaseStub::revoke);
   * }</pre>
   */
  <S extends AbstractStub<S>, Q, R extends Message> void forward(
      Q request,
      StreamObserver<R> out,
      Function<RoutingTable, RoutingTable.Shard> shardOf,
      Function<Stubs, S> service,
      UpstreamCall.StubMethod<S, Q, R> method) {
    forward(request, out, shardOf, 0, service, method);
  }

  /** As {@link #forward}, for a call that waits up to {@code waitMs} by design (a lock acquire). */
  <S extends AbstractStub<S>, Q, R extends Message> void forward(
      Q request,
      StreamObserver<R> out,
      Function<RoutingTable, RoutingTable.Shard> shardOf,
      long waitMs,
      Function<Stubs, S> service,
      UpstreamCall.StubMethod<S, Q, R> method) {
    Replies.reply(out, () -> toPrimary(request, shardOf, waitMs, service, method));
  }

  /** The answer {@link #forward} relays, for callers that do more with it (keep-alive streams). */
  <S extends AbstractStub<S>, Q, R extends Message> CompletableFuture<R> toPrimary(
      Q request,
      Function<RoutingTable, RoutingTable.Shard> shardOf,
      long waitMs,
      Function<Stubs, S> service,
      UpstreamCall.StubMethod<S, Q, R> method) {
    return primary(
        shardOf.apply(table()), deadline(waitMs), UpstreamCall.of(request, service, method));
  }

  /**
   * Reads by {@code consistency}: LINEARIZABLE, SERIALIZABLE and UNSPECIFIED at the primary region;
   * LOCAL local-first with fallback; CACHED from the cache. {@code remember}: whether the answer is
   * cached even when not read CACHED; {@code empty} is the fail-open answer when no region and no
   * cache can answer (null: fail instead). {@code namespace} picks the policy (null: defaults).
   */
  <R extends Message> CompletableFuture<R> read(
      RoutingTable.Shard shard,
      String namespace,
      Consistency consistency,
      Message request,
      boolean remember,
      Supplier<R> empty,
      Deadline deadline,
      UpstreamCall<R> call) {
    return reads.read(
        new ShardReader.Read<>(
            shard,
            config.policy(namespace),
            consistency,
            request,
            remember,
            empty,
            deadline,
            call));
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
  <R extends Message> CompletableFuture<R> at(
      RoutingTable.Shard shard,
      RoutingTable.Region region,
      Deadline deadline,
      UpstreamCall<R> call) {
    return regions.execute(
        new RegionClient.Request<>(RegionClient.Route.STATUS, shard, region, deadline, call));
  }

  /** The Meridian error a failed future carries. */
  static MeridianException unwrap(Throwable t) {
    Throwable c = MeridianException.causeOf(t);
    if (c instanceof MeridianException m) {
      return m;
    }
    return new MeridianException(Error.Code.INTERNAL, String.valueOf(c));
  }

  @Override
  public void close() {
    regions.close();
    upstreams.close();
  }
}
