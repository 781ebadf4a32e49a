package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.common.ResponseHeadersBuilder;
import com.linecorp.armeria.common.SessionProtocol;
import com.linecorp.armeria.server.Server;
import io.grpc.Deadline;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.client.Stubs;
import io.meridian.serving.tls.UpstreamTls;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The region breaker through Armeria's {@code CircuitBreakerClient}, in front of a loopback server
 * that answers every gRPC call as it is told (a dead region, or one that refuses the request).
 */
class RegionBreakersTest {
  private static final String OPEN =
      "shard 0, region us-east: its circuit breaker is open after repeated failures; next trial"
          + " within 5 s";

  private final AtomicReference<ResponseHeaders> answer = new AtomicReference<>();
  private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private Server server;
  private Upstreams upstreams;
  private ShardReads reads;
  private UpstreamClient client;
  private RoutingTable.Shard shard;

  @BeforeEach
  void start() {
    server =
        Server.builder()
            .localPort(0, SessionProtocol.HTTP)
            .service("/health", (ctx, req) -> HttpResponse.of(HttpStatus.OK))
            .serviceUnder(
                "/",
                (ctx, req) ->
                    HttpResponse.of(req.aggregate().thenApply(r -> HttpResponse.of(answer.get()))))
            .build();
    server.start().join();
    String url = "http://127.0.0.1:" + server.activeLocalPort();
    shard =
        RoutingTable.parse(
                RoutingTableTest.table(1, RoutingTableTest.HALVES, "")
                    .replaceAll("http://127\\.0\\.0\\.\\d:2379", url))
            .shard(0);
    RegionBreakers breakers = new RegionBreakers(metrics);
    upstreams =
        new Upstreams(
            new RouterConfig.Upstream(300L, 300L, 200L, new UpstreamTls("", "", "")),
            metrics,
            timer,
            breakers);
    RouterMeters meters = new RouterMeters(metrics);
    client = new UpstreamClient(upstreams, breakers, Ticker.systemTicker(), meters);
    reads =
        new ShardReads(
            new RoutingPolicy("us-east", List.of()),
            client,
            300,
            Deadlines.ticker(Ticker.systemTicker()),
            () -> 1,
            meters);
  }

  @AfterEach
  void stop() {
    upstreams.close();
    server.stop().join();
    timer.shutdownNow();
  }

  private static ResponseHeaders grpcError(int status, Error error) {
    ResponseHeadersBuilder h =
        ResponseHeaders.builder(HttpStatus.OK)
            .add("content-type", "application/grpc+proto")
            .add("grpc-status", Integer.toString(status));
    if (error != null) {
      h.add(
          "meridian-error-bin",
          Base64.getEncoder().withoutPadding().encodeToString(error.toByteArray()));
    }
    return h.build();
  }

  private static Deadline deadline() {
    return Deadline.after(300, TimeUnit.MILLISECONDS);
  }

  private static UpstreamCall<PutResponse> put() {
    return UpstreamCall.of(
        PutRequest.newBuilder().setKey("/orders/k").setRequestId("r-1").build(),
        Stubs::kv,
        KVGrpc.KVStub::put);
  }

  /** The failure of a put to the primary region, as a client of the router sees it. */
  private MeridianException failedPut() {
    return Router.unwrap(reads.primary(shard, deadline(), put()).handle((r, e) -> e).join());
  }

  private MeridianException failedCall(RegionClient.Route route, String region) {
    RegionClient.Request<PutResponse> request =
        new RegionClient.Request<>(
            route, shard, shard.region(region).orElseThrow(), deadline(), put());
    return Router.unwrap(client.execute(request).handle((r, e) -> e).join());
  }

  private double requests(String code) {
    return metrics.find("meridian.router.requests").tag("code", code).counters().stream()
        .mapToDouble(c -> c.count())
        .sum();
  }

  @Test
  void aRegionFoundUnavailableIsSkippedAndItsCallsFailAtOnceSayingSo() {
    answer.set(grpcError(14, null));

    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> failedPut().getMessage().equals(OPEN));
    MeridianException refused = failedPut();

    assertThat(refused.code()).isEqualTo(Error.Code.UNAVAILABLE);
    assertThat(refused.details()).containsEntry("region", "us-east").containsEntry("shard", "0");
    assertThat(requests("OPEN")).isGreaterThanOrEqualTo(2);
    assertThat(metrics.getMeters())
        .anyMatch(m -> m.getId().getName().startsWith("meridian.router.region.circuit.breaker"));
    // Each region cluster has its own breaker: us-west is still tried.
    assertThat(failedCall(RegionClient.Route.LOCAL, "us-west").getMessage())
        .doesNotContain("circuit breaker");
  }

  @Test
  void errorsThatAreTheRegionsOwnAnswerNeverOpenIt() {
    answer.set(
        grpcError(
            3,
            Error.newBuilder()
                .setCode(Error.Code.INVALID_ARGUMENT)
                .setMessage("key: too long")
                .build()));

    // Far more than 3 calls, across several of the breaker's 500 ms counter updates.
    await()
        .during(Duration.ofMillis(1500))
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> failedPut().code() == Error.Code.INVALID_ARGUMENT);
    assertThat(requests("INVALID_ARGUMENT")).isGreaterThan(3);
    assertThat(requests("OPEN")).isZero();
  }

  @Test
  void probesAreNeitherCountedNorGuarded() {
    answer.set(grpcError(14, null));

    await()
        .during(Duration.ofMillis(1500))
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> failedCall(RegionClient.Route.PROBE, "us-east").code() != null);

    assertThat(failedPut().getMessage()).isNotEqualTo(OPEN);
    assertThat(metrics.find("meridian.router.requests").tag("route", "probe").counters()).isEmpty();
  }
}
