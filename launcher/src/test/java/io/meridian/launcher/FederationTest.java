package io.meridian.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.InstanceEvent;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LeaseListRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchServiceRequest;
import io.meridian.api.v1.WatchServiceResponse;
import io.meridian.client.LockHandle;
import io.meridian.client.MeridianClient;
import io.meridian.client.RetryPolicy;
import io.meridian.client.Stubs;
import io.meridian.client.WatchClient;
import io.meridian.cluster.DevCluster;
import io.meridian.router.RouterServer;
import io.meridian.router.RoutingTable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * A federation of two regions (us-east PRIMARY, us-west STANDBY) and two shards, one voter per
 * region cluster (only region behaviour is under test), and a router per region; requests go
 * through the routers. Each test starts a federation of its own in its own directory, on ports of
 * its own, so two run at once.
 */
@Tag("cluster")
@Execution(ExecutionMode.CONCURRENT)
class FederationTest {
  private static final String EAST = "us-east";
  private static final String WEST = "us-west";

  @TempDir Path dir;
  private DevFederation federation;
  private final List<MeridianClient> clients = new ArrayList<>();

  private DevFederation start(Map<String, Object> namespaces) throws Exception {
    return start(namespaces, false);
  }

  private DevFederation start(Map<String, Object> namespaces, boolean replicated) throws Exception {
    Map<String, Object> router = new java.util.HashMap<>();
    router.put(
        "upstream",
        Map.of(
            "request-timeout-ms",
            3000,
            "attempt-timeout-ms",
            1000,
            "health-check-interval-ms",
            300));
    router.put("reads", Map.of("region-timeout-ms", 1000, "probe-interval-ms", 100));
    if (!namespaces.isEmpty()) {
      router.put("namespaces", namespaces);
    }
    federation =
        DevFederation.start(
            dir,
            new DevFederation.Shape(List.of(EAST, WEST), 2, 1, replicated),
            Map.of("raft", DevCluster.FAST_ELECTIONS, "lease", Map.of("min-ttl-seconds", 1)),
            router);
    await().atMost(Duration.ofSeconds(30)).until(federation::ready);
    return federation;
  }

  @AfterEach
  void stop() {
    clients.forEach(MeridianClient::close);
    if (federation != null) {
      federation.close();
    }
  }

  private MeridianClient client(String... regions) {
    List<String> urls = new ArrayList<>();
    for (String r : regions) {
      urls.add(federation.router(r).url());
    }
    MeridianClient c =
        MeridianClient.builder()
            .endpoints(urls)
            .healthCheckInterval(Duration.ofMillis(200))
            .requestTimeout(Duration.ofSeconds(8))
            // The routers answer within their own 3 s budget; give them all of it.
            .attemptTimeout(Duration.ofSeconds(8))
            .retry(RetryPolicy.of(Duration.ofMillis(100)))
            .build();
    clients.add(c);
    return c;
  }

  private static RangeResponse range(MeridianClient c, String key, Consistency consistency) {
    return c.kv().range(RangeRequest.newBuilder().setKey(key).setConsistency(consistency).build());
  }

  /** A namespace the table places on {@code shard}. */
  private String namespaceOn(int shard, String stem) {
    for (int i = 0; ; i++) {
      if (federation.table().shardOf(stem + i).id() == shard) {
        return stem + i;
      }
    }
  }

  private double counter(String region, String name, String tag, String value) {
    return federation.router(region).metrics().find(name).tag(tag, value).counters().stream()
        .mapToDouble(c -> c.count())
        .sum();
  }

