package io.meridian.router;

import com.linecorp.armeria.client.ClientRequestContext;
import com.linecorp.armeria.client.Clients;
import com.linecorp.armeria.client.HttpClient;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreaker;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerClient;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerListener;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerMapping;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreakerRule;
import com.linecorp.armeria.client.circuitbreaker.FailFastException;
import com.linecorp.armeria.common.HttpHeaders;
import com.linecorp.armeria.common.grpc.GrpcExceptionHandlerFunction;
import com.linecorp.armeria.common.logging.RequestLogProperty;
import com.linecorp.armeria.common.util.Exceptions;
import com.linecorp.armeria.common.util.SafeCloseable;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meridian.api.ErrorCodes;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.client.Stubs;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.AttributeKey;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * One Armeria {@link CircuitBreaker} per region cluster of a shard, applied by Armeria's {@link
 * CircuitBreakerClient} as the outermost decorator of that cluster's client, so it counts whole
 * calls (after the client module's retries), not attempts. Once at least {@value #MIN_REQUESTS}
 * calls in 10 s were made and half of them found the region unavailable (a Meridian error in {@link
 * RoutingPolicy#REGION_DOWN}, as the router would see it), the region is skipped for {@link
 * #OPEN_WINDOW} (then one trial call): LOCAL reads fall back at once and writes to a dead primary
 * fail at once instead of each waiting out the timeouts.
 *
 * <p>Only the calls a client's request makes are guarded ({@link #guard}): the router's own probes
 * and relayed streams (watches) on the same clients neither count nor fail fast. A call refused by
 * an open breaker fails with {@link #open()}.
 */
final class RegionBreakers {
  static final int MIN_REQUESTS = 3;
  static final Duration OPEN_WINDOW = Duration.ofSeconds(5);

  private static final AttributeKey<Boolean> GUARDED =
      AttributeKey.valueOf(RegionBreakers.class, "GUARDED");

  /** Unavailability fails a call; every other outcome, the region's own answer, succeeds. */
  private static final CircuitBreakerRule RULE =
      CircuitBreakerRule.of(
          CircuitBreakerRule.builder()
              .onException((ctx, cause) -> RoutingPolicy.REGION_DOWN.contains(codeOf(ctx, cause)))
              .thenFailure(),
          CircuitBreakerRule.builder()
              .onGrpcTrailers(
                  (ctx, trailers) -> RoutingPolicy.REGION_DOWN.contains(codeOf(trailers)))
              .thenFailure(),
          CircuitBreakerRule.builder().thenSuccess());

  private final MeterRegistry metrics;
  private final Map<String, CircuitBreaker> byRegion = new ConcurrentHashMap<>();

  RegionBreakers(MeterRegistry metrics) {
    this.metrics = metrics;
  }

  /**
   * The decorator of the client of {@code region}'s cluster of {@code shard}: guarded calls go
   * through its breaker, made on first use; others pass by.
   */
  Function<? super HttpClient, ? extends HttpClient> decorator(int shard, String region) {
    Function<? super HttpClient, CircuitBreakerClient> breaking =
        CircuitBreakerClient.newDecorator(
            (CircuitBreakerMapping) (ctx, req) -> breaker(shard, region), RULE);
    return delegate -> {
      HttpClient guarded = breaking.apply(delegate);
      return (ctx, req) ->
          Boolean.TRUE.equals(ctx.attr(GUARDED))
              ? guarded.execute(ctx, req)
              : delegate.execute(ctx, req);
    };
  }

  /** Until closed, calls this thread makes are guarded by their region's breaker. */
  static SafeCloseable guard() {
    return Clients.withContextCustomizer(ctx -> ctx.setAttr(GUARDED, Boolean.TRUE));
  }

  /** Whether the call of {@code ctx} was refused by the open breaker of its region. */
  boolean refused(ClientRequestContext ctx, RoutingTable.Shard shard, RoutingTable.Region region) {
    if (ctx == null || !ctx.log().isAvailable(RequestLogProperty.RESPONSE_CAUSE)) {
      return false;
    }
    CircuitBreaker breaker = byRegion.get(key(shard.id(), region.region()));
    for (Throwable c = ctx.log().partial().responseCause(); c != null; c = c.getCause()) {
      if (c instanceof FailFastException f && f.getCircuitBreaker() == breaker) {
        return true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return false;
  }

  /** What a call refused by an open breaker fails with. */
  static MeridianException open() {
    return MeridianException.of(
        Error.Code.UNAVAILABLE,
        "its circuit breaker is open after repeated failures; next trial within %d s",
        OPEN_WINDOW.toSeconds());
  }

  private CircuitBreaker breaker(int shard, String region) {
    return byRegion.computeIfAbsent(
        key(shard, region),
        name ->
            CircuitBreaker.builder("meridian-region-" + name)
                .failureRateThreshold(0.5)
                .minimumRequestThreshold(MIN_REQUESTS)
                .circuitOpenWindow(OPEN_WINDOW)
                .counterSlidingWindow(Duration.ofSeconds(10))
                .counterUpdateInterval(Duration.ofMillis(500))
                .listener(
                    CircuitBreakerListener.metricCollecting(
                        metrics, "meridian.router.region.circuit.breaker"))
                .build());
  }

  private static String key(int shard, String region) {
    return shard + "/" + region;
  }

  /** The Meridian code a transport failure reaches the router as (Armeria's gRPC mapping). */
  private static Error.Code codeOf(ClientRequestContext ctx, Throwable cause) {
    Throwable peeled = Exceptions.peel(cause);
    Status status =
        GrpcExceptionHandlerFunction.of()
            .apply(ctx, Status.fromThrowable(peeled), peeled, new Metadata());
    return Stubs.failure(status.asRuntimeException()).code();
  }

  /** The Meridian code of a gRPC answer: the member's error if it sent one, else its status. */
  private static Error.Code codeOf(HttpHeaders trailers) {
    Metadata metadata = new Metadata();
    String error = trailers.get(ErrorCodes.TRAILER.name());
    if (error != null) {
      try {
        metadata.put(ErrorCodes.TRAILER, Base64.getDecoder().decode(error));
      } catch (IllegalArgumentException e) {
        // Not base64: judged by its gRPC status alone.
      }
    }
    int status = trailers.getInt("grpc-status", Status.Code.UNKNOWN.value());
    return Stubs.failure(Status.fromCodeValue(status).asRuntimeException(metadata)).code();
  }
}
