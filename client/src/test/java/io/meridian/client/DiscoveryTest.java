package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.meridian.api.v1.Instance;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery and instance selection against a real 3-node cluster. */
@Tag("cluster")
class DiscoveryTest {
  @TempDir Path dir;

  private static RegisterRequest instance(String service, String id) {
    return RegisterRequest.newBuilder()
        .setNamespace("shop")
        .setService(service)
        .setInstanceId(id)
        .setAddress("10.0.0." + (id.hashCode() & 0x7f))
        .setPort(8080)
        .setTtl(30)
        .build();
  }

  /** Discovery reads LOCAL: waits until every member has applied {@code count} instances. */
  private static void awaitEveryMemberSees(LocalRegion cluster, String service, int count) {
    for (String url : cluster.urls()) {
      try (MeridianClient one = MeridianClient.builder().endpoints(List.of(url)).build()) {
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    one.registry()
                            .discover(
                                io.meridian.api.v1.DiscoverRequest.newBuilder()
                                    .setNamespace("shop")
                                    .setService(service)
                                    .setConsistency(io.meridian.api.v1.Consistency.LOCAL)
                                    .build())
                            .getInstancesCount()
                        == count);
      }
    }
  }

  @Test
  void withEveryEndpointDownDiscoveryFallsBackToCacheThenStaticThenPolicy() throws Exception {
    Instance fixed =
        Instance.newBuilder()
            .setNamespace("shop")
            .setService("static-svc")
            .setId("s1")
            .setAddress("10.1.1.1")
            .setPort(80)
            .build();
    LocalRegion cluster = LocalCluster.start(dir);
    try (MeridianClient client =
        MeridianClient.builder()
            .endpoints(cluster.urls())
            .retry(RetryPolicy.of(Duration.ofMillis(20), Duration.ofMillis(20)))
            .requestTimeout(Duration.ofSeconds(3))
            .attemptTimeout(Duration.ofSeconds(1))
            .discovery(
                new Discovery.Options(
                    Duration.ofMinutes(5),
                    1_000,
                    Map.of("shop/static-svc", List.of(fixed)),
                    Map.of("shop/closed", Discovery.Policy.FAIL_CLOSED),
                    Discovery.Policy.FAIL_OPEN))
            .build()) {
      client.registry().register(instance("payments", "p1"));
      client.registry().register(instance("payments", "p2"));
      Discovery.Result fresh = client.discovery().discover("shop", "payments");
      assertThat(fresh.source()).isEqualTo(Discovery.Source.REGISTRY);
      assertThat(fresh.instances())
          .extracting(Instance::getId)
          .containsExactlyInAnyOrder("p1", "p2");
      assertThat(fresh.stale()).isFalse();

      cluster.close();

      Discovery.Result cached = client.discovery().discover("shop", "payments");
      assertThat(cached.source()).isEqualTo(Discovery.Source.CACHE);
      assertThat(cached.stale()).isTrue();
      assertThat(cached.age()).isPositive();
      assertThat(cached.instances())
          .extracting(Instance::getId)
          .containsExactlyInAnyOrder("p1", "p2");

      Discovery.Result configured = client.discovery().discover("shop", "static-svc");
      assertThat(configured.source()).isEqualTo(Discovery.Source.STATIC);
      assertThat(configured.instances()).containsExactly(fixed);

      Discovery.Result open = client.discovery().discover("shop", "unknown");
      assertThat(open.source()).isEqualTo(Discovery.Source.NONE);
      assertThat(open.instances()).isEmpty();

      assertThatThrownBy(() -> client.discovery().discover("shop", "closed"))
          .isInstanceOfSatisfying(
              DiscoveryUnavailableException.class,
              e -> assertThat(e.service()).isEqualTo("shop/closed"));
    } finally {
      cluster.close();
    }
  }

  @Test
  void answersYoungerThanFreshForComeFromTheCacheWithoutAskingTheRegistry() throws Exception {
    try (LocalRegion cluster = LocalCluster.start(dir);
        MeridianClient client =
            MeridianClient.builder()
                .endpoints(cluster.urls())
                .discovery(Discovery.Options.defaults().withFreshFor(Duration.ofHours(1)))
                .build()) {
      client.registry().register(instance("search", "a1"));
      // Discovery reads LOCAL: the first answer (the one cached) must have it whichever member
      // serves it.
      awaitEveryMemberSees(cluster, "search", 1);
      Discovery.Result first = client.discovery().discover("shop", "search");
      assertThat(first.source()).isEqualTo(Discovery.Source.REGISTRY);
      assertThat(first.instances()).extracting(Instance::getId).containsExactly("a1");

      client.registry().register(instance("search", "a2"));
      Discovery.Result second = client.discovery().discover("shop", "search");

      // Served from the cache: the registry, asked directly (and linearizably: a follower's own
      // applied state may not have the registration yet), already has the second instance.
      assertThat(second.source()).isEqualTo(Discovery.Source.CACHE);
      assertThat(second.stale()).isFalse();
      assertThat(second.instances()).extracting(Instance::getId).containsExactly("a1");
      assertThat(
              client
                  .registry()
                  .discover(
                      io.meridian.api.v1.DiscoverRequest.newBuilder()
                          .setNamespace("shop")
                          .setService("search")
                          .setConsistency(io.meridian.api.v1.Consistency.LINEARIZABLE)
                          .build())
                  .getInstancesCount())
          .isEqualTo(2);
    }
  }

  @Test
  void chooseSkipsAnInstanceWhoseBreakerOpenedAndTriesItAgainAfterTheWindow() throws Exception {
    try (LocalRegion cluster = LocalCluster.start(dir);
        MeridianClient client =
            MeridianClient.builder()
                .endpoints(cluster.urls())
                .circuitBreaker(0.5, 2, Duration.ofSeconds(1))
                .build()) {
      client.registry().register(instance("orders", "o1"));
      client.registry().register(instance("orders", "o2"));
      awaitEveryMemberSees(cluster, "orders", 2);
      Set<String> chosen = new HashSet<>();
      for (int i = 0; i < 4; i++) {
        chosen.add(client.discovery().choose("shop", "orders").getId());
      }
      assertThat(chosen).containsExactlyInAnyOrder("o1", "o2");

      Instance o1 =
          client.discovery().discover("shop", "orders").instances().stream()
              .filter(x -> x.getId().equals("o1"))
              .findFirst()
              .orElseThrow();
      // Failures keep coming, as they would from real calls; the breaker counts in intervals.
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                client.discovery().recordFailure(o1);
                return !client.discovery().breaker(o1).canRequest();
              });
      for (int i = 0; i < 6; i++) {
        assertThat(client.discovery().choose("shop", "orders").getId()).isEqualTo("o2");
      }

      // After the open window, one trial call may go to o1; its success closes the breaker.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                Instance picked = client.discovery().choose("shop", "orders");
                if (picked.getId().equals("o1")) {
                  client.discovery().recordSuccess(picked);
                  return true;
                }
                return false;
              });
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> client.discovery().breaker(o1).canRequest());
    }
  }
}
