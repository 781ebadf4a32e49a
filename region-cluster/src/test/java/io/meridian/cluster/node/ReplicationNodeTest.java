package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ApplyReplicatedResponse;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeFeedRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseListRequest;
import io.meridian.api.v1.LeaseTimeToLiveRequest;
import io.meridian.api.v1.LockInspectRequest;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.ReportShippedRequest;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.SetRoleResponse;
import io.meridian.api.v1.SourcePosition;
import io.meridian.cluster.DevCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The change feed of a primary cluster applied to a standby cluster over the Replication API. */
@Tag("cluster")
class ReplicationNodeTest {
  @TempDir Path dir;
  private DevCluster east;
  private DevCluster west;

  @BeforeEach
  void start() throws Exception {
    east = start("east", Role.PRIMARY, Map.of());
    west = start("west", Role.STANDBY, Map.of());
  }

  /** A one-member region with {@code storage} settings over the fast test defaults. */
  private DevCluster start(String region, Role role, Map<String, Object> storage) throws Exception {
    Map<String, Map<String, Object>> o = TestClusters.fast();
    o.put("storage", new HashMap<>(storage));
    DevCluster c = DevCluster.plan(dir.resolve(region), 1, region, o, Map.of(0, role)).start();
    TestClusters.awaitReady(c);
    return c;
  }

  @AfterEach
  void stop() {
    if (west != null) {
      west.close();
    }
    if (east != null) {
      east.close();
    }
  }

  private static ReplicationGrpc.ReplicationBlockingStub blocking(DevCluster c) {
    return GrpcClients.builder(c.node(0).clientUrl())
        .responseTimeout(Duration.ofSeconds(30))
        .build(ReplicationGrpc.ReplicationBlockingStub.class);
  }

  /** Batches of an open feed, as they arrive. */
  private static final class Feed implements StreamObserver<ChangeBatch> {
    final List<ChangeBatch> batches = new CopyOnWriteArrayList<>();
    final AtomicReference<Throwable> error = new AtomicReference<>();

    static Feed open(DevCluster c, long after) {
      Feed feed = new Feed();
      GrpcClients.builder(c.node(0).clientUrl())
          .responseTimeout(Duration.ZERO)
          .build(ReplicationGrpc.ReplicationStub.class)
          .changeFeed(
              ChangeFeedRequest.newBuilder()
                  .setAfter(Position.newBuilder().setRevision(after))
                  .build(),
              feed);
      return feed;
    }

