package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Message;
import io.grpc.Deadline;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.StatusResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PrimaryProberTest {
  private static final RoutingTable TABLE =
      RoutingTable.parse(RoutingTableTest.table(1, RoutingTableTest.HALVES, ""));
  private static final RoutingTable.Shard SHARD = TABLE.shard(0);

  private final AtomicLong now = new AtomicLong();
  private final Deadline.Ticker clock = Deadlines.ticker(now::get);
  private final List<RegionClient.Request<?>> sent = new CopyOnWriteArrayList<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

  /** Answers every request at {@code revision}, from the region asked; Status for every shard. */
  private RegionClient upstream(long revision) {
    return new RegionClient() {
      @Override
      @SuppressWarnings("unchecked")
      public <R extends Message> CompletableFuture<R> execute(Request<R> request) {
        sent.add(request);
        ResponseHeader h =
            ResponseHeader.newBuilder()
                .setShard(request.shard().id())
                .setRegion(request.region().region())
                .setRevision(revision)
                .build();
        Message answer =
            request.route() == Route.PROBE
                ? StatusResponse.newBuilder()
                    .setHeader(ResponseHeader.newBuilder().setRevision(1))
                    .addShards(ShardStatus.newBuilder().setHeader(h))
                    .addShards(
                        ShardStatus.newBuilder()
                            .setHeader(h.toBuilder().setShard(99).setRevision(revision + 100)))
                    .build()
                : RangeResponse.newBuilder().setHeader(h).build();
        return CompletableFuture.completedFuture((R) answer);
      }
    };
  }

  private static <R extends Message> RegionClient.Request<R> request(
      RegionClient.Route route, String region) {
    return new RegionClient.Request<>(
        route, SHARD, SHARD.region(region).orElseThrow(), null, (stubs, d) -> null);
  }

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  @Test
  void answersFromThePrimaryAreNewsOfItsProgressAndLeaveUnmarked() {
    PrimaryProgress progress = new PrimaryProgress(now::get);
    PrimaryProber prober = PrimaryProber.newDecorator(progress).apply(upstream(42));

    RangeResponse write =
        prober.<RangeResponse>execute(request(RegionClient.Route.PRIMARY, "us-east")).join();
    RangeResponse local =
        prober.<RangeResponse>execute(request(RegionClient.Route.LOCAL, "us-east")).join();

    assertThat(progress.latest(0)).isEqualTo(42);
    assertThat(write.getHeader().getLagRevisions()).isZero();
    assertThat(local.getHeader().getLagMs()).isZero();
  }

  @Test
  void answersFromAStandbyLeaveMarkedWithHowStaleTheyMayBe() {
    PrimaryProgress progress = new PrimaryProgress(now::get);
    progress.observe(0, 40);
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(300));
    progress.observe(0, 50);
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(200));
    PrimaryProber prober = PrimaryProber.newDecorator(progress).apply(upstream(45));

    RangeResponse r =
        prober.<RangeResponse>execute(request(RegionClient.Route.LOCAL, "us-west")).join();

    // 5 revisions behind; the primary was first seen beyond 45 (at 50) 200 ms ago.
    assertThat(r.getHeader().getLagRevisions()).isEqualTo(5);
    assertThat(r.getHeader().getLagMs()).isEqualTo(200);
    assertThat(r.getHeader().getRegion()).isEqualTo("us-west");
    assertThat(progress.latest(0)).isEqualTo(50);
  }

  @Test
  void statusGatheringPassesByUnmarkedAndUnobserved() {
    PrimaryProgress progress = new PrimaryProgress(now::get);
    now.addAndGet(TimeUnit.SECONDS.toNanos(3));
    PrimaryProber prober = PrimaryProber.newDecorator(progress).apply(upstream(7));

    RangeResponse fromStandby =
        prober.<RangeResponse>execute(request(RegionClient.Route.STATUS, "us-west")).join();
    prober.execute(request(RegionClient.Route.STATUS, "us-east")).join();

    assertThat(fromStandby.getHeader().getLagMs()).isZero();
    assertThat(progress.latest(0)).isZero();
  }

  @Test
  void probesAskEveryShardsPrimaryAndKeepOnlyThatShardsRevision() {
    PrimaryProgress progress = new PrimaryProgress(now::get);
    try (PrimaryProber prober =
        PrimaryProber.builder(progress)
            .probeEvery(Duration.ofMillis(20), timer, () -> TABLE, clock)
            .probeTimeout(Duration.ofMillis(500))
            .newDecorator()
            .apply(upstream(9))) {
      await().atMost(Duration.ofSeconds(30)).until(() -> progress.latest(1) == 9);

      assertThat(progress.latest(0)).isEqualTo(9);
      assertThat(progress.latest(99)).isZero();
      assertThat(sent)
          .allSatisfy(
              r -> {
                assertThat(r.route()).isEqualTo(RegionClient.Route.PROBE);
                assertThat(r.region().region()).isEqualTo("us-east");
                assertThat(r.deadline().timeRemaining(TimeUnit.MILLISECONDS)).isLessThan(501);
              });
      assertThat(prober.progress()).isSameAs(progress);
    }
  }

  @Test
  void closedItProbesNoMore() throws Exception {
    PrimaryProgress progress = new PrimaryProgress(now::get);
    PrimaryProber prober =
        PrimaryProber.builder(progress)
            .probeEvery(Duration.ofMillis(10), timer, () -> TABLE, clock)
            .newDecorator()
            .apply(upstream(3));
    await().atMost(Duration.ofSeconds(30)).until(() -> sent.size() >= 2);
    prober.close();
    // A probe running at close may still finish; after that, none starts.
    timer.submit(() -> {}).get(5, TimeUnit.SECONDS);
    int after = sent.size();
    await()
        .during(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(10))
        .until(() -> sent.size() == after);
  }
}
