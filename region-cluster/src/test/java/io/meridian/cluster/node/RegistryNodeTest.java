package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.HealthStatus;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.InstanceEvent;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.ListServicesRequest;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.SetHealthRequest;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.WatchServiceRequest;
import io.meridian.api.v1.WatchServiceResponse;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.internal.NodeClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registry served by a real 3-node cluster, over gRPC and HTTP/JSON. */
@Tag("cluster")
class RegistryNodeTest {
  @TempDir static Path shared;
  @TempDir Path dir;

  static DevCluster cluster;
  static Clients leader;
  static Clients follower;
  static String followerUrl;

  static Map<String, Map<String, Object>> config() {
    Map<String, Map<String, Object>> o = TestClusters.fast();
    o.put("lease", new HashMap<>(Map.of("min-ttl-seconds", 1)));
    o.put("watch", new HashMap<>(Map.of("progress-interval-ms", 300)));
    return o;
  }

  @BeforeAll
  static void start() throws IOException {
    cluster = TestClusters.start(shared, config());
    int l = TestClusters.awaitReady(cluster);
    leader = Clients.of(cluster.node(l));
    followerUrl = cluster.node((l + 1) % 3).clientUrl();
    follower = Clients.of(followerUrl);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static RegisterRequest.Builder instance(String ns, String service, String id) {
    return RegisterRequest.newBuilder()
        .setNamespace(ns)
        .setService(service)
        .setInstanceId(id)
        .setAddress("10.0.0." + (Math.abs(id.hashCode()) % 250 + 1))
        .setPort(8080)
        .setTtl(30);
  }

  static DiscoverResponse discover(Clients c, String ns, String service) {
    return c.registry()
        .discover(DiscoverRequest.newBuilder().setNamespace(ns).setService(service).build());
  }

  static List<String> ids(DiscoverResponse r) {
    return r.getInstancesList().stream().map(Instance::getId).toList();
  }

  /** Waits until the follower has applied what the leader answered at {@code revision}. */
  static DiscoverResponse discoverAt(Clients c, String ns, String service, long revision) {
    DiscoverResponse[] out = {null};
    await()
        .until(
            () -> {
              out[0] = discover(c, ns, service);
              return out[0].getHeader().getRevision() >= revision;
            });
    return out[0];
  }

  @Test
  void registerDiscoverWithFiltersZoneFirstOrderAndIdempotentReRegister() {
    RegisterResponse a =
        leader
            .registry()
            .register(
                instance("shop", "cart", "a")
                    .setRegion("us-east")
                    .setZone("z1")
                    .addTags("v1")
                    .build());
    leader
        .registry()
        .register(
            instance("shop", "cart", "b").setRegion("us-east").setZone("z2").addTags("v2").build());
    leader
        .registry()
        .register(
            instance("shop", "cart", "c").setRegion("us-west").setZone("z9").addTags("v1").build());
    long rev =
        leader
            .registry()
            .register(
                instance("shop", "cart", "d")
                    .setRegion("us-east")
                    .setZone("z1")
                    .setHealth(HealthStatus.CRITICAL)
                    .build())
            .getHeader()
            .getRevision();

    DiscoverResponse all = discoverAt(follower, "shop", "cart", rev);
    assertThat(ids(all)).containsExactly("a", "b", "c", "d");
    assertThat(all.getHeader().getMember()).isNotEmpty();
    assertThat(all.getSelfPreservation()).isFalse();

    DiscoverResponse near =
        follower
            .registry()
            .discover(
                DiscoverRequest.newBuilder()
                    .setNamespace("shop")
                    .setService("cart")
                    .setPassingOnly(true)
                    .setNearRegion("us-west")
                    .setNearZone("z9")
                    .build());
    assertThat(ids(near)).containsExactly("c", "a", "b");
    DiscoverResponse tagged =
        follower
            .registry()
            .discover(
                DiscoverRequest.newBuilder()
                    .setNamespace("shop")
                    .setService("cart")
                    .setRegion("us-east")
                    .addTags("v1")
                    .build());
    assertThat(ids(tagged)).containsExactly("a");

    // Same id again: updated in place, same registration revision and lease.
    RegisterResponse again =
        leader
            .registry()
            .register(
                instance("shop", "cart", "a")
                    .setRegion("us-east")
                    .setZone("z1")
                    .setPort(9090)
                    .build());
    assertThat(again.getInstance().getCreateRevision())
        .isEqualTo(a.getInstance().getCreateRevision());
    assertThat(again.getInstance().getLease()).isEqualTo(a.getInstance().getLease());
    assertThat(again.getInstance().getPort()).isEqualTo(9090);

    var services =
        follower
            .registry()
            .listServices(ListServicesRequest.newBuilder().setNamespace("shop").build());
    assertThat(services.getServicesList())
        .anySatisfy(
            s -> {
              assertThat(s.getName()).isEqualTo("cart");
              assertThat(s.getInstances()).isEqualTo(4);
              assertThat(s.getPassing()).isEqualTo(3);
            });
  }

  @Test
  void deregisterRemovesAtOnceAndBadInputGetsClearErrors() {
    leader.registry().register(instance("gone", "api", "x").build());
    long rev =
        leader
            .registry()
            .deregister(
                DeregisterRequest.newBuilder()
                    .setNamespace("gone")
                    .setService("api")
                    .setInstanceId("x")
                    .build())
            .getHeader()
            .getRevision();
    assertThat(discoverAt(follower, "gone", "api", rev).getInstancesList()).isEmpty();

    assertThatThrownBy(
            () -> leader.registry().register(instance("gone", "api", "y").setPort(0).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).contains("port");
            });
    assertThatThrownBy(
            () -> leader.registry().register(instance("gone", "api", "y").setTtl(99999).build()))
        .hasMessageContaining("ttl");
    assertThatThrownBy(() -> leader.registry().register(instance("gone", "bad name", "y").build()))
        .hasMessageContaining("service");
    assertThatThrownBy(
            () ->
                leader
                    .registry()
                    .heartbeat(
                        HeartbeatRequest.newBuilder()
                            .setNamespace("gone")
                            .setService("api")
                            .setInstanceId("x")
                            .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  void aMissedTtlEvictsTheInstanceWhileHeartbeatsKeepAnotherAlive() {
    // 3 s, not 1: a heartbeat every 250 ms must keep "alive" alive on a loaded machine too.
    leader.registry().register(instance("ttl", "api", "alive").setTtl(3).build());
    leader.registry().register(instance("ttl", "api", "silent").setTtl(3).build());
    HeartbeatRequest beat =
        HeartbeatRequest.newBuilder()
            .setNamespace("ttl")
            .setService("api")
            .setInstanceId("alive")
            .build();
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () -> {
              assertThat(follower.registry().heartbeat(beat).getTtl()).isEqualTo(3);
              return ids(discover(leader, "ttl", "api")).equals(List.of("alive"));
            });
  }

  /**
   * Every member gathers the heartbeats it forwards to the leader into batches (the leader batches
   * its own too): a burst through each member gets one answer per heartbeat, its own, and an
   * unknown instance fails alone without failing its batch.
   */
  @Test
  void aBurstOfHeartbeatsThroughEveryMemberGetsOneAnswerEach() throws Exception {
    int instances = 40;
    List<Long> leases = new ArrayList<>();
    for (int i = 0; i < instances; i++) {
      leases.add(
          leader
              .registry()
              .register(instance("burst", "api", "i" + i).setTtl(7).build())
              .getInstance()
              .getLease());
    }
    List<com.google.common.util.concurrent.ListenableFuture<HeartbeatResponse>> known =
        new ArrayList<>();
    List<com.google.common.util.concurrent.ListenableFuture<HeartbeatResponse>> unknown =
        new ArrayList<>();
    for (int m = 0; m < 3; m++) {
      RegistryGrpc.RegistryFutureStub stub =
          GrpcClients.newClient(cluster.node(m).clientUrl(), RegistryGrpc.RegistryFutureStub.class);
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < instances; i++) {
          known.add(stub.heartbeat(beat("burst", "api", "i" + i)));
          if (i % 8 == 0) {
            unknown.add(stub.heartbeat(beat("burst", "api", "gone" + i)));
          }
        }
      }
    }
    for (int i = 0; i < known.size(); i++) {
      HeartbeatResponse r = known.get(i).get(30, TimeUnit.SECONDS);
      assertThat(r.getTtl()).isEqualTo(7);
      assertThat(r.getLease()).isEqualTo(leases.get(i % instances));
    }
    assertThat(leases).doesNotHaveDuplicates();
    for (var f : unknown) {
      assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                assertThat(e.getStatus().getDescription()).contains("not registered");
              });
    }
  }

  private static HeartbeatRequest beat(String ns, String service, String id) {
    return HeartbeatRequest.newBuilder()
        .setNamespace(ns)
        .setService(service)
        .setInstanceId(id)
        .build();
  }

  @Test
  void aBlockingDiscoverReturnsWhenTheServiceChangesOrWhenItsWaitEnds() throws Exception {
    long rev =
        leader.registry().register(instance("block", "api", "a").build()).getHeader().getRevision();
    DiscoverResponse first = discoverAt(follower, "block", "api", rev);
    RegistryGrpc.RegistryBlockingStub slow =
        GrpcClients.builder(followerUrl)
            .responseTimeout(Duration.ofSeconds(60))
            .build(RegistryGrpc.RegistryBlockingStub.class);
    CompletableFuture<DiscoverResponse> waiting =
        CompletableFuture.supplyAsync(
            () ->
                slow.discover(
                    DiscoverRequest.newBuilder()
                        .setNamespace("block")
                        .setService("api")
                        .setWaitRevision(first.getHeader().getRevision())
                        .setWaitMs(30_000)
                        .build()));
    // An unrelated write does not wake it.
    leader.registry().register(instance("block", "other", "z").build());
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(10))
        .until(() -> !waiting.isDone());
    leader.registry().register(instance("block", "api", "b").build());
    DiscoverResponse woke = waiting.get(20, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(ids(woke)).containsExactly("a", "b");

    long started = System.nanoTime();
    DiscoverResponse timedOut =
        slow.discover(
            DiscoverRequest.newBuilder()
                .setNamespace("block")
                .setService("api")
                .setWaitRevision(woke.getHeader().getRevision())
                .setWaitMs(300)
                .build());
    assertThat(Duration.ofNanos(System.nanoTime() - started))
        .isGreaterThanOrEqualTo(Duration.ofMillis(300));
    assertThat(ids(timedOut)).containsExactly("a", "b");
  }

  @Test
  void watchServiceSendsTheInstanceSetThenUpUpdatedAndDown() {
    leader.registry().register(instance("ws", "api", "a").build());
    List<WatchServiceResponse> seen = new CopyOnWriteArrayList<>();
    RegistryGrpc.RegistryStub async =
        GrpcClients.builder(followerUrl)
            .responseTimeout(Duration.ZERO)
            .build(RegistryGrpc.RegistryStub.class);
    AtomicBoolean failed = new AtomicBoolean();
    async.watchService(
        WatchServiceRequest.newBuilder().setNamespace("ws").setService("api").build(),
        new StreamObserver<>() {
          @Override
          public void onNext(WatchServiceResponse value) {
            seen.add(value);
          }

          @Override
          public void onError(Throwable t) {
            failed.set(true);
          }

          @Override
          public void onCompleted() {}
        });
    await().until(() -> seen.stream().anyMatch(WatchServiceResponse::getSnapshot));
    // The snapshot may not hold "a" yet if the follower lags; later events will.
    leader.registry().register(instance("ws", "api", "b").build());
    leader
        .registry()
        .setHealth(
            SetHealthRequest.newBuilder()
                .setNamespace("ws")
                .setService("api")
                .setInstanceId("b")
                .setHealth(HealthStatus.WARNING)
                .setNote("slow")
                .build());
    leader
        .registry()
        .deregister(
            DeregisterRequest.newBuilder()
                .setNamespace("ws")
                .setService("api")
                .setInstanceId("b")
                .build());
    // "a" comes as an UP event instead when the snapshot was served before the follower applied it.
    await()
        .until(
            () ->
                events(seen).stream()
                    .filter(e -> e.endsWith(" b"))
                    .toList()
                    .equals(List.of("UP b", "UPDATED b", "DOWN b")));
    assertThat(failed).isFalse();
    assertThat(seen.get(0).getSnapshot()).isTrue();
    // Each event carries the decoded instance, and the one it replaced or removed.
    List<InstanceEvent> b =
        seen.stream()
            .filter(r -> !r.getSnapshot())
            .flatMap(r -> r.getEventsList().stream())
            .filter(e -> e.getInstance().getId().equals("b"))
            .toList();
    assertThat(b.get(0).getInstance().getAddress())
        .isEqualTo(instance("ws", "api", "b").getAddress());
    assertThat(b.get(0).getInstance().getPort()).isEqualTo(8080);
    assertThat(b.get(0).hasPrevInstance()).isFalse();
    assertThat(b.get(1).getInstance().getHealth()).isEqualTo(HealthStatus.WARNING);
    assertThat(b.get(1).getPrevInstance().getHealth()).isEqualTo(HealthStatus.PASSING);
    assertThat(b.get(2).getPrevInstance().getHealth()).isEqualTo(HealthStatus.WARNING);
    assertThat(b.get(2).getPrevInstance().getAddress())
        .isEqualTo(instance("ws", "api", "b").getAddress());
    assertThat(b).extracting(InstanceEvent::getRevision).isSorted().doesNotHaveDuplicates();
    assertThat(b.get(0).getRevision()).isEqualTo(b.get(0).getInstance().getModRevision());
  }

  @Test
  void theHttpRegistryWatchStreamsInstancesAsJsonObjects() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> bad =
        http.send(
            HttpRequest.newBuilder(URI.create(followerUrl + "/v1/registry/watch"))
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"namespace\":\"hw\",\"service\":\"api\",\"startRevision\":\"-1\"}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("INVALID_ARGUMENT", "start_revision: -1");

    HttpResponse<Stream<String>> watch =
        http.send(
            HttpRequest.newBuilder(URI.create(followerUrl + "/v1/registry/watch"))
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"namespace\":\"hw\",\"service\":\"api\"}"))
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    assertThat(watch.statusCode()).isEqualTo(200);
    assertThat(watch.headers().firstValue("content-type")).hasValue("application/x-ndjson");
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
                          } catch (IOException e) {
                            throw new UncheckedIOException(e);
                          }
                        }));
    reader.setDaemon(true);
    reader.start();
    try {
      await().until(() -> !lines.isEmpty());
      assertThat(lines.get(0).path("snapshot").asBoolean()).isTrue();
      leader.registry().register(instance("hw", "api", "h1").setPort(9090).build());
      leader
          .registry()
          .deregister(
              DeregisterRequest.newBuilder()
                  .setNamespace("hw")
                  .setService("api")
                  .setInstanceId("h1")
                  .build());
      await().until(() -> httpEvents(lines).size() >= 2);
      JsonNode up = httpEvents(lines).get(0);
      assertThat(up.path("type").asText()).isEqualTo("UP");
      assertThat(up.path("instance").path("id").asText()).isEqualTo("h1");
      assertThat(up.path("instance").path("address").asText())
          .isEqualTo(instance("hw", "api", "h1").getAddress());
      assertThat(up.path("instance").path("port").asInt()).isEqualTo(9090);
      assertThat(up.path("instance").path("health").asText()).isEqualTo("PASSING");
      JsonNode down = httpEvents(lines).get(1);
      assertThat(down.path("type").asText()).isEqualTo("DOWN");
      assertThat(down.path("prevInstance").path("id").asText()).isEqualTo("h1");
      assertThat(down.path("prevInstance").path("port").asInt()).isEqualTo(9090);
      assertThat(down.path("revision").asLong()).isGreaterThan(up.path("revision").asLong());
      // Idle, the stream sends progress notifications (every 300 ms here).
      await().until(() -> lines.stream().anyMatch(l -> l.path("progress").asBoolean()));
    } finally {
      watch.body().close();
    }
  }

  /** The instance events of a registry watch's JSON lines, snapshots left out. */
  private static List<JsonNode> httpEvents(List<JsonNode> lines) {
    List<JsonNode> events = new ArrayList<>();
    for (JsonNode l : lines) {
      if (!l.path("snapshot").asBoolean()) {
        l.path("events").forEach(events::add);
      }
    }
    return events;
  }

  private static List<String> events(List<WatchServiceResponse> seen) {
    List<String> out = new ArrayList<>();
    for (WatchServiceResponse r : seen) {
      if (!r.getSnapshot()) {
        r.getEventsList().forEach(e -> out.add(e.getType() + " " + e.getInstance().getId()));
      }
    }
    return out;
  }

  @Test
  void theHttpSurfaceServesTheCurlWalkthrough() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    String reg =
        post(
            http,
            "/v1/registry/register",
            "{\"namespace\":\"web\",\"service\":\"front\",\"instanceId\":\"i1\",\"address\":\"127.0.0.1\",\"port\":8080,\"ttl\":30,\"tags\":[\"v1\"]}");
    assertThat(reg).contains("\"createRevision\"");
    assertThat(
            post(
                http,
                "/v1/registry/heartbeat",
                "{\"namespace\":\"web\",\"service\":\"front\",\"instanceId\":\"i1\"}"))
        .contains("\"ttl\":\"30\"");
    assertThat(
            post(
                http,
                "/v1/registry/health",
                "{\"namespace\":\"web\",\"service\":\"front\",\"instanceId\":\"i1\",\"health\":\"WARNING\",\"note\":\"busy\"}"))
        .contains("WARNING");
    await()
        .until(
            () ->
                post(http, "/v1/registry/discover", "{\"namespace\":\"web\",\"service\":\"front\"}")
                    .contains("\"i1\""));
    HttpResponse<String> services =
        http.send(
            HttpRequest.newBuilder(URI.create(followerUrl + "/v1/registry/services?namespace=web"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(services.statusCode()).isEqualTo(200);
    assertThat(services.body()).contains("\"front\"");
    assertThat(
            post(
                http,
                "/v1/registry/deregister",
                "{\"namespace\":\"web\",\"service\":\"front\",\"instanceId\":\"i1\"}"))
        .contains("\"deregistered\":true");

    HttpResponse<String> bad =
        http.send(
            HttpRequest.newBuilder(URI.create(followerUrl + "/v1/registry/register"))
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"namespace\":\"web\",\"service\":\"front\",\"instanceId\":\"i2\",\"address\":\"not an address\",\"port\":8080}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("INVALID_ARGUMENT").contains("address");
  }

  private static String post(HttpClient http, String path, String body) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(followerUrl + path))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return r.body();
  }

  @Test
  void aLeaderChangeKeepsHeartbeatingInstancesRegistered() throws Exception {
    try (DevCluster c = TestClusters.start(dir, config())) {
      int lead = TestClusters.awaitReady(c);
      Clients first = Clients.of(c.node(lead));
      for (int i = 0; i < 5; i++) {
        first.registry().register(instance("hb", "api", "i" + i).setTtl(4).build());
      }
      List<Clients> all = new ArrayList<>();
      c.nodes().forEach(n -> all.add(Clients.of(n)));
      // Each instance beats every 300 ms, each beat through the next node; a beat that fails
      // (a stopped node, an election) is simply followed by the next one.
      ScheduledExecutorService hearts = Executors.newScheduledThreadPool(5);
      for (int i = 0; i < 5; i++) {
        String id = "i" + i;
        AtomicLong beats = new AtomicLong();
        hearts.scheduleWithFixedDelay(
            () -> {
              try {
                all.get((int) (beats.getAndIncrement() % 3))
                    .registry()
                    .withDeadlineAfter(1, TimeUnit.SECONDS)
                    .heartbeat(
                        HeartbeatRequest.newBuilder()
                            .setNamespace("hb")
                            .setService("api")
                            .setInstanceId(id)
                            .build());
              } catch (StatusRuntimeException e) {
                // Next beat goes to another node.
              }
            },
            0,
            300,
            TimeUnit.MILLISECONDS);
      }
      try {
        c.stop(lead);
        int next = TestClusters.awaitReady(c);
        Clients now = Clients.of(c.node(next));
        // Longer than two TTLs after the change: every instance is still there.
        await()
            .during(Duration.ofSeconds(7))
            .atMost(Duration.ofSeconds(12))
            .until(() -> discover(now, "hb", "api").getInstancesCount() == 5);
      } finally {
        hearts.shutdownNow();
        assertThat(hearts.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
      }
    }
  }

  @Test
  void selfPreservationTurnsOnWhenRenewalsCollapseAndOffWhenTheyRecover() throws Exception {
    AtomicLong now = new AtomicLong(1_700_000_000_000L);
    NodeClock clock = now::get;
    Map<String, Map<String, Object>> o = config();
    // Windows of 2 s on the fake clock; instances promise a beat per second and the test beats
    // every 250 ms, so a window cut in the middle of a round of beats still sees a high ratio.
    o.put("registry", new HashMap<>(Map.of("check-interval-ms", 2000, "min-instances", 10)));
    try (DevCluster c = DevCluster.plan(dir, 3, "test", o).withClock(clock).start()) {
      int lead = TestClusters.awaitReady(c);
      Clients cl = Clients.of(c.node(lead));
      for (int i = 0; i < 10; i++) {
        cl.registry()
            .register(
                instance("sp", "api", "i" + i).setTtl(10).setHeartbeatIntervalMs(1000).build());
      }
      // A lease that holds a lock and an instance is never preserved.
      long lockLease =
          cl.lease()
              .grant(LeaseGrantRequest.newBuilder().setNamespace("sp").setTtl(10).build())
              .getId();
      cl.lock()
          .acquire(
              LockAcquireRequest.newBuilder().setName("/sp/jobs/a").setLease(lockLease).build());
      cl.registry()
          .register(
              instance("sp", "api", "locked")
                  .setLease(lockLease)
                  .setHeartbeatIntervalMs(1000)
                  .build());

      // Healthy: every instance renews four times per promised interval, over several windows.
      for (int s = 0; s < 24; s++) {
        beatAll(cl);
        now.addAndGet(250);
      }
      assertThat(selfPreservation(cl)).isFalse();

      // Heartbeats stop: the next full window has no renewals, and self-preservation turns on
      // before any lease (TTL 10 s) runs out.
      // (The leader checks once a second; a window may still hold the last beats, so time moves
      // on until a window without any closes, well before the leases' 10 s run out.)
      await()
          .pollInterval(Duration.ofSeconds(1))
          .atMost(Duration.ofSeconds(15))
          .until(
              () -> {
                now.addAndGet(700);
                return selfPreservation(cl);
              });
      assertThat(
              cl.cluster().status(StatusRequest.getDefaultInstance()).getShards(0).getAlarmsList())
          .contains("SELF_PRESERVATION");
      assertThat(discover(cl, "sp", "api").getSelfPreservation()).isTrue();
      assertThat(c.node(lead).metrics().get("meridian.registry.self.preservation").gauge().value())
          .isEqualTo(1.0);

      // Far past every TTL: the registry instances stay, the lock's lease expires on time.
      now.addAndGet(60_000);
      await().until(() -> !ids(discover(cl, "sp", "api")).contains("locked"));
      await()
          .during(Duration.ofMillis(800))
          .atMost(Duration.ofSeconds(10))
          .until(() -> discover(cl, "sp", "api").getInstancesCount() == 10);

      // Renewals recover: it turns itself off.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                beatAll(cl);
                now.addAndGet(250);
                return !selfPreservation(cl);
              });
      assertThat(discover(cl, "sp", "api").getInstancesCount()).isEqualTo(10);
    }
  }

  private static void beatAll(Clients c) {
    for (int i = 0; i < 10; i++) {
      c.registry()
          .heartbeat(
              HeartbeatRequest.newBuilder()
                  .setNamespace("sp")
                  .setService("api")
                  .setInstanceId("i" + i)
                  .build());
    }
  }

  private static boolean selfPreservation(Clients c) {
    return c.cluster()
        .status(StatusRequest.getDefaultInstance())
        .getShards(0)
        .getSelfPreservation();
  }
}
