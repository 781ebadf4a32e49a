package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.grpc.GrpcService;
import com.linecorp.armeria.server.healthcheck.HealthCheckService;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.serving.LoopbackPorts;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against a real 3-node cluster, and against endpoints that fail in known ways. */
@Tag("cluster")
class FailoverTest {
  /** The write sent to the endpoints that never answer. */
  private static final PutRequest PUT =
      PutRequest.newBuilder().setKey("/x").setValue(ByteString.copyFromUtf8("1")).build();

  @TempDir Path dir;

  @Test
  void writesGoOnThroughALeaderKillAndEachTakesEffectOnce() throws Exception {
    try (LocalRegion cluster = LocalCluster.start(dir);
        MeridianClient client = LocalCluster.client(cluster).build()) {
      int leader = cluster.awaitReady();
      int writes = 120;
      for (int i = 0; i < writes; i++) {
        if (i == 40) {
          cluster.kill(leader);
        }
        PutResponse r = client.kv().put("/failover/k" + i, ByteString.copyFromUtf8("v" + i));
        assertThat(r.getHeader().getRevision()).isPositive();
      }

      List<KeyValue> kvs =
          client
              .kv()
              .range(RangeRequest.newBuilder().setKey("/failover/").setPrefix(true).build())
              .getKvsList();
      assertThat(kvs).hasSize(writes);
      // A put retried after the leader died was applied once: no key has a second version.
      assertThat(kvs).allSatisfy(kv -> assertThat(kv.getVersion()).isEqualTo(1));
      String stopped = cluster.cluster().configs().get(leader).client().port() + "";
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  client.healthyEndpoints().stream()
                      .noneMatch(e -> Integer.toString(e.port()).equals(stopped)));
    }
  }

  @Test
  void withEveryEndpointDownACallFailsUnavailableWithoutWaitingForever() {
    try (MeridianClient client =
        MeridianClient.builder()
            .endpoints(
                "127.0.0.1:" + LoopbackPorts.free(),
                "127.0.0.1:" + LoopbackPorts.free(),
                "127.0.0.1:" + LoopbackPorts.free())
            .retry(RetryPolicy.of(Duration.ofMillis(10), Duration.ofMillis(10)))
            .requestTimeout(Duration.ofSeconds(3))
            .build()) {
      assertThatThrownBy(() -> client.kv().get("/nowhere"))
          .isInstanceOfSatisfying(
              MeridianException.class,
              e -> {
                assertThat(e.code()).isEqualTo(Error.Code.UNAVAILABLE);
                assertThat(e.getMessage()).contains("no Meridian endpoint reachable");
              });
      assertThat(client.healthyEndpoints()).isEmpty();
    }
  }

  /** A server that passes its health check and takes every put without ever answering it. */
  private static Server silentMember(AtomicInteger received) {
    return Server.builder()
        .http(0)
        .service("/health", HealthCheckService.of())
        .service(
            GrpcService.builder()
                .addService(
                    new KVGrpc.KVImplBase() {
                      @Override
                      public void put(PutRequest request, StreamObserver<PutResponse> out) {
                        received.incrementAndGet();
                      }
                    })
                .build())
        .build();
  }

  /**
   * An endpoint whose calls keep failing opens its circuit breaker: calls then fail fast without
   * reaching it, and after the open window one trial call goes through.
   */
  @Test
  void anEndpointsBreakerOpensAfterFailuresAndLetsATrialThroughAfterItsWindow() {
    AtomicInteger received = new AtomicInteger();
    Server silent = silentMember(received);
    silent.start().join();
    try (MeridianClient client =
        MeridianClient.builder()
            .endpoints("127.0.0.1:" + silent.activeLocalPort())
            .retry(RetryPolicy.none())
            .attemptTimeout(Duration.ofMillis(100))
            .circuitBreaker(0.5, 2, Duration.ofSeconds(2))
            .build()) {
      // Failures keep coming until the breaker (which counts in intervals) opens.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> failureOf(() -> client.kv().put(PUT)).contains("request not sent"));
      int reached = received.get();
      for (int i = 0; i < 5; i++) {
        assertThat(failureOf(() -> client.kv().put(PUT))).contains("request not sent");
      }
      assertThat(received).hasValue(reached);

      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                failureOf(() -> client.kv().put(PUT));
                return received.get() > reached;
              });
      assertThat(received).hasValue(reached + 1);
    } finally {
      silent.stop().join();
    }
  }

  private static String failureOf(Runnable call) {
    try {
      call.run();
      return "succeeded";
    } catch (MeridianException e) {
      return e.getMessage();
    }
  }

  /**
   * A member that takes a write and never answers: a write that is safe to repeat is retried on
   * every attempt, one that is not is sent once and reported as of unknown outcome.
   */
  @Test
  void aWriteThatIsNotSafeToRepeatIsSentOnceAndReportedAsOfUnknownOutcome() {
    AtomicInteger received = new AtomicInteger();
    Server silent = silentMember(received);
    silent.start().join();
    try (MeridianClient client =
        MeridianClient.builder()
            .endpoints("127.0.0.1:" + silent.activeLocalPort())
            .retry(RetryPolicy.of(Duration.ofMillis(10), Duration.ofMillis(10)))
            .attemptTimeout(Duration.ofMillis(300))
            .requestTimeout(Duration.ofSeconds(5))
            .build()) {

      assertThatThrownBy(() -> Unary.await(client.kv().putOnceAsync(PUT)))
          .isInstanceOfSatisfying(
              MeridianException.class,
              e -> assertThat(e.code()).isEqualTo(Error.Code.OUTCOME_UNKNOWN));
      assertThat(received).hasValue(1);

      received.set(0);
      assertThatThrownBy(() -> client.kv().put(PUT))
          .isInstanceOfSatisfying(
              MeridianException.class,
              e -> assertThat(e.code()).isIn(Error.Code.DEADLINE_EXCEEDED, Error.Code.UNAVAILABLE));
      assertThat(received).hasValue(3);
    } finally {
      silent.stop().join();
    }
  }
}
