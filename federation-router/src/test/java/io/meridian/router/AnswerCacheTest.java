package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Message;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.ResponseHeader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class AnswerCacheTest {
  private static final RoutingTable.Shard SHARD =
      RoutingTable.parse(RoutingTableTest.table(1, RoutingTableTest.HALVES, "")).shard(0);
  private static final RouterConfig.Policy OPEN =
      new RouterConfig.Policy(
          Consistency.LOCAL, RouterConfig.OnUnavailable.FAIL_OPEN, 1000L, 5000L);
  private static final RouterConfig.Policy CLOSED =
      new RouterConfig.Policy(
          Consistency.LOCAL, RouterConfig.OnUnavailable.FAIL_CLOSED, 1000L, 5000L);

  private final AtomicLong now = new AtomicLong();
  private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
  private final AtomicInteger reads = new AtomicInteger();

  /** What the regions answer next: a message, or a failure. */
  private final AtomicReference<Object> regions = new AtomicReference<>();

  private final AnswerCache cache =
      AnswerCache.builder(now::get)
          .ttl(Duration.ofSeconds(5))
          .maxAge(Duration.ofMinutes(10))
          .maxEntries(100)
          .meterRegistry(metrics)
          .newDecorator()
          .apply(
              new ShardReader() {
                @Override
                @SuppressWarnings("unchecked")
                public <R extends Message> CompletableFuture<R> read(Read<R> read) {
                  reads.incrementAndGet();
                  Object next = regions.get();
                  return next instanceof Throwable t
                      ? CompletableFuture.failedFuture(new CompletionException(t))
                      : CompletableFuture.completedFuture((R) next);
                }
              });

  private static DiscoverRequest discover(String service, Consistency consistency) {
    return DiscoverRequest.newBuilder()
        .setNamespace("orders")
        .setService(service)
        .setConsistency(consistency)
        .build();
  }

  private DiscoverResponse discovery(DiscoverRequest req, RouterConfig.Policy policy) {
    return cache
        .read(
            new ShardReader.Read<>(
                SHARD,
                policy,
                req.getConsistency(),
                req,
                true,
                DiscoverResponse::getDefaultInstance,
                null,
                (stubs, d) -> null))
        .join();
  }

  private RangeResponse range(Consistency consistency, RouterConfig.Policy policy) {
    RangeRequest req =
        RangeRequest.newBuilder().setKey("/orders/k").setConsistency(consistency).build();
    return cache
        .read(
            new ShardReader.Read<RangeResponse>(
                SHARD,
                policy,
                consistency,
                req,
                consistency == Consistency.CACHED,
                null,
                null,
                (stubs, d) -> null))
        .join();
  }

  private static DiscoverResponse instances(long revision, String... ids) {
    DiscoverResponse.Builder b =
        DiscoverResponse.newBuilder()
            .setHeader(ResponseHeader.newBuilder().setRegion("us-west").setRevision(revision));
    for (String id : ids) {
      b.addInstances(Instance.newBuilder().setId(id));
    }
    return b.build();
  }

  private void advanceMs(long ms) {
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
  }

  private double counted(String result) {
    return metrics.counter("meridian.router.cache", "result", result).count();
  }

  @Test
  void aCachedReadIsAnsweredFromTheCacheWithinTheTtlAndMarkedWithItsAge() {
    regions.set(instances(7, "p1"));
    discovery(discover("payments", Consistency.LOCAL), OPEN);
    regions.set(instances(8, "p1", "p2"));
    advanceMs(1200);

    DiscoverResponse hit = discovery(discover("payments", Consistency.CACHED), OPEN);

    assertThat(hit.getInstancesList()).hasSize(1);
    assertThat(hit.getHeader().getCached()).isTrue();
    assertThat(hit.getHeader().getLagMs()).isEqualTo(1200);
    assertThat(reads).hasValue(1);
    assertThat(counted("hit")).isEqualTo(1);
    assertThat(metrics.get("meridian.router.cache.entries").gauge().value()).isEqualTo(1);
  }

  @Test
  void pastTheTtlACachedReadReadsAgainAndRemembersTheNewAnswer() {
    regions.set(instances(7, "p1"));
    discovery(discover("payments", Consistency.CACHED), OPEN);
    advanceMs(5001);
    regions.set(instances(8, "p1", "p2"));

    DiscoverResponse fresh = discovery(discover("payments", Consistency.CACHED), OPEN);
    DiscoverResponse hit = discovery(discover("payments", Consistency.CACHED), OPEN);

    assertThat(fresh.getInstancesList()).hasSize(2);
    assertThat(fresh.getHeader().getCached()).isFalse();
    assertThat(hit.getInstancesList()).hasSize(2);
    assertThat(reads).hasValue(2);
    assertThat(counted("miss")).isEqualTo(2);
  }

  @Test
  void whenNoRegionCanAnswerAFailOpenNamespaceGetsTheCachedAnswerOfAnyAge() {
    regions.set(instances(7, "p1"));
    discovery(discover("payments", Consistency.LINEARIZABLE), OPEN);
    advanceMs(60_000);
    regions.set(MeridianException.of(Error.Code.UNAVAILABLE, "every region is down"));

    DiscoverResponse old = discovery(discover("payments", Consistency.LOCAL), OPEN);

    assertThat(old.getInstancesList()).hasSize(1);
    assertThat(old.getHeader().getCached()).isTrue();
    assertThat(old.getHeader().getLagMs()).isEqualTo(60_000);
    assertThat(counted("stale")).isEqualTo(1);
  }

  @Test
  void aDiscoveryNeverAnsweredFailsOpenWithAnEmptyListButARangeIsNeverInvented() {
    regions.set(MeridianException.of(Error.Code.DEADLINE_EXCEEDED, "no answer"));

    DiscoverResponse empty = discovery(discover("never-seen", Consistency.LOCAL), OPEN);

    assertThat(empty.getInstancesList()).isEmpty();
    assertThat(empty.getHeader().getCached()).isTrue();
    assertThat(empty.getHeader().getShard()).isEqualTo(SHARD.id());
    assertThat(counted("empty")).isEqualTo(1);
    assertThatThrownBy(() -> range(Consistency.CACHED, OPEN))
        .hasCauseInstanceOf(MeridianException.class)
        .hasMessageContaining("no answer");
  }

  @Test
  void aFailClosedNamespaceAndAFailureThatIsNotUnavailabilityGetTheFailure() {
    regions.set(instances(7, "p1"));
    discovery(discover("payments", Consistency.LOCAL), CLOSED);
    regions.set(MeridianException.of(Error.Code.UNAVAILABLE, "every region is down"));

    assertThatThrownBy(() -> discovery(discover("payments", Consistency.LOCAL), CLOSED))
        .hasMessageContaining("every region is down");
    regions.set(MeridianException.of(Error.Code.INVALID_ARGUMENT, "service: bad"));
    assertThatThrownBy(() -> discovery(discover("payments", Consistency.LOCAL), OPEN))
        .hasMessageContaining("service: bad");
  }

  @Test
  void aStrongRangeIsNeitherRememberedNorAnsweredFromTheCache() {
    regions.set(RangeResponse.newBuilder().setCount(1).build());
    range(Consistency.LINEARIZABLE, OPEN);
    range(Consistency.LOCAL, OPEN);
    regions.set(MeridianException.of(Error.Code.UNAVAILABLE, "down"));

    assertThatThrownBy(() -> range(Consistency.LOCAL, OPEN)).hasMessageContaining("down");
    assertThat(metrics.get("meridian.router.cache.entries").gauge().value()).isZero();
  }

  @Test
  void theBuilderRefusesAMaxAgeShorterThanTheTtl() {
    assertThatThrownBy(
            () ->
                AnswerCache.builder(now::get)
                    .ttl(Duration.ofSeconds(10))
                    .maxAge(Duration.ofSeconds(5))
                    .newDecorator())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("maxAge");
    assertThatThrownBy(() -> AnswerCache.builder(now::get).maxEntries(-1))
        .hasMessageContaining("maxEntries: -1 (expected: >= 0)");
  }
}
