package io.meridian.router;

import com.github.benmanes.caffeine.cache.Ticker;
import com.google.protobuf.Message;
import com.linecorp.armeria.client.ClientRequestContext;
import com.linecorp.armeria.client.ClientRequestContextCaptor;
import com.linecorp.armeria.client.Clients;
import com.linecorp.armeria.common.util.SafeCloseable;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@link RegionClient} that makes the call: on the client of the region cluster ({@link
 * Upstreams}), guarded by the region's breaker ({@link RegionBreakers}) but for probes, answered
 * within the request's deadline whatever the client does, counted in {@code
 * meridian.router.requests} (by route, region and code; {@code OPEN} for a call the breaker
 * refused) and timed in {@code meridian.router.upstream.latency}. Probes are neither counted nor
 * timed.
 */
final class UpstreamClient implements RegionClient {
  private final Upstreams upstreams;
  private final RegionBreakers breakers;
  private final Ticker ticker;
  private final RouterMeters meters;

  UpstreamClient(Upstreams upstreams, RegionBreakers breakers, Ticker ticker, RouterMeters meters) {
    this.upstreams = upstreams;
    this.breakers = breakers;
    this.ticker = ticker;
    this.meters = meters;
  }

  @Override
  public <R extends Message> CompletableFuture<R> execute(Request<R> request) {
    long start = ticker.read();
    RoutingTable.Shard shard = request.shard();
    RoutingTable.Region region = request.region();
    boolean probe = request.route() == Route.PROBE;
    CompletableFuture<R> future;
    ClientRequestContext ctx = null;
    try (ClientRequestContextCaptor captor = Clients.newContextCaptor();
        SafeCloseable guard = probe ? () -> {} : RegionBreakers.guard()) {
      future = request.call().on(upstreams.stubs(shard, region), request.deadline());
      ctx = captor.getOrNull();
    } catch (RuntimeException e) {
      future = CompletableFuture.failedFuture(e);
    }
    future = withinDeadline(future, request);
    if (probe) {
      return future;
    }
    ClientRequestContext call = ctx;
    String route = request.route().tag();
    return future.handle(
        (r, e) -> {
          if (e != null && breakers.refused(call, shard, region)) {
            meters.count(
                "meridian.router.requests",
                "route",
                route,
                "region",
                region.region(),
                "code",
                "OPEN");
            throw RegionBreakers.open();
          }
          meters
              .timer("meridian.router.upstream.latency", "route", route, "region", region.region())
              .record(ticker.read() - start, TimeUnit.NANOSECONDS);
          String code = e == null ? "OK" : Router.unwrap(e).code().name();
          meters.count(
              "meridian.router.requests", "route", route, "region", region.region(), "code", code);
          if (e != null) {
            throw e instanceof CompletionException c ? c : new CompletionException(e);
          }
          return r;
        });
  }

  /**
   * The stub's deadline does not bound every wait (an endpoint group still making its first health
   * check holds calls for its own selection timeout): the router keeps its word itself.
   */
  private <R extends Message> CompletableFuture<R> withinDeadline(
      CompletableFuture<R> future, Request<R> request) {
    long remainingMs = Math.max(1, request.deadline().timeRemaining(TimeUnit.MILLISECONDS));
    return future
        .orTimeout(remainingMs, TimeUnit.MILLISECONDS)
        .exceptionally(
            e -> {
              if (!(MeridianException.causeOf(e) instanceof TimeoutException)) {
                throw e instanceof CompletionException c ? c : new CompletionException(e);
              }
              if (upstreams
                  .client(request.shard(), request.region())
                  .healthyEndpoints()
                  .isEmpty()) {
                throw MeridianException.of(
                    Error.Code.UNAVAILABLE,
                    "none of its %d endpoints passes its health check",
                    request.region().endpoints().size());
              }
              throw MeridianException.of(
                  Error.Code.DEADLINE_EXCEEDED, "no answer within %d ms", remainingMs);
            });
  }
}