  @Test
  void writesLandInTheirShardsPrimaryAndLocalReadsAreServedLocally() throws Exception {
    // us-west (no bridge here) never gets the primary's revisions: "quiet" tolerates that for ten
    // minutes, so its LOCAL reads stay in us-west however long the writes below take.
    start(
        Map.of("quiet", Map.of("max-staleness-ms", 600_000, "max-staleness-revisions", 1_000_000)));
    MeridianClient west = client(WEST);
    Set<Integer> shards = new HashSet<>();
    for (int i = 0; i < 12; i++) {
      String ns = "team" + i;
      ResponseHeader h =
          west.kv().put("/" + ns + "/config", ByteString.copyFromUtf8("v" + i)).getHeader();
      int expected = federation.table().shardOf(ns).id();
      assertThat(h.getRegion()).isEqualTo(EAST);
      assertThat(h.getShard()).isEqualTo(expected);
      shards.add(h.getShard());
      // The key is in that shard's group on the primary's node, and only there.
      String v = java.util.Base64.getEncoder().encodeToString(("v" + i).getBytes());
      assertThat(directRange(EAST, expected, "/" + ns + "/config")).contains("\"" + v + "\"");
      assertThat(directRange(EAST, 1 - expected, "/" + ns + "/config")).contains("\"kvs\":[]");
    }
    assertThat(shards).containsExactlyInAnyOrder(0, 1);

    // LINEARIZABLE (the default) goes to the primary, from either router.
    RangeResponse strong = range(west, "/team3/config", Consistency.CONSISTENCY_UNSPECIFIED);
    assertThat(strong.getHeader().getRegion()).isEqualTo(EAST);
    assertThat(strong.getKvs(0).getValue().toStringUtf8()).isEqualTo("v3");

    // LOCAL is served by the router's own region while it is within the staleness limit.
    RangeResponse local = range(west, "/quiet/x", Consistency.LOCAL);
    assertThat(local.getHeader().getRegion()).isEqualTo(WEST);
    assertThat(range(client(EAST), "/quiet/x", Consistency.LOCAL).getHeader().getRegion())
        .isEqualTo(EAST);
    assertThat(counter(WEST, "meridian.router.requests", "route", "local")).isGreaterThan(0);
  }

  /** A range read at one node of {@code region}, addressed to {@code shard}, as JSON. */
  private String directRange(String region, int shard, String key) {
    String url = federation.cluster(region).node(0).clientUrl();
    AggregatedHttpResponse r =
        WebClient.of(url)
            .execute(
                HttpRequest.of(
                    RequestHeaders.builder(HttpMethod.POST, "/v1/kv/range")
                        .contentType(MediaType.JSON)
                        .add("meridian-shard", Integer.toString(shard))
                        .build(),
                    HttpData.ofUtf8("{\"key\":\"" + key + "\",\"consistency\":\"SERIALIZABLE\"}")))
            .aggregate()
            .join();
    return r.contentUtf8();
  }