    /** Waits until {@code n} batches arrived; fails at once with the feed's error if it ended. */
    void awaitBatches(int n) {
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(error.get()).as("the feed ended").isNull();
                assertThat(batches).hasSize(n);
              });
    }

    @Override
    public void onNext(ChangeBatch batch) {
      batches.add(batch);
    }

    @Override
    public void onError(Throwable t) {
      error.set(t);
    }

    @Override
    public void onCompleted() {}
  }

  @Test
  void aStandbyFollowsThePrimaryThroughTheFeedAndServesWatches() {
    Clients primary = Clients.of(east.node(0));
    primary.put("/app/a", "1");
    primary.put("/app/b", "2");
    Feed feed = Feed.open(east, 0);
    feed.awaitBatches(2);
    primary.put("/app/a", "3"); // Live, after the replay.
    feed.awaitBatches(3);
    assertThat(feed.batches).extracting(ChangeBatch::getRevision).containsExactly(1L, 2L, 3L);

    Watcher watcher = Watcher.open(west.node(0).clientUrl());
    watcher.watchPrefix(1, "/app/", 0);
    // From now: the batches must be applied after the watch exists, or it sees none of them.
    watcher.await(r -> r.getWatchId() == 1 && r.getCreated());
    ApplyReplicatedResponse applied =
        blocking(west)
            .applyReplicated(
                ApplyReplicatedRequest.newBuilder()
                    .addAllBatches(feed.batches)
                    .setSource(SourcePosition.newBuilder().setTopic("t").setOffset(41))
                    .build());
    assertThat(applied.getApplied()).isEqualTo(3);
    assertThat(applied.getHeader().getRole()).isEqualTo(Role.STANDBY);

    Clients standby = Clients.of(west.node(0));
    assertThat(standby.localPrefix("/app/").getKvsList())
        .isEqualTo(primary.prefix("/app/").getKvsList());
    watcher.awaitEvents(1, 3);
    assertThat(watcher.events(1))
        .extracting(e -> e.getKv().getModRevision())
        .containsExactly(1L, 2L, 3L);
    assertThat(watcher.events(1)).allMatch(e -> e.getType() == Event.EventType.PUT);
    var status = blocking(west).replicationStatus(ReplicationStatusRequest.getDefaultInstance());
    assertThat(status.getState().getSource().getOffset()).isEqualTo(41);
    assertThat(status.getState().getChainHash())
        .isEqualTo(
            blocking(east)
                .replicationStatus(ReplicationStatusRequest.getDefaultInstance())
                .getState()
                .getChainHash());

    // The primary refuses batches; the standby refuses client writes.
    assertThatThrownBy(
            () ->
                blocking(east)
                    .applyReplicated(
                        ApplyReplicatedRequest.newBuilder()
                            .addBatches(feed.batches.get(0))
                            .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
              assertThat(e.getMessage()).contains("expected: a STANDBY");
            });
  }

  @Test
  void aFeedFromAPositionBeyondTheRevisionFails() {
    Feed feed = Feed.open(east, 99);
    await().atMost(Duration.ofSeconds(10)).until(() -> feed.error.get() != null);
    assertThat(Status.fromThrowable(feed.error.get()).getCode())
        .isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(feed.error.get().getMessage()).contains("position revision: 99");
  }

  @Test
  void automaticCompactionNeverPassesTheShippedRevision() throws Exception {
    // Only this test compacts: a feed opened from revision 0 elsewhere would race it.
    east.close();
    east =
        start(
            "east-compacting",
            Role.PRIMARY,
            Map.of("compaction-retention-revisions", 1, "compaction-interval-ms", 200));
    Clients primary = Clients.of(east.node(0));
    ShardReplica replica = east.node(0).replicas().get(0);
    primary.put("/app/k", "0");
    blocking(east)
        .reportShipped(
            ReportShippedRequest.newBuilder()
                .setShipped(Position.newBuilder().setEpoch(1).setRevision(1))
                .build());
    for (int i = 1; i < 10; i++) {
      primary.put("/app/k", Integer.toString(i));
    }
    // Retention alone would compact to revision 9; the bridge has shipped only revision 1.
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(10))
        .until(() -> replica.read(s -> s.compactRevision()) <= 1);
    Feed feed = Feed.open(east, 1);
    feed.awaitBatches(9);

    blocking(east)
        .reportShipped(
            ReportShippedRequest.newBuilder()
                .setShipped(Position.newBuilder().setEpoch(1).setRevision(10))
                .build());
    await().atMost(Duration.ofSeconds(10)).until(() -> replica.read(s -> s.compactRevision()) == 9);
  }

  /**
   * A standby holds the primary's leases but must not keep them alive, nor answer linearizable
   * reads of state that is the primary's past. Promoting it needs a new epoch and gives every lease
   * its full TTL; fencing it refuses keep-alives again.
   */
  @Test
  void aStandbyKeepsNoLeaseAliveAndAnswersNoLinearizableReadUntilPromoted() {
    Clients primary = Clients.of(east.node(0));
    long lease =
        primary
            .lease()
            .grant(LeaseGrantRequest.newBuilder().setNamespace("app").setTtl(10).build())
            .getId();
    primary
        .kv()
        .put(
            PutRequest.newBuilder()
                .setKey("/app/session")
                .setValue(ByteString.copyFromUtf8("s"))
                .setLease(lease)
                .build());
    primary
        .registry()
        .register(
            RegisterRequest.newBuilder()
                .setNamespace("app")
                .setService("api")
                .setInstanceId("i1")
                .setAddress("10.0.0.1")
                .setPort(80)
                .setLease(lease)
                .build());
    Feed feed = Feed.open(east, 0);
    feed.awaitBatches(3);
    blocking(west)
        .applyReplicated(ApplyReplicatedRequest.newBuilder().addAllBatches(feed.batches).build());

    Clients standby = Clients.of(west.node(0));
    assertCode(
        () -> standby.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(lease).build()),
        Error.Code.NOT_PRIMARY);
    assertCode(
        () -> standby.lease().timeToLive(LeaseTimeToLiveRequest.newBuilder().setId(lease).build()),
        Error.Code.NOT_PRIMARY);
    assertCode(
        () ->
            standby
                .registry()
                .heartbeat(
                    HeartbeatRequest.newBuilder()
                        .setNamespace("app")
                        .setService("api")
                        .setInstanceId("i1")
                        .build()),
        Error.Code.NOT_PRIMARY);
    assertCode(() -> standby.prefix("/app/"), Error.Code.NOT_PRIMARY);
    assertCode(
        () -> standby.lock().inspect(LockInspectRequest.newBuilder().setName("/app/l").build()),
        Error.Code.NOT_PRIMARY);
    assertCode(
        () -> standby.lease().list(LeaseListRequest.newBuilder().setNamespace("app").build()),
        Error.Code.NOT_PRIMARY);
    // Reads that accept staleness are served, and say where they come from.
    RangeResponse local = standby.localPrefix("/app/");
    assertThat(local.getCount()).isEqualTo(2);
    assertThat(local.getHeader().getRole()).isEqualTo(Role.STANDBY);

    ShardReplica west0 = west.node(0).replicas().get(0);
    // A promotion at the current epoch could hand out tokens a lossy failover already used.
    assertCode(
        () -> standby.cluster().setRole(setRole(Role.PRIMARY, 1)), Error.Code.INVALID_ARGUMENT);
    assertCode(
        () -> standby.cluster().setRole(setRole(Role.ROLE_UNSPECIFIED, 5)),
        Error.Code.INVALID_ARGUMENT);
    Role stillStandby = west0.read(s -> s.role());
    assertThat(stillStandby).isEqualTo(Role.STANDBY);

    SetRoleResponse promoted = standby.cluster().setRole(setRole(Role.PRIMARY, 2));
    assertThat(promoted.getHeader().getRole()).isEqualTo(Role.PRIMARY);
    assertThat(promoted.getHeader().getEpoch()).isEqualTo(2);
    // A retried promotion is acknowledged; an older epoch is fenced.
    standby.cluster().setRole(setRole(Role.PRIMARY, 2));
    assertCode(() -> standby.cluster().setRole(setRole(Role.STANDBY, 1)), Error.Code.FENCED);
    var ttl = standby.lease().timeToLive(LeaseTimeToLiveRequest.newBuilder().setId(lease).build());
    assertThat(ttl.getTtl()).as("extended by its TTL at promotion").isGreaterThanOrEqualTo(9);
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(10))
        .until(() -> west0.read(s -> s.lease(lease).isPresent()));
    standby.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(lease).build());
    assertThat(standby.prefix("/app/").getHeader().getEpoch()).isEqualTo(2);

    standby.cluster().setRole(setRole(Role.FENCED, 3));
    assertCode(
        () -> standby.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(lease).build()),
        Error.Code.FENCED);
    assertCode(() -> standby.prefix("/app/"), Error.Code.FENCED);
  }

  private static SetRoleRequest setRole(Role role, long epoch) {
    return SetRoleRequest.newBuilder().setRole(role).setEpoch(epoch).build();
  }

  private static void assertCode(Runnable call, Error.Code expected) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class, e -> assertThat(Clients.code(e)).isEqualTo(expected));
  }
}