  @Test
  void withTheBridgeAWriteInTheEastIsReadLocallyInTheWest() throws Exception {
    start(Map.of(), true);
    MeridianClient east = client(EAST);
    MeridianClient west = client(WEST);
    for (int shard = 0; shard < 2; shard++) {
      String key = "/" + namespaceOn(shard, "repl") + "/k";
      long revision =
          east.kv().put(key, ByteString.copyFromUtf8("from-east")).getHeader().getRevision();
      RangeResponse[] local = new RangeResponse[1];
      // Until the standby has it, a LOCAL read may fall back to us-east (too stale): wait for one
      // us-west answers.
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  (local[0] = range(west, key, Consistency.LOCAL)).getKvsCount() == 1
                      && local[0].getHeader().getRegion().equals(WEST));
      // Served by the standby in us-west, at the revision the primary wrote it.
      assertThat(local[0].getHeader().getRegion()).isEqualTo(WEST);
      assertThat(local[0].getHeader().getRole()).isEqualTo(Role.STANDBY);
      assertThat(local[0].getKvs(0).getModRevision()).isEqualTo(revision);
      assertThat(local[0].getKvs(0).getValue().toStringUtf8()).isEqualTo("from-east");
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> federation.bridge().status().getHealthy());
    assertThat(federation.bridge().status().getShardsList())
        .allSatisfy(s -> assertThat(s.getSinks(0).getLagRevisions()).isZero());
  }

  @Test
  void aStaleOrStoppedLocalRegionFallsBackToTheNextRegion() throws Exception {
    start(Map.of("strict", Map.of("max-staleness-revisions", 0)));
    MeridianClient west = client(WEST);
    west.kv().put("/strict/k", ByteString.copyFromUtf8("fresh"));
    // us-west has none of the primary's revisions: too stale for "strict", so us-east answers.
    RangeResponse r = range(west, "/strict/k", Consistency.LOCAL);
    assertThat(r.getHeader().getRegion()).isEqualTo(EAST);
    assertThat(r.getKvs(0).getValue().toStringUtf8()).isEqualTo("fresh");
    assertThat(counter(WEST, "meridian.router.fallbacks", "reason", "stale")).isGreaterThan(0);

    federation.stopRegion(WEST);
    RangeResponse fallback = range(west, "/quiet/x", Consistency.LOCAL);
    assertThat(fallback.getHeader().getRegion()).isEqualTo(EAST);
    assertThat(counter(WEST, "meridian.router.fallbacks", "reason", "unavailable"))
        .isGreaterThan(0);
  }

  @Test
  void withThePrimaryRegionDownStrongReadsAndWritesFailClearlyAndLocalReadsGoOn() throws Exception {
    start(Map.of());
    MeridianClient west = client(WEST);
    west.kv().put("/orders/k", ByteString.copyFromUtf8("1"));
    federation.stopRegion(EAST);

    assertThatThrownBy(() -> range(west, "/orders/k", Consistency.LINEARIZABLE))
        .isInstanceOf(MeridianException.class)
        .hasMessageContaining("region us-east")
        .extracting(e -> ((MeridianException) e).code())
        .isEqualTo(Error.Code.UNAVAILABLE);
    assertThatThrownBy(() -> west.kv().put("/orders/k", ByteString.copyFromUtf8("2")))
        .isInstanceOf(MeridianException.class)
        .extracting(e -> ((MeridianException) e).code())
        .isEqualTo(Error.Code.UNAVAILABLE);

    RangeResponse local = range(west, "/orders/k", Consistency.LOCAL);
    assertThat(local.getHeader().getRegion()).isEqualTo(WEST);
  }

  @Test
  void failOpenAndFailClosedNamespacesBehaveAsConfigured() throws Exception {
    // Staleness 0: discovery falls back from the empty standby to the primary, and is cached.
    start(
        Map.of(
            "open", Map.of("on-unavailable", "FAIL_OPEN", "max-staleness-revisions", 0),
            "closed", Map.of("on-unavailable", "FAIL_CLOSED", "max-staleness-revisions", 0)));
    MeridianClient west = client(WEST);
    for (String ns : List.of("open", "closed")) {
      west.registry()
          .register(
              RegisterRequest.newBuilder()
                  .setNamespace(ns)
                  .setService("payments")
                  .setInstanceId("p1")
                  .setAddress("10.0.0.1")
                  .setPort(8080)
                  .setTtl(60)
                  .build());
      DiscoverResponse seen = discover(west, ns, "payments", Consistency.CONSISTENCY_UNSPECIFIED);
      assertThat(seen.getInstancesList()).hasSize(1);
      assertThat(seen.getHeader().getRegion()).isEqualTo(EAST);
    }
    // CACHED: a second ask within the cache TTL is answered by the router alone.
    discover(west, "open", "payments", Consistency.CACHED);
    DiscoverResponse hit = discover(west, "open", "payments", Consistency.CACHED);
    assertThat(hit.getHeader().getCached()).isTrue();
    assertThat(hit.getInstancesList()).hasSize(1);

    federation.stopRegion(EAST);
    federation.stopRegion(WEST);
    DiscoverResponse open = discover(west, "open", "payments", Consistency.LOCAL);
    assertThat(open.getInstancesList()).extracting(i -> i.getId()).containsExactly("p1");
    assertThat(open.getHeader().getCached()).isTrue();
    DiscoverResponse unknown = discover(west, "open", "never-seen", Consistency.LOCAL);
    assertThat(unknown.getInstancesList()).isEmpty();
    assertThat(unknown.getHeader().getCached()).isTrue();
    assertThatThrownBy(() -> discover(west, "closed", "payments", Consistency.LOCAL))
        .isInstanceOf(MeridianException.class)
        .extracting(e -> ((MeridianException) e).code())
        .isEqualTo(Error.Code.UNAVAILABLE);
  }

  /**
   * A blocking Discover through a router waits as long as it asked, past the router's per-attempt
   * (1 s) and request (3 s) timeouts, and is answered by the primary, not by a fallback.
   */
  @Test
  void aBlockingDiscoveryThroughARouterWaitsAsLongAsItAsked() throws Exception {
    start(Map.of());
    MeridianClient east = client(EAST);
    east.registry()
        .register(
            RegisterRequest.newBuilder()
                .setNamespace("shop")
                .setService("payments")
                .setInstanceId("p1")
                .setAddress("10.0.0.1")
                .setPort(8080)
                .setTtl(60)
                .build());
    DiscoverResponse first = discover(east, "shop", "payments", Consistency.LINEARIZABLE);
    DiscoverRequest blocking =
        DiscoverRequest.newBuilder()
            .setNamespace("shop")
            .setService("payments")
            .setConsistency(Consistency.LINEARIZABLE)
            .setWaitRevision(first.getHeader().getRevision())
            .setWaitMs(4000)
            .build();
    long started = System.nanoTime();
    DiscoverResponse unchanged = east.registry().discover(blocking);
    assertThat(Duration.ofNanos(System.nanoTime() - started))
        .isGreaterThan(Duration.ofMillis(3900));
    assertThat(unchanged.getHeader().getRegion()).isEqualTo(EAST);
    assertThat(unchanged.getHeader().getCached()).isFalse();
    assertThat(unchanged.getInstancesList()).extracting(i -> i.getId()).containsExactly("p1");

    // A change while it waits answers at once with the change.
    var changed = east.registry().discoverAsync(blocking.toBuilder().setWaitMs(60_000).build());
    east.registry()
        .register(
            RegisterRequest.newBuilder()
                .setNamespace("shop")
                .setService("payments")
                .setInstanceId("p2")
                .setAddress("10.0.0.2")
                .setPort(8080)
                .setTtl(60)
                .build());
    assertThat(changed.get(30, java.util.concurrent.TimeUnit.SECONDS).getInstancesList())
        .extracting(i -> i.getId())
        .containsExactlyInAnyOrder("p1", "p2");
  }

  /**
   * A registry watch through a router, over HTTP (JSON lines) and gRPC, carries each instance as a
   * decoded message: UP with the registered instance, then DOWN with its last state when its lease
   * expires.
   */
  @Test
  void aRegistryWatchThroughARouterShowsInstancesNotBytes() throws Exception {
    start(Map.of());
    String router = federation.router(WEST).url();
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    java.net.http.HttpResponse<java.util.stream.Stream<String>> watch =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(router + "/v1/registry/watch"))
                .POST(
                    java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"namespace\":\"shop\",\"service\":\"payments\"}"))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofLines());
    assertThat(watch.statusCode()).isEqualTo(200);
    List<JsonNode> lines = new CopyOnWriteArrayList<>();
    ObjectMapper json = new ObjectMapper();
    Thread reader =
        new Thread(
            () ->
                watch
                    .body()
                    .forEach(
                        l -> {
                          try {
                            lines.add(json.readTree(l));
                          } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                          }
                        }));
    reader.setDaemon(true);
    reader.start();
    List<WatchServiceResponse> grpc = new CopyOnWriteArrayList<>();
    AtomicInteger grpcErrors = new AtomicInteger();
    RegistryGrpc.RegistryStub stub =
        GrpcClients.builder(router)
            .responseTimeout(Duration.ZERO)
            .build(RegistryGrpc.RegistryStub.class);
    ClientCallStreamObserver<?>[] grpcCall = {null};
    stub.watchService(
        WatchServiceRequest.newBuilder().setNamespace("shop").setService("payments").build(),
        new ClientResponseObserver<WatchServiceRequest, WatchServiceResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<WatchServiceRequest> call) {
            grpcCall[0] = call;
          }

          @Override
          public void onNext(WatchServiceResponse r) {
            grpc.add(r);
          }

          @Override
          public void onError(Throwable t) {
            grpcErrors.incrementAndGet();
          }

          @Override
          public void onCompleted() {}
        });
    try {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  lines.stream().anyMatch(l -> l.path("snapshot").asBoolean())
                      && grpc.stream().anyMatch(WatchServiceResponse::getSnapshot));
      // A TTL of 1 s and no heartbeat: the instance is evicted soon after.
      client(EAST)
          .registry()
          .register(
              RegisterRequest.newBuilder()
                  .setNamespace("shop")
                  .setService("payments")
                  .setInstanceId("p1")
                  .setAddress("10.0.0.1")
                  .setPort(8080)
                  .setTtl(1)
                  .build());

      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> instanceEvents(lines).stream().map(e -> e.path("type").asText()).toList(),
              types -> types.equals(List.of("UP", "DOWN")));
      JsonNode up = instanceEvents(lines).get(0);
      assertThat(up.path("instance").path("id").asText()).isEqualTo("p1");
      assertThat(up.path("instance").path("address").asText()).isEqualTo("10.0.0.1");
      assertThat(up.path("instance").path("port").asInt()).isEqualTo(8080);
      assertThat(up.has("prevInstance")).isFalse();
      JsonNode down = instanceEvents(lines).get(1);
      assertThat(down.path("prevInstance").path("id").asText()).isEqualTo("p1");
      assertThat(down.path("prevInstance").path("address").asText()).isEqualTo("10.0.0.1");
      assertThat(down.path("prevInstance").path("port").asInt()).isEqualTo(8080);
      assertThat(down.path("revision").asLong()).isGreaterThan(up.path("revision").asLong());
      assertThat(lines).noneMatch(l -> l.toString().contains("\"kv\""));

      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  grpc.stream()
                      .filter(r -> !r.getSnapshot())
                      .flatMap(r -> r.getEventsList().stream())
                      .map(e -> e.getType().name())
                      .toList(),
              types -> types.equals(List.of("UP", "DOWN")));
      InstanceEvent grpcDown =
          grpc.stream()
              .flatMap(r -> r.getEventsList().stream())
              .filter(e -> e.getType() == InstanceEvent.Type.DOWN)
              .findFirst()
              .orElseThrow();
      assertThat(grpcDown.getPrevInstance().getAddress()).isEqualTo("10.0.0.1");
      assertThat(grpcDown.getPrevInstance().getPort()).isEqualTo(8080);
      assertThat(grpcDown.getRevision()).isEqualTo(down.path("revision").asLong());
      assertThat(grpcErrors).hasValue(0);
    } finally {
      grpcCall[0].cancel("done", null);
      watch.body().close();
    }
  }

  /** The instance events of a registry watch's JSON lines, snapshots left out. */
  private static List<JsonNode> instanceEvents(List<JsonNode> lines) {
    List<JsonNode> events = new ArrayList<>();
    for (JsonNode l : lines) {
      if (!l.path("snapshot").asBoolean()) {
        l.path("events").forEach(events::add);
      }
    }
    return events;
  }

  private static DiscoverResponse discover(
      MeridianClient c, String ns, String service, Consistency consistency) {
    return c.registry()
        .discover(
            DiscoverRequest.newBuilder()
                .setNamespace(ns)
                .setService(service)
                .setConsistency(consistency)
                .build());
  }

  @Test
  void callsWithoutOneShardAreGatheredOrRefused() throws Exception {
    start(Map.of());
    MeridianClient east = client(EAST);
    String a = namespaceOn(0, "a");
    String b = namespaceOn(1, "b");
    east.kv().put("/" + b + "/1", ByteString.copyFromUtf8("b"));
    east.kv().put("/" + a + "/1", ByteString.copyFromUtf8("a"));

    // A range over every namespace: both shards, merged in key order.
    RangeResponse all =
        east.kv().range(RangeRequest.newBuilder().setKey("/").setRangeEnd("\u0000").build());
    List<String> keys = all.getKvsList().stream().map(KeyValue::getKey).toList();
    assertThat(keys).contains("/" + a + "/1", "/" + b + "/1").isSorted();
    assertThat(all.getHeader().getShardRevisionsMap()).containsOnlyKeys(0, 1);

    // A transaction on two shards is refused, naming a key of each.
    TxnRequest twoShards =
        TxnRequest.newBuilder()
            .addCompare(Compare.newBuilder().setKey("/" + a + "/1"))
            .addSuccess(
                RequestOp.newBuilder()
                    .setRequestPut(PutRequest.newBuilder().setKey("/" + b + "/2")))
            .build();
    assertThatThrownBy(() -> east.kv().txn(twoShards))
        .isInstanceOf(MeridianException.class)
        .hasMessageContaining("no cross-shard transactions")
        .extracting(e -> ((MeridianException) e).code())
        .isEqualTo(Error.Code.INVALID_ARGUMENT);

    // A lease is routed by the shard in its id, from any router; a list gathers every shard.
    long lease = east.leases().grant(b, Duration.ofSeconds(30)).getId();
    MeridianClient west = client(WEST);
    assertThat(west.leases().timeToLive(lease).getNamespace()).isEqualTo(b);
    long other = west.leases().grant(a, Duration.ofSeconds(30)).getId();
    assertThat(
            Stubs.call(west.stubs().lease()::list, LeaseListRequest.getDefaultInstance(), true)
                .join()
                .getLeasesList())
        .extracting(l -> l.getId())
        .contains(lease, other);
    west.leases().revoke(lease);
    assertThatThrownBy(() -> west.leases().timeToLive(lease))
        .isInstanceOf(MeridianException.class)
        .extracting(e -> ((MeridianException) e).code())
        .isEqualTo(Error.Code.LEASE_NOT_FOUND);
  }

  @Test
  void theClientModuleWorksThroughRoutersUnchanged() throws Exception {
    start(Map.of());
    MeridianClient c = client(EAST, WEST);
    c.kv().put("/jobs/config", ByteString.copyFromUtf8("x"));
    assertThat(c.kv().get("/jobs/config"))
        .get()
        .extracting(kv -> kv.getValue().toStringUtf8())
        .isEqualTo("x");
    long first;
    try (LockHandle h = c.lock("/jobs/locks/report", Duration.ofSeconds(5))) {
      first = h.fencingToken();
      assertThat(h.isValid()).isTrue();
    }
    try (LockHandle h = c.lock("/jobs/locks/report", Duration.ofSeconds(5))) {
      assertThat(h.fencingToken()).isGreaterThan(first);
    }

    // The HTTP watch (JSON lines) works through a router as on a node.
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    java.net.http.HttpResponse<java.util.stream.Stream<String>> watch =
        http.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(federation.router(WEST).url() + "/v1/watch"))
                .POST(
                    java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"key\":\"/jobs/config\",\"startRevision\":\"1\"}"))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofLines());
    assertThat(watch.statusCode()).isEqualTo(200);
    try (java.util.stream.Stream<String> lines = watch.body()) {
      String event = lines.filter(l -> l.contains("\"events\":[{")).findFirst().orElseThrow();
      assertThat(event).contains("/jobs/config").contains("\"watchId\":\"1\"");
    }
  }

  @Test
  void aWatchThroughTheRouterSurvivesItsUpstreamRestartingWithNoGapOrDuplicate() throws Exception {
    start(Map.of());
    MeridianClient c = client(WEST);
    List<Long> revisions = new CopyOnWriteArrayList<>();
    List<String> keys = new CopyOnWriteArrayList<>();
    AtomicInteger errors = new AtomicInteger();
    WatchClient.Watching w =
        c.watches()
            .watch(
                WatchCreateRequest.newBuilder().setKey("/w/").setPrefix(true).build(),
                new WatchClient.Listener() {
                  @Override
                  public void onEvents(List<Event> events, ResponseHeader position) {
                    events.forEach(
                        e -> {
                          revisions.add(e.getKv().getModRevision());
                          keys.add(e.getKv().getKey());
                        });
                  }

                  @Override
                  public void onError(MeridianException error) {
                    errors.incrementAndGet();
                  }
                });
    try {
      // The watch is in place once a write made after it shows up.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                c.kv().put("/w/probe", ByteString.EMPTY);
                return !keys.isEmpty();
              });
      keys.clear();
      revisions.clear();
      for (int i = 0; i < 30; i++) {
        c.kv().put("/w/" + i, ByteString.copyFromUtf8("before"));
      }
      federation.restartRegion(EAST);
      await().atMost(Duration.ofSeconds(30)).until(federation::ready);
      for (int i = 30; i < 60; i++) {
        c.kv().put("/w/" + i, ByteString.copyFromUtf8("after"));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> keys.size() >= 60);
      assertThat(keys.subList(keys.size() - 60, keys.size()))
          .containsExactlyElementsOf(
              java.util.stream.IntStream.range(0, 60).mapToObj(i -> "/w/" + i).toList());
      assertThat(revisions).isSorted().doesNotHaveDuplicates();
      assertThat(errors).hasValue(0);
    } finally {
      w.close();
    }
  }

  @Test
  void theAdminApiReplacesTheTableOnlyWithAHigherValidVersionWhileRequestsFlow() throws Exception {
    start(Map.of());
    RouterServer east = federation.router(EAST);
    WebClient admin = WebClient.of(east.url());
    assertThat(admin.get("/v1/router/table").aggregate().join().contentUtf8())
        .contains("\"version\":\"1\"");

    String v1 = federation.table().text();
    String b = namespaceOn(1, "b");
    String v2 = v1.replace("version: 1", "version: 2") + "pins: {" + b + ": 0}\n";
    AggregatedHttpResponse same = post(admin, v1);
    assertThat(same.status().code()).isEqualTo(400);
    assertThat(same.contentUtf8()).contains("INVALID_ARGUMENT").contains("not higher");
    AggregatedHttpResponse twoPrimaries = post(admin, v2.replace("STANDBY", "PRIMARY"));
    assertThat(twoPrimaries.status().code()).isEqualTo(400);
    assertThat(twoPrimaries.contentUtf8()).contains("2 PRIMARY regions");

    // Writes flow while the table is swapped: every one succeeds, none sees half a table.
    MeridianClient c = client(EAST);
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    Thread load =
        new Thread(
            () -> {
              for (int i = 0; i < 200; i++) {
                try {
                  c.kv().put("/" + b + "/load-" + i, ByteString.EMPTY);
                } catch (RuntimeException e) {
                  failures.add(e);
                }
              }
            });
    load.start();
    AggregatedHttpResponse swapped = post(admin, v2);
    load.join(60_000);
    assertThat(swapped.status().code()).isEqualTo(200);
    assertThat(swapped.contentUtf8()).contains("\"previousVersion\":\"1\"");
    assertThat(failures).isEmpty();
    assertThat(east.table().version()).isEqualTo(2);
    assertThat(east.metrics().get("meridian.router.table.version").gauge().value()).isEqualTo(2.0);
    // The pin moved the namespace to shard 0 for this router.
    assertThat(c.kv().put("/" + b + "/after", ByteString.EMPTY).getHeader().getShard())
        .isEqualTo(0);
    assertThat(RoutingTable.parse(v2).shardOf(b).id()).isEqualTo(0);
  }

  private static AggregatedHttpResponse post(WebClient admin, String table) throws Exception {
    String body = new ObjectMapper().writeValueAsString(Map.of("table", table));
    return admin
        .execute(
            HttpRequest.of(
                RequestHeaders.builder(HttpMethod.POST, "/v1/router/table")
                    .contentType(MediaType.JSON)
                    .build(),
                HttpData.ofUtf8(body)))
        .aggregate()
        .join();
  }
}
